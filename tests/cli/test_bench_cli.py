"""``funnel bench``: speed ratios, and with ``--scale K`` one replication K times the size in a fresh process.

Run in this process (the bench starts its own worker processes and, with ``--scale``,
its own fresh process). The leads ``--scale K`` prints are checked against K times the
leads of one unscaled replication and against the expected count worked out from the
scenario file by hand, with Poisson tolerances; the peak memory is asked for while this
process holds a gibibyte more, which a fresh process's peak must not include.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest
import yaml
from cli_run import assert_one_line_per_option, in_process
from paths import TEACHING

import sim.model.benchmark
from sim import load_scenario, simulate

SCALE = 3


def _figures(out: str) -> dict[str, float]:
    """``name: number`` lines (the first line names the scenario) as numbers."""
    lines = out.splitlines()
    assert lines, out
    found = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        assert sep, line
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", value)
        assert len(numbers) == 1, line
        found[name.strip()] = float(numbers[0].replace(",", ""))
    return found


def _expected_leads(path: Path, factor: float) -> float:
    """Expected leads over the horizon, from the scenario file by hand: a Hill curve per channel, scaled."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    total = 0.0
    for channel in data["channels"].values():
        response = channel["response"]
        assert response["curve"] == "hill" and "shape" not in response  # what this formula covers
        assert not channel.get("baseline_leads") and not isinstance(channel["spend"], list)
        spend, half = channel["spend"] * factor, response["half_spend"] * factor
        total += response["max_leads"] * factor * spend / (spend + half) * data["horizon_months"]
    return total


BALLAST_MB = 1024


@pytest.fixture(scope="module")
def scaled_run():
    # This process holds BALLAST_MB more while it asks: the fresh process's peak must not include it.
    ballast = b"\x01" * (BALLAST_MB * 2**20)
    start = time.perf_counter()
    code, out, err = in_process("bench", "--scale", SCALE, "--scenario", TEACHING)
    wall = time.perf_counter() - start
    del ballast
    assert code == 0, err
    assert err == "" and "Traceback" not in out
    return _figures(out), out, wall


def test_scale_prints_leads_seconds_and_peak_memory(scaled_run):
    figures, out, wall = scaled_run
    assert out.splitlines()[0].startswith(f"scenario: {TEACHING} scaled {SCALE} times")
    assert set(figures) == {"leads", "seconds", "peak memory (MB)"}
    assert figures["leads"] == int(figures["leads"]) > 0
    assert 0 <= figures["seconds"] <= wall  # the replication's own time, inside the command's


def test_scaled_leads_are_about_k_times_one_replication(scaled_run):
    figures, _, _ = scaled_run
    leads = figures["leads"]
    one = simulate(load_scenario(TEACHING), seed=1, lead_records=False).metrics["leads"]
    # Leads are Poisson: the scaled count has variance K mu, K times one replication K^2 mu (mu ~ one).
    assert abs(leads - SCALE * one) <= 5 * math.sqrt(SCALE * one + SCALE**2 * one), (leads, one)
    expected = _expected_leads(TEACHING, SCALE)
    assert expected == pytest.approx(SCALE * 1200)  # 200 * 5000 / (5000 + 5000) a month, 12 months
    assert abs(leads - expected) <= 5 * math.sqrt(expected), (leads, expected)
    # Not the unscaled scenario's count by mistake (1,200 expected; 5 sd away at K = 3).
    assert abs(leads - _expected_leads(TEACHING, 1)) > 5 * math.sqrt(expected)


def test_scaled_peak_memory_is_a_positive_number_of_megabytes(scaled_run):
    figures, _, _ = scaled_run
    peak = figures["peak memory (MB)"]
    assert peak > 10  # an interpreter with numpy, the model and a replication: more than an empty process
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
    assert peak < int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1)) / 2**10
    # The fresh process's own: not the memory of the process that ran the command, which held BALLAST_MB
    # more (teaching_minimal three times over peaks at about 135 MB, the imports mostly).
    assert peak < BALLAST_MB, peak


@pytest.mark.parametrize("value", ["0", "-1", "-0.5"])
def test_scale_zero_or_negative_is_a_one_line_error(value, monkeypatch):
    started = []
    monkeypatch.setattr(sim.model.benchmark, "scaled_replication", lambda *a, **k: started.append(a))
    code, out, err = in_process("bench", "--scale", value, "--scenario", TEACHING)
    (line,) = assert_one_line_per_option(code, out, err, ["--scale"])
    assert line == f"--scale: expected a positive number, got {float(value)}"
    assert started == []  # refused before a process was started


def test_scale_that_is_not_a_number_is_argparses_one_line():
    code, out, err = in_process("bench", "--scale", "big")
    (line,) = assert_one_line_per_option(code, out, err, ["--scale"])
    assert line.startswith("funnel bench: error: argument --scale: expected a number")


def test_bench_prints_positive_ratios():
    code, out, err = in_process("bench", "--replications", "1", "--customers", "2000", "--parallel-reps", "2",
                                "--scenario", TEACHING)
    assert code == 0, err
    assert "Traceback" not in err
    number = _figures(out)
    assert set(number) == {"funnel leads per second", "bare SimPy M/M/c customers per s",
                           "ratio (leads / bare customers)", "replications per s, 1 worker",
                           "replications per s, 2 workers", "ratio (2 workers / 1)", "first start of worker processes"}
    assert all(v > 0 for v in number.values()), number
    one, two = number["replications per s, 1 worker"], number["replications per s, 2 workers"]
    assert number["ratio (2 workers / 1)"] == pytest.approx(two / one, abs=0.02)  # from 2-decimal prints
    leads, bare = number["funnel leads per second"], number["bare SimPy M/M/c customers per s"]
    assert number["ratio (leads / bare customers)"] == pytest.approx(leads / bare, rel=1e-3, abs=0.01)


# -- funnel bench --optimize ----------------------------------------------------------------------------------------


def test_optimize_bench_options_are_checked_before_anything_runs():
    code, out, err = in_process("bench", "--scenario", TEACHING, "--check-reps", 1, "--scale", 2, "--optimize")
    assert_one_line_per_option(code, out, err, ["--optimize", "--check-reps"])
    code, out, err = in_process("bench", "--scenario", TEACHING, "--check-reps", 5)
    assert_one_line_per_option(code, out, err, ["--check-reps"])


def test_the_grid_around_an_answer_is_its_neighbours_one_and_two_fte_away_and_channel_moves():
    from sim.decide.benchmark import grid_around
    from sim.decide.search_space import search_space

    sc = load_scenario(TEACHING)
    space = search_space(sc)
    allocation = {"total": space.total, "fte.ae": 2, **{f"channel_share.{c}": 1.0 for c in space.free_channels}}
    alternatives = grid_around(sc, allocation)
    assert alternatives[0].label == "answer" and alternatives[0].settings["fte.ae"] == 2
    teams = sorted(a.settings["fte.ae"] for a in alternatives[1:])
    lo, hi = space.fte_bounds["ae"]
    assert teams == [n for n in (0, 1, 3, 4) if lo <= n <= hi]  # 1 and 2 FTE either side, within the bounds
    for a in alternatives:  # every split of the grid spends the budget it was given
        account = a.scenario.plan.budget
        assert account.marketing + account.sales + account.unspent == pytest.approx(space.total, rel=1e-12)
