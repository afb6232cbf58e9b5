"""Uncertain parameters (docs/model.md, Uncertain parameters): reading draws, checking them, one draw per replication.

Checked against what the draws are: each row is picked with chance 1/n (chi-square over
many replication seeds), lists of one length are joint, a draw equal for every row is
the certain scenario bit for bit, and two alternatives see the same draw in the same
replication (common random numbers), so a change that leaves the funnel alone changes
no SQL count.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from cli_run import in_process
from paths import SCENARIOS
from scipy import stats

import sim
from sim.model.streams import Streams
from sim.scenario.uncertain import drawn

BASE = yaml.safe_load((SCENARIOS / "teaching_minimal.yaml").read_text(encoding="utf-8"))


def _with(**changes):
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def _problems(data):
    with pytest.raises(sim.ScenarioError) as caught:
        sim.Scenario.model_validate(data)
    return caught.value.problems


def test_draws_in_place_are_lifted_and_the_point_is_their_mean():
    sc = sim.Scenario.model_validate(_with(qualification__p_qualify={"draws": [0.2, 0.4, 0.6, 0.8]}))
    assert sc.uncertain == {"qualification.p_qualify": [0.2, 0.4, 0.6, 0.8]}
    assert sc.qualification.p_qualify.low == sc.qualification.p_qualify.high == pytest.approx(0.5)
    again = sc.replace(horizon_months=sc.horizon_months)
    assert again.uncertain == sc.uncertain
    certain = sim.Scenario.model_validate(BASE)
    assert "uncertain" not in certain.model_dump()  # a certain scenario dumps (and fingerprints) as before


@pytest.mark.parametrize(("data", "field", "words"), [
    (_with(qualification__p_qualify={"draws": [0.2, 1.4]}), "uncertain.qualification.p_qualify", "1.4"),
    (_with(qualification__p_qualify={"draws": [0.2]}), "qualification.p_qualify.draws", "at least two"),
    (_with(qualification__p_qualify={"draws": [0.2, "x"]}), "qualification.p_qualify.draws", "finite"),
    (_with(uncertain={"roles.ae.fte": [1.0, 2.0]}), "uncertain.roles.ae.fte", "whole number"),
    (_with(uncertain={"nope.at_all": [1.0, 2.0]}), "uncertain.nope.at_all", "names no setting"),
    (_with(uncertain={"qualification": [0.1, 0.2]}), "uncertain.qualification", "block"),
    (_with(uncertain={"qualification.p_qualify.low": [0.1, float("nan")]}), "uncertain.qualification.p_qualify.low[1]",
     "finite"),
])
def test_each_bad_draw_is_one_line_naming_its_field(data, field, words):
    problems = _problems(data)
    assert len(problems) == 1, problems
    assert problems[0][0] == field and words in problems[0][1], problems


def test_a_path_written_twice_is_refused():
    data = _with(qualification__p_qualify={"draws": [0.2, 0.4]}, uncertain={"qualification.p_qualify": [0.1, 0.3]})
    assert any("give it once" in message for _, message in _problems(data))


def test_each_row_is_drawn_with_chance_one_in_n_and_equal_lengths_are_joint():
    rows = [0.1, 0.2, 0.3, 0.4, 0.5]
    sc = sim.Scenario.model_validate(_with(uncertain={"qualification.p_qualify.low": rows,
                                                      "qualification.p_qualify.high": [r + 0.4 for r in rows]}))
    picked = []
    for seed in range(1000):
        one = drawn(sc, Streams(sim.replication_seed(7, seed))("parameters"))
        k = rows.index(round(one.qualification.p_qualify.low, 10))
        assert one.qualification.p_qualify.high == pytest.approx(rows[k] + 0.4)  # the same row of both lists
        assert one.uncertain == {}
        picked.append(k)
    counts = np.bincount(picked, minlength=len(rows))
    assert stats.chisquare(counts).pvalue > 1e-3, counts


def test_equal_draws_are_the_certain_scenario_bit_for_bit():
    sure = sim.Scenario.model_validate(_with(qualification__work_hours=1.5))
    unsure = sim.Scenario.model_validate(_with(qualification__work_hours={"draws": [1.5, 1.5, 1.5]}))
    for seed in range(3):
        assert sim.simulate(unsure, seed=seed).metrics == sim.simulate(sure, seed=seed).metrics


def test_draws_change_the_runs_and_every_replication_is_one_row():
    rows = [0.05, 0.95]
    unsure = sim.Scenario.model_validate(_with(qualification__p_qualify={"draws": rows}))
    by_row = {p: sim.Scenario.model_validate(_with(qualification__p_qualify=p)) for p in rows}
    for seed in range(4):
        got = sim.simulate(unsure, seed=seed, lead_records=False).metrics
        p = drawn(unsure, Streams(seed)("parameters")).qualification.p_qualify.low
        assert got == sim.simulate(by_row[p], seed=seed, lead_records=False).metrics


def test_alternatives_see_the_same_draw_in_the_same_replication():
    # A lead price changes costs only: with common random numbers every replication's SQLs are the same in both.
    data = _with(qualification__p_qualify={"draws": [0.1, 0.3, 0.5, 0.7, 0.9]})
    other = copy.deepcopy(data)
    for channel in other["channels"].values():
        channel["cost_per_lead"] = channel.get("cost_per_lead", 0) + 5.0
    a, b = sim.Scenario.model_validate(data), sim.Scenario.model_validate(other)
    result = sim.compare([sim.Alternative("a", a), sim.Alternative("b", b)], reps=12, seed=3)
    table = result.replications.pivot(index="replication", columns="alternative", values="sqls")
    assert table["a"].nunique() > 1  # the draws do vary the SQLs ...
    assert (table["a"] == table["b"]).all()  # ... and the same replication drew the same row in both


def test_a_setting_given_a_new_value_is_certain_at_it():
    # The draws of a setting changed by replace (compare --set, sweeps, known inputs) must not override the change.
    data = _with(qualification__p_qualify={"draws": [0.1, 0.3]}, qualification__work_hours={"draws": [1.0, 2.0]})
    unsure = sim.Scenario.model_validate(data)
    changed = unsure.replace({"qualification.p_qualify": 0.9})
    assert changed.qualification.p_qualify.low == 0.9
    assert set(changed.uncertain) == {"qualification.work_hours"}  # the other draws are kept
    written = sim.Scenario.model_validate(_with(qualification__p_qualify=0.9,
                                                qualification__work_hours={"draws": [1.0, 2.0]}))
    for seed in range(3):
        assert sim.simulate(changed, seed=seed, lead_records=False).metrics == \
            sim.simulate(written, seed=seed, lead_records=False).metrics
    # A block replaced whole drops the draws inside it; new draws are lifted again.
    assert sim.Scenario.model_validate(data).replace(qualification=written.qualification).uncertain == {}
    again = unsure.replace({"qualification.p_qualify": {"draws": [0.6, 0.8]}})
    assert again.uncertain["qualification.p_qualify"] == [0.6, 0.8]
    assert again.qualification.p_qualify.low == pytest.approx(0.7)


def test_a_distribution_over_a_number_is_its_quantiles_and_two_of_them_are_independent():
    data = _with(qualification__p_qualify={"uncertain": {"dist": "beta", "a": 30, "b": 70}},
                 qualification__work_hours={"uncertain": {"dist": "lognormal", "mean": 1.5, "cv": 0.2}})
    sc = sim.Scenario.model_validate(data)
    p = np.array(sc.uncertain["qualification.p_qualify"])
    assert len(p) == 1000 and sc.qualification.p_qualify.low == pytest.approx(0.3, abs=1e-4)  # the Beta's mean
    assert p.var() == pytest.approx(stats.beta(30, 70).var(), rel=0.01)
    # Each replication's draw follows the distribution (KS over replication seeds), and the two settings'
    # draws are not joint (given in the same length, they would be if their quantiles were in one order).
    seeds = range(300)
    picked = [drawn(sc, Streams(seed)("parameters")) for seed in seeds]
    q = np.array([s.qualification.p_qualify.low for s in picked])
    hours = np.array([s.qualification.work_hours.mean for s in picked])
    assert stats.kstest(q, stats.beta(30, 70).cdf).pvalue > 1e-3
    assert abs(np.corrcoef(q, hours)[0, 1]) < 4 / np.sqrt(len(q))
    assert _problems(_with(qualification__p_qualify={"uncertain": {"dist": "beta", "a": -1, "b": 2}})) == [
        ("qualification.p_qualify.uncertain", "a: Input should be greater than 0")]
    assert _problems(_with(qualification__p_qualify={"uncertain": 0.3}))[0][0] == "qualification.p_qualify.uncertain"


def test_a_draws_file_is_read_beside_the_scenario_with_its_rows_joint(tmp_path, monkeypatch):
    rows = np.random.default_rng(5).uniform(0.1, 0.4, 50)
    (tmp_path / "posterior.csv").write_text(
        "qualification.p_qualify.low,qualification.p_qualify.high\n"
        + "".join(f"{float(x)!r},{float(2 * x)!r}\n" for x in rows), encoding="utf-8")
    data = _with(draws_file="posterior.csv")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)  # the file is found beside the scenario, not in the working folder
    sc = sim.load_scenario(tmp_path / "s.yaml")
    assert sc.uncertain["qualification.p_qualify.low"] == list(rows)
    for seed in range(20):  # one row of both columns in each replication: high is twice low
        curve = drawn(sc, Streams(seed)("parameters")).qualification.p_qualify
        assert curve.high == 2 * curve.low and curve.low in set(rows)
    (tmp_path / "bad.csv").write_text("qualification.p_qualify.low\n0.2\nx\n0.3,0.4\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(_with(draws_file="bad.csv")), encoding="utf-8")
    with pytest.raises(sim.ScenarioError) as caught:
        sim.load_scenario(tmp_path / "b.yaml")
    assert caught.value.problems == [
        ("draws_file", f"{tmp_path / 'bad.csv'}:3:qualification.p_qualify.low: expected a finite number, got 'x'"),
        ("draws_file", f"{tmp_path / 'bad.csv'}:4: expected 1 values, got 2")]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(_with(draws_file="nosuch.csv")), encoding="utf-8")
    code, out, err = in_process("validate", tmp_path / "m.yaml")
    assert code == 2 and "Traceback" not in err
    assert f"draws_file: {tmp_path / 'nosuch.csv'}: no such file (a path relative to the scenario file)" in err
