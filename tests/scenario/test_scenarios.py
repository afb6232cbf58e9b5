"""Every shipped scenario validates and runs, and the reference looks like what it says."""

import functools

import pytest
from paths import DATA, REFERENCE, SCENARIOS, TEACHING

import sim

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_the_five_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"b2b_saas_inbound", "enterprise_outbound", "small_services_firm", "marketplace_sellers",
            "teaching_minimal"} <= names


@functools.cache
def _run(path):
    """One replication of a shipped scenario (seed 1), shared by the tests that read it."""
    sc = sim.load_scenario(path)
    return sc, sim.simulate(sc, seed=1, lead_records=False)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_runs(path):
    sc, r = _run(path)
    acc = r.metrics["lead_accounting"]
    assert acc["arrived"] == sum(v for k, v in acc.items() if k != "arrived")
    assert r.metrics["leads"] > 0 and r.metrics["wins"] > 0
    assert len(r.monthly) == sc.horizon_months
    text = path.read_text()
    assert text.lstrip().startswith("#"), "each scenario starts with a comment saying what it is"


def test_teaching_scenario_fits_on_one_screen():
    assert len(TEACHING.read_text().splitlines()) <= 50


def test_reference_scenario_has_about_two_thousand_leads_a_month():
    sc, r = _run(REFERENCE)
    per_month = r.metrics["leads"] / sc.horizon_months
    assert 1500 <= per_month <= 2500


@pytest.fixture(scope="module")
def json_schema():
    import jsonschema

    schema = sim.Scenario.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)  # a schema editors can use at all
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_passes_the_published_json_schema(path, json_schema):
    # Editors check files against `funnel schema`: it must accept what the loader accepts
    # (plain numbers for distributions, probabilities and spend included).
    import datetime
    import json

    import yaml

    # An editor reads `start_date: 2025-01-01` as the text it is (YAML 1.2); PyYAML (1.1) makes
    # it a date, which the JSON schema sees as the ISO string it was written as.
    data = json.loads(json.dumps(yaml.safe_load(path.read_text()),
                                 default=lambda v: v.isoformat() if isinstance(v, datetime.date) else v))
    json_schema.validate(data)


def test_json_schema_rejects_what_the_loader_rejects_field_by_field(json_schema):
    import yaml

    broken = yaml.safe_load((DATA / "broken.yaml").read_text())
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(broken)
    errors = list(json_schema.iter_errors(broken))
    paths = sorted(".".join(str(p) for p in e.absolute_path) for e in errors)
    assert paths == ["channels.paid_search.carryover", "qualification"]  # the typo is reported on its parent
    # The loader names the typo itself, and also what only the cross-field checks know (no role "sdrs").
    assert sorted(f for f, _ in info.value.problems) == ["budget.role_mix.sdrs", "channels.paid_search.carryover",
                                                         "qualification.disciplne"]


def test_json_schema_takes_given_leads_and_a_start_date_as_the_loader_does(json_schema):
    # A file as JSON gives the date as a string; the loader reads that, and a YAML date, alike.
    data = {"horizon_months": 6, "start_date": "2025-01-01",
            "channels": {"events": {"leads": [40, 60], "spend": 500}, "fairs": {"leads": 12.5}}}
    json_schema.validate(data)
    sc = sim.parse_scenario(data)
    assert sc.channels["fairs"].leads == [12.5] and str(sc.start_date) == "2025-01-01"
    for wrong in ({"start_date": 20250101}, {"channels": {"events": {"leads": -1}}},
                  {"channels": {"events": {"leads": "many"}}}):
        assert list(json_schema.iter_errors({**data, **wrong}))
        with pytest.raises(sim.ScenarioError):
            sim.parse_scenario({**data, **wrong})
