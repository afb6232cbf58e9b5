"""Every shipped scenario validates and runs, and the reference looks like what it says."""

from pathlib import Path

import pytest

import sim

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def test_the_five_scenarios_are_shipped():
    names = {p.stem for p in SCENARIOS}
    assert {"b2b_saas_inbound", "enterprise_outbound", "small_services_firm", "marketplace_sellers",
            "teaching_minimal"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_runs(path):
    sc = sim.load_scenario(path)
    r = sim.simulate(sc, seed=1)
    acc = r.metrics["lead_accounting"]
    assert acc["arrived"] == sum(v for k, v in acc.items() if k != "arrived")
    assert r.metrics["leads"] > 0 and r.metrics["wins"] > 0
    assert len(r.monthly) == sc.horizon_months
    text = path.read_text()
    assert text.lstrip().startswith("#"), "each scenario starts with a comment saying what it is"


def test_teaching_scenario_fits_on_one_screen():
    assert len((Path(__file__).parent.parent / "scenarios" / "teaching_minimal.yaml").read_text().splitlines()) <= 50


def test_reference_scenario_has_about_two_thousand_leads_a_month():
    sc = sim.load_scenario(Path(__file__).parent.parent / "scenarios" / "b2b_saas_inbound.yaml")
    per_month = sim.simulate(sc, seed=2).metrics["leads"] / sc.horizon_months
    assert 1500 <= per_month <= 2500


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_passes_the_published_json_schema(path):
    # Editors check files against `funnel schema`: it must accept what the loader accepts
    # (plain numbers for distributions, probabilities and spend included).
    import jsonschema
    import yaml

    from sim.scenario.schema import Scenario

    jsonschema.validate(yaml.safe_load(path.read_text()), Scenario.model_json_schema())


def test_json_schema_rejects_what_the_loader_rejects_field_by_field():
    import jsonschema
    import yaml

    from sim.scenario.schema import Scenario

    broken = yaml.safe_load((Path(__file__).parent / "data" / "broken.yaml").read_text())
    errors = list(jsonschema.Draft202012Validator(Scenario.model_json_schema()).iter_errors(broken))
    paths = sorted(".".join(str(p) for p in e.absolute_path) for e in errors)
    assert paths == ["channels.paid_search.carryover", "qualification"]  # the typo is reported on its parent
