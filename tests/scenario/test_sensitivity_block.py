"""The scenario's ``sensitivity:`` block: read and written back as it is, and nothing that is simulated sees it.

What it does (``funnel sensitivity FILE`` and ``sim.sensitivity`` taking it) is tested
in tests/decide/test_sensitivity.py and tests/cli/test_sensitivity_cli.py; its wrong
forms are files of tests/bad_scenarios.
"""

import pytest
import yaml
from paths import REFERENCE, TEACHING

from sim.montecarlo.store import scenario_fingerprint
from sim.scenario import ScenarioError, dump_scenario, load_scenario, parse_scenario


def _teaching(**block):
    data = yaml.safe_load(TEACHING.read_text())
    if block:
        data["sensitivity"] = block
    return parse_scenario(data)


def test_the_block_is_read_as_written_and_written_back_the_same():
    sc = _teaching(method="sobol", samples=32, vary={"roles.ae.fte": [1, 3], "scoring.mql_threshold": [0.2, 0.4]})
    assert sc.sensitivity.method == "sobol" and sc.sensitivity.samples == 32
    assert sc.sensitivity.vary == {"roles.ae.fte": (1.0, 3.0), "scoring.mql_threshold": (0.2, 0.4)}
    assert parse_scenario(yaml.safe_load(dump_scenario(sc))) == sc
    assert sc.replace({"roles.ae.fte": 3}).sensitivity == sc.sensitivity  # kept by an edit
    defaults = _teaching(vary={"roles.ae.fte": [1, 3]}).sensitivity
    assert (defaults.method, defaults.samples) == ("tornado", None)


def test_a_scenario_without_the_block_dumps_as_before():
    sc = _teaching()
    assert sc.sensitivity is None
    assert "sensitivity" not in sc.model_dump() and "sensitivity" not in dump_scenario(sc)


def test_the_block_changes_neither_the_fingerprint_nor_what_is_simulated():
    plain = _teaching()
    blocked = _teaching(method="morris", vary={"roles.ae.fte": [1, 3]})
    assert blocked != plain
    assert scenario_fingerprint(blocked) == scenario_fingerprint(plain)
    assert blocked.plan == plain.plan
    assert scenario_fingerprint(_teaching(vary={"roles.ae.fte": [1, 2]})) == scenario_fingerprint(plain)
    assert scenario_fingerprint(plain.replace({"roles.ae.fte": 3})) != scenario_fingerprint(plain)  # it still sees


def test_the_reference_scenario_ships_a_block_that_is_every_other_field_as_without_it():
    sc = load_scenario(REFERENCE)
    assert sc.sensitivity is not None and len(sc.sensitivity.vary) >= 2
    data = yaml.safe_load(REFERENCE.read_text())
    del data["sensitivity"]
    without = parse_scenario(data)
    assert sc.replace(sensitivity=None) == without
    assert scenario_fingerprint(sc) == scenario_fingerprint(without)


def test_replace_checks_the_block_when_it_changes_it_and_only_then():
    sc = _teaching(vary={"qualification.decay.half_life_hours": [1, 8]})
    for change in ({"sensitivity.vary": {"roles.ae.ftee": [1, 2]}},
                   {"sensitivity": {"vary": {"roles.ae.ftee": [1, 2]}}}):
        with pytest.raises(ScenarioError) as info:
            sc.replace(change)
        assert [f for f, _ in info.value.problems] == ["sensitivity.vary.roles.ae.ftee"]
    # An edit elsewhere keeps the block unchecked (sim.sensitivity checks it where it is used).
    assert sc.replace({"roles.ae.fte": 4}).sensitivity == sc.sensitivity
