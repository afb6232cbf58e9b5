"""Scenario validation: wrong files are rejected with one readable line per problem.

Every file in ``tests/bad_scenarios`` is a near-valid scenario with deliberate
problems. Its leading comment lines say what must be reported::

    # expect: <field path>      (one line per problem)
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml
from builders import BAD_FILES, edited, expected_paths

from sim.cli.flags import flag
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from sim.scenario.distributions import Deterministic, Gamma, LogNormal, Triangular
from sim.scenario.units import DAYS_PER_MONTH


def _assert_one_line_each(exc: ScenarioError, source: str) -> None:
    """Every problem is one ``source: field: message`` line, and str() is those lines."""
    lines = exc.lines()
    assert len(lines) == len(exc.problems)
    for line, (field, message) in zip(lines, exc.problems, strict=True):
        assert isinstance(field, str) and isinstance(message, str)
        assert line.startswith(f"{source}: {field}: " if field else f"{source}: ")
        assert "Traceback" not in line
        assert "errors.pydantic.dev" not in line
        assert "\n" not in line
        assert not re.search(r"\{[a-z_][a-z0-9_]*\}", line), line  # every reference to a name is filled in
    assert str(exc).splitlines() == lines
    assert exc.source == source


def test_there_are_enough_bad_scenarios():
    assert len(BAD_FILES) >= 25


def test_every_bad_scenario_has_an_expect_line_first():
    for path in BAD_FILES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# expect: "), path.name
        expects = expected_paths(path)
        assert all(expects), path.name


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_scenario_is_rejected_with_the_expected_problems(path):
    expects = expected_paths(path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    exc = info.value
    fields = [field for field, _ in exc.problems]
    assert Counter(fields) == Counter(expects), exc.problems
    assert len(exc.problems) == len(set(exc.problems)), "a problem is reported once"
    # The message names the file on every line.
    _assert_one_line_each(exc, str(path))


def test_missing_file_gives_one_file_not_found_problem(tmp_path):
    missing = tmp_path / "no_such_scenario.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(missing)
    assert info.value.problems == [("", "file not found")]
    assert info.value.source == str(missing)
    assert str(info.value) == f"{missing}: file not found"


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("horizon_months: 12\nchannels:\n  paid: {spend: [1, 2\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    ((field, message),) = info.value.problems
    assert field == "(YAML)"
    assert "line 4" in message
    _assert_one_line_each(info.value, str(path))


@pytest.mark.parametrize("data", [None, [], ["horizon_months", 12], 12, "horizon_months: 12"])
def test_top_level_must_be_a_mapping(data):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    ((field, message),) = info.value.problems
    assert field == "(top level)"
    assert message.startswith("expected a mapping")
    _assert_one_line_each(info.value, "<scenario>")


def test_parse_scenario_names_its_source():
    with pytest.raises(ScenarioError) as info:
        parse_scenario(edited(horizon_months=0), source="mine.yaml")
    assert [f for f, _ in info.value.problems] == ["horizon_months"]
    _assert_one_line_each(info.value, "mine.yaml")


def test_unknown_key_points_python_to_the_schema_method_and_the_command_line_to_funnel_schema():
    with pytest.raises(ScenarioError) as info:
        parse_scenario(edited(seed=7))
    ((field, _),) = info.value.problems
    assert field == "seed"
    (line,) = info.value.lines()
    assert line.startswith("<scenario>: seed: unknown key")
    assert "see `sim.Scenario.model_json_schema()`" in line
    assert "funnel schema" not in line
    (cli_line,) = info.value.lines(flag)
    assert "see `funnel schema`" in cli_line
    assert "model_json_schema" not in cli_line


def test_a_distribution_without_its_kind_points_to_the_schema_too():
    with pytest.raises(ScenarioError) as info:
        parse_scenario(edited(qualification__work_hours={"mean": 0.5, "cv": 0.5}))
    ((field, _),) = info.value.problems
    assert field == "qualification.work_hours"
    (line,) = info.value.lines()
    assert "`dist:`" in line and "see `sim.Scenario.model_json_schema()`" in line
    assert "see `funnel schema`" in info.value.lines(flag)[0]


# ---------------------------------------------------------------------------------
# What valid input turns into.

FULL_SCENARIO = """
name: base
horizon_months: 12
channels:
  paid:
    spend: [1000, 1200]
    history: [800, 900]
    response: {curve: hill, max_leads: 80, half_spend: 1500, shape: 1.2}
    carryover: 0.3
    lag_months: 1
  events:
    spend: 500
    response: {curve: exponential, max_leads: 20, spend_scale: 3000}
  seo:
    baseline_leads: 20
