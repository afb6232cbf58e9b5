"""The Monte Carlo layer's errors name Python parameters (``reps``, ``out``, ``scheduler``), never a flag."""

import sys

import pytest
from builders import make

import sim
from sim.errors import FunnelError
from sim.montecarlo.backends import BackendError, make_backend
from sim.montecarlo.experiment import ExperimentError, check_settings
from sim.montecarlo.store import ExperimentStore, StoreError


@pytest.fixture(scope="module")
def sc():
    return make(horizon_months=2)


def check_words(exc: FunnelError) -> None:
    """Python names only: every line is ``parameter: message``, and no flag appears anywhere."""
    assert "--" not in str(exc), str(exc)
    lines = exc.lines()
    assert len(lines) == len(exc.problems) >= 1
    assert all(line.startswith(f"{p}: ") for line, (p, _) in zip(lines, exc.problems, strict=True))
    assert str(exc) == "; ".join(lines)


def test_every_setting_that_cannot_work_is_reported_at_once(sc):
    problems = check_settings(reps=0, workers=0, backend="spark", scheduler="tcp://x:1", precision=-1.0,
                              precision_batch=1, chunk_size=0, trace=-1)
    assert [p for p, _ in problems] == ["reps", "trace", "precision_batch", "chunk_size", "backend", "workers",
                                        "scheduler", "precision", "metric"]
    with pytest.raises(ExperimentError) as info:
        sim.run_many(sc, reps=0, workers=0, backend="spark", scheduler="tcp://x:1", precision=-1.0,
                     precision_batch=1, chunk_size=0, trace=-1, seed=-2)
    assert info.value.problems == [*problems, info.value.problems[-1]] and info.value.problems[-1][0] == "seed"
    check_words(info.value)
    # A message naming another parameter names it as Python does.
    assert "metric: is needed with precision: the measure to watch" in str(info.value)
    assert "scheduler: only the dask backend has a scheduler (add backend dask)" in str(info.value)
    assert check_settings() == []


def test_store_errors_name_out(sc, tmp_path):
    out = tmp_path / "exp"
    sim.run_many(sc, reps=2, seed=1, out=out)
    stranger = tmp_path / "notes"
    stranger.mkdir()
    (stranger / "todo.txt").write_text("mine")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [(lambda: sim.run_many(sc, reps=2, seed=2, out=out),
              "it was run with seed 1, not 2; use a new out directory"),
             (lambda: sim.run_many(sc.replace(horizon_months=3), reps=2, seed=1, out=out), "different scenario"),
             (lambda: sim.run_many(sc, reps=2, seed=1, out=stranger), "not an experiment directory"),
             (lambda: sim.run_many(sc, reps=2, seed=1, out=a_file), "exists and is not a directory")]
    for call, message in cases:
        with pytest.raises(StoreError) as info:
            call()
        assert info.value.parameter == "out" and message in str(info.value), str(info.value)
        check_words(info.value)
    with ExperimentStore(out, sc, 1), pytest.raises(StoreError) as info:
        sim.run_many(sc, reps=2, seed=1, out=out)
    assert "another run is writing to this directory; wait for it or use another out" in str(info.value)
    check_words(info.value)


def test_backend_errors_name_the_parameter(sc, monkeypatch):
    cases = [(lambda: make_backend("local", 1, "tcp://127.0.0.1:8786"), "scheduler",
              "only the dask backend has a scheduler (add backend dask)"),
             (lambda: make_backend("spark", 1), "backend", "expected one of local, dask, got 'spark'"),
             (lambda: make_backend("local", 0), "workers", "expected an integer of at least 1, got 0"),
             # compare and optimize run through the backend directly
             (lambda: sim.compare({"a": sc, "b": sc.replace(name="b")}, reps=2, scheduler="tcp://127.0.0.1:8786"),
              "scheduler", "only the dask backend has a scheduler (add backend dask)"),
             (lambda: sim.run_many(sc, reps=2, backend="dask", scheduler="nonsense"), "scheduler",
              "nonsense: cannot connect (expected an address such as tcp://host:8786)")]
    for call, parameter, message in cases:
        with pytest.raises(BackendError) as info:
            call()
        assert info.value.parameter == parameter and message in str(info.value), str(info.value)
        check_words(info.value)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(BackendError) as info:
        make_backend("dask", 2)
    assert info.value.parameter == "backend" and 'pip install "funnel-sim[cluster]"' in str(info.value)
    check_words(info.value)


def test_a_metric_that_is_not_a_measure_is_named_with_the_closest_ones(sc):
    with pytest.raises(ExperimentError) as info:
        sim.run_many(sc, reps=4, precision=0.1, metric="winz", precision_batch=2)
    assert info.value.parameter == "metric" and "'winz' is not a measure; did you mean wins" in str(info.value)
    check_words(info.value)
