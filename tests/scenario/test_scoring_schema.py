"""The scoring block (docs/model.md, section 2): its two modes in the schema, the JSON Schema and the command line.

Scoring by activities is written ``scoring: {mode: activities, mql_points, activities}``;
the fields of scoring by intent (``score_noise``, ``mql_threshold``, nurture's
``touch_points``) are refused beside it, and the other way round, one line each.
``mql_points`` is a plain setting: ``replace``, what-if alternatives and sweeps vary it.
"""

from __future__ import annotations

import jsonschema
import pytest
import yaml
from builders import edited
from cli_run import in_process, strict_json
from paths import SCENARIOS

import sim
from sim.decide.what_if import alternatives_of

TEACHING_SCORING = SCENARIOS / "teaching_scoring.yaml"


@pytest.fixture(scope="module")
def teaching():
    return sim.load_scenario(TEACHING_SCORING)


def test_the_teaching_scenario_is_the_marketing_example(teaching):
    s = teaching.scoring
    assert s.by_activities and s.mql_points == 100
    assert {name: a.points for name, a in s.activities.items()} == {
        "whitepaper_download": 20, "webinar": 30, "pricing_page_visit": 40}
    assert len(TEACHING_SCORING.read_text().splitlines()) <= 50  # fits on one screen, as teaching_minimal


def test_replace_keeps_an_activity_scenario_and_varies_its_threshold(teaching):
    # replace writes back every field, those of the other mode at their defaults: they are not refused.
    assert teaching.replace({}) == teaching
    higher = teaching.replace({"scoring.mql_points": 130})
    assert higher.scoring.mql_points == 130 and higher.scoring.activities == teaching.scoring.activities
    assert teaching.replace({"scoring.activities.webinar.points": 45}).scoring.activities["webinar"].points == 45
    alts = alternatives_of(teaching, {"scoring.mql_points": [80, 120]})
    assert [a.scenario.scoring.mql_points for a in alts] == [100, 80, 120]
    assert [a.label for a in alts][1:] == ["mql_points=80", "mql_points=120"]


def test_a_sweep_varies_the_threshold(teaching):
    short = teaching.replace(horizon_months=2)
    comparison = sim.sweep(short, {"scoring.mql_points": [60, 140]}, reps=2)
    runs = comparison.replications
    mqls = {label: runs.loc[runs["alternative"] == label, "mqls"].to_numpy()
            for label in ("mql_points=60", "today", "mql_points=140")}
    # Replication by replication the same leads with the same draws (common random numbers): a lower
    # threshold makes an MQL of every lead a higher one does, and no later.
    assert (mqls["mql_points=60"] >= mqls["today"]).all() and (mqls["today"] >= mqls["mql_points=140"]).all()
    assert (mqls["mql_points=60"] > mqls["mql_points=140"]).all()


@pytest.mark.parametrize(("changes", "field"), [
    ({"scoring.mql_threshold": 0.3}, "scoring.mql_threshold"),
    ({"scoring.score_noise": 0.1}, "scoring.score_noise"),
    ({"nurture.touch_points": 0.2}, "nurture.touch_points"),
    ({"scoring.mql_points": None}, "scoring.mql_points"),
    ({"scoring.activities": {}}, "scoring.activities"),
    ({"scoring.mql_points": -1}, "scoring.mql_points"),
])
def test_a_contradiction_is_one_line_naming_the_field(teaching, changes, field):
    with pytest.raises(sim.ScenarioError) as info:
        teaching.replace(changes)
    assert [f for f, _ in info.value.problems] == [field]
    assert len(str(info.value).splitlines()) == 1


def test_back_to_scoring_by_intent_the_activities_are_refused_until_removed(teaching):
    with pytest.raises(sim.ScenarioError) as info:
        teaching.replace({"scoring.mode": "intent"})
    assert sorted(f for f, _ in info.value.problems) == ["scoring.activities", "scoring.mql_points"]
    by_intent = teaching.replace({"scoring": {"mode": "intent", "mql_threshold": 0.3}})
    assert not by_intent.scoring.by_activities and by_intent.scoring.mql_points is None


def test_the_intent_mode_is_the_default_and_unchanged():
    sc = sim.parse_scenario(edited())
    assert sc.scoring.mode == "intent" and not sc.scoring.by_activities
    assert sc.scoring.mql_points is None and sc.scoring.activities == {}


@pytest.fixture(scope="module")
def json_schema():
    schema = sim.Scenario.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_json_schema_has_the_scoring_block(json_schema):
    defs = json_schema.schema["$defs"]
    scoring = defs["Scoring"]["properties"]
    assert scoring["mode"]["enum"] == ["intent", "activities"]
    assert {"mql_points", "activities", "score_noise", "mql_threshold"} <= set(scoring)
    assert set(defs["Activity"]["properties"]) == {"points", "chance"}
    assert set(defs["Activity"]["required"]) == {"points", "chance"}
    json_schema.validate(yaml.safe_load(TEACHING_SCORING.read_text()))


def test_the_json_schema_rejects_a_wrong_activity_where_the_loader_does(json_schema):
    data = yaml.safe_load(TEACHING_SCORING.read_text())
    data["scoring"]["activities"]["webinar"]["chance"] = {"low": 0.1, "high": 1.5}
    data["scoring"]["activities"]["pricing_page_visit"]["colour"] = "red"
    paths = {tuple(e.absolute_path)[:3] for e in json_schema.iter_errors(data)}
    assert paths == {("scoring", "activities", "webinar"), ("scoring", "activities", "pricing_page_visit")}
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(data)
    assert sorted(f for f, _ in info.value.problems) == ["scoring.activities.pricing_page_visit.colour",
                                                         "scoring.activities.webinar.chance.high"]


def test_funnel_schema_prints_the_activities():
    code, out, err = in_process("schema")
    assert code == 0, err
    defs = strict_json(out)["$defs"]
    assert "activities" in defs["Scoring"]["properties"] and "Activity" in defs


def test_funnel_run_fast_on_the_teaching_scenario(tmp_path):
    code, out, err = in_process("run", TEACHING_SCORING, "--fast", "--json")
    assert code == 0, err
    measures = strict_json(out)
    assert 0 < measures["mqls"] < measures["leads"]
    # 20 + 30 + 40 is 90: no lead is an MQL on arrival, every MQL came through nurture.
    assert measures["mqls_from_nurture"] == pytest.approx(measures["mqls"], rel=1e-12)


def test_funnel_run_fast_refuses_activities_it_cannot_follow_in_one_line(tmp_path):
    data = yaml.safe_load(TEACHING_SCORING.read_text())
    data["scoring"]["mql_points"] = 1000
    data["scoring"]["activities"] = {f"a{k}": {"points": 1 + (k + 2) ** 0.5 % 1, "chance": 0.5} for k in range(16)}
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = in_process("run", path, "--fast")
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert "scoring.activities: the fast approximation follows at most 20,000" in line and "Traceback" not in err