scoring: {score_noise: 0.1, mql_threshold: 0.3}
nurture: {touch_interval_days: 14, dropout: 0.1}
qualification:
  discipline: lifo
  work_hours: {dist: lognormal, mean: 0.5, cv: 0.8}
  p_qualify: {low: 0.2, high: 0.7}
  decay: {half_life_hours: 4}
opportunities:
  stages:
    - {name: discovery, duration_days: {dist: gamma, mean: 10, cv: 0.5}, advance: 0.6}
    - {name: close, duration_days: 5, advance: {low: 0.3, high: 0.8}}
  deal:
    kind: subscription
    value: {dist: triangular, low: 500, mode: 1000, high: 3000}
roles:
  sdr: {fte: 2, cost_per_fte_year: 80000}
  ae:
    fte: 3
    cost_per_fte_year: 180000
    hires: [{month: 3}, {month: 11, fte: 2}]
    prospecting_share: 0.2
    account_care_share: 0.3
  customer_success: {fte: 1}
customers: {installed_base: 10, installed_mrr: 900, churn_month: 0.02}
budget:
  total: 500000
  marketing_share: 0.4
  channel_mix: {paid: 1, events: 1}
  role_mix: {sdr: 1, ae: 2, customer_success: 0}
"""


def test_minimal_scenario_is_accepted_with_defaults():
    sc = parse_scenario({"horizon_months": 12})
    assert isinstance(sc, Scenario)
    assert sc.horizon_months == 12
    assert sc.horizon_days == pytest.approx(365.25)
    assert sc.channels == {}
    assert sc.budget is None
    assert sc.nurture is None
    assert sc.roles.sdr is None
    assert sc.qualification.discipline == "fifo"


def test_full_scenario_is_accepted():
    sc = parse_scenario(yaml.safe_load(FULL_SCENARIO))
    assert set(sc.channels) == {"paid", "events", "seo"}
    assert sc.channels["events"].spend == [500.0]
    assert sc.channels["paid"].response.curve == "hill"
    assert sc.channels["events"].response.curve == "exponential"
    assert sc.qualification.work_hours == LogNormal(dist="lognormal", mean=0.5, cv=0.8)
    assert isinstance(sc.opportunities.stages[0].duration_days, Gamma)
    assert isinstance(sc.opportunities.deal.value, Triangular)
    assert sc.horizon_days == pytest.approx(12 * DAYS_PER_MONTH)


def test_full_scenario_file_round_trip(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(FULL_SCENARIO, encoding="utf-8")
    assert load_scenario(path) == parse_scenario(yaml.safe_load(FULL_SCENARIO))


@pytest.mark.parametrize("value", [0, 0.75, 3])
def test_plain_number_distribution_is_deterministic(value):
    sc = parse_scenario({"horizon_months": 6, "qualification": {"work_hours": value}})
    dist = sc.qualification.work_hours
    assert isinstance(dist, Deterministic)
    assert dist.value == value
    assert dist.mean == value
    assert dist.variance == 0.0


def test_plain_number_p_qualify_is_flat_in_intent():
    sc = parse_scenario({"horizon_months": 6, "qualification": {"p_qualify": 0.3}})
    curve = sc.qualification.p_qualify
    assert (curve.low, curve.high) == (0.3, 0.3)
    assert curve.at(0.0) == pytest.approx(0.3)
    assert curve.at(1.0) == pytest.approx(0.3)


def test_low_high_p_qualify_is_linear_in_intent():
    sc = parse_scenario({"horizon_months": 6, "qualification": {"p_qualify": {"low": 0.1, "high": 0.6}}})
    curve = sc.qualification.p_qualify
    assert (curve.low, curve.high) == (0.1, 0.6)
    assert curve.at(0.5) == pytest.approx(0.35)
    assert curve.at(0.0) == pytest.approx(0.1)
    assert curve.at(1.0) == pytest.approx(0.6)


@pytest.mark.parametrize("value", [0, 1])
def test_p_qualify_bounds_are_inclusive(value):
    sc = parse_scenario({"horizon_months": 6, "qualification": {"p_qualify": value}})
    assert sc.qualification.p_qualify.low == value
