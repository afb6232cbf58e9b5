"""Sensitivity analysis against known truth: Sobol indices of the Ishigami function through the same code path,
a setting that enters nothing within the noise floor, and a tornado's differences against a second comparison.

The Ishigami function (``tests/toy_model.py``) has first-order and total Sobol indices
in closed form; it runs through :func:`sim.decide.sensitivity.sensitivity` as a model of
its own, with noise shared across points (common random numbers) and a part of each
point's own, whose variance is known, so the noise floor can be checked too.
"""

import math

import pandas as pd
import pytest
import yaml
from paths import SMALL_FIRM, TEACHING
from toy_model import IshigamiScenario, ishigami, ishigami_indices

import sim
from sim.decide.compare import CompareError
from sim.decide.sensitivity import sensitivity, sensitivity_problems

PI = math.pi
RANGES = {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI), "x4": (-PI, PI)}  # x4 enters nothing
NOISE = IshigamiScenario(noise_sd=1.0, own=0.5)
REPS = 4


@pytest.fixture(scope="module")
def sobol():
    return sensitivity(NOISE, RANGES, method="sobol", reps=REPS, samples=256, seed=3, model=ishigami)


def test_sobol_indices_recover_the_ishigami_closed_form_within_their_intervals(sobol):
    truth = ishigami_indices()
    table = sobol.table.set_index("setting")
    for name, (s1, st) in truth.items():
        # Twice a 95% half-width is about four standard errors: a right interval is this far off almost never.
        assert abs(table.loc[name, "S1"] - s1) <= 2 * table.loc[name, "S1_conf"], name
        assert abs(table.loc[name, "ST"] - st) <= 2 * table.loc[name, "ST_conf"], name
    assert sobol.points == 256 * (len(RANGES) + 2)
    assert set(table.index[table["shown"]]) == {"x1", "x2", "x3"}


def test_a_setting_that_enters_nothing_is_within_the_noise_floor_and_the_floor_is_the_own_noise(sobol):
    table = sobol.table.set_index("setting")
    assert not table.loc["x4", "shown"]
    assert table.loc["x4", "ST"] - table.loc["x4", "ST_conf"] <= sobol.noise_floor
    # The floor is the point's own noise variance over reps, as a share of the variance of the means.
    own = NOISE.own * NOISE.noise_sd**2
    truth = own / REPS / sobol.samples["objective"].var(ddof=1)
    assert sobol.noise_floor == pytest.approx(truth, rel=0.2)
    assert sobol.noise_share == sobol.noise_floor


def test_morris_screens_out_the_setting_that_enters_nothing():
    found = sensitivity(NOISE, RANGES, method="morris", reps=REPS, samples=20, seed=3, model=ishigami)
    table = found.table.set_index("setting")
    assert set(table.index[table["shown"]]) == {"x1", "x2", "x3"}
    assert table.loc["x4", "mu_star"] - table.loc["x4", "mu_star_conf"] <= found.noise_floor
    delta = 4 / (2 * 3)
    assert found.noise_floor == pytest.approx(math.sqrt(2 * 0.5 / REPS) * math.sqrt(2 / PI) / delta, rel=0.2)


def test_a_tornado_on_the_toy_is_the_closed_form_difference_with_common_random_numbers():
    toy = IshigamiScenario()  # shared noise only: differences between points are the function's, exactly
    found = sensitivity(toy, {"x2": (0.0, 1.0), "x4": (0.0, 1.0)}, reps=3, seed=1, model=ishigami)
    table = found.table.set_index("setting")
    assert table.loc["x2", "at_high"] == pytest.approx(7 * math.sin(1.0) ** 2, abs=1e-9)
    assert table.loc["x2", "at_low"] == 0 and table.loc["x4", "width"] == 0  # x2 = 0 is today; x4 enters nothing
    assert list(table.index) == ["x2", "x4"] and table.loc["x2", "shown"] and not table.loc["x4", "shown"]


def test_a_tornado_on_the_funnel_agrees_with_a_comparison_of_the_same_worlds():
    sc = sim.load_scenario(TEACHING)
    ranges = {"channels.ads.spend": (3000, 8000), "customers.expansion_month": (0.0, 0.05)}
    found = sensitivity(sc, ranges, reps=6, seed=2)
    table = found.table.set_index("setting")
    again = sim.compare({"today": sc, "low": sc.replace({"channels.ads.spend": 3000.0}),
                         "high": sc.replace({"channels.ads.spend": 8000.0})}, reps=6, seed=2)
    vs = again.alternatives["vs_baseline"]
    assert table.loc["channels.ads.spend", "at_low"] == vs["low"]
    assert table.loc["channels.ads.spend", "at_high"] == vs["high"]
    assert table.loc["channels.ads.spend", "swing"] == pytest.approx(vs["high"] - vs["low"])
    # One-off deals and no installed base: expansion enters nothing, and the same worlds give exactly 0.
    assert table.loc["customers.expansion_month", ["at_low", "at_high", "swing"]].tolist() == [0, 0, 0]
    assert not table.loc["customers.expansion_month", "shown"]


def test_wrong_settings_are_one_problem_each_naming_them():
    sc = sim.load_scenario(TEACHING)
    problems = sensitivity_problems(sc, {"roles.ae.ftee": (1, 3), "roles.ae.fte": (3, 1),
                                         "scoring.score_noise": (-1.0, 0.2)}, method="nope", reps=1)
    # An unknown path is one problem (the same at both ends, said once without a value); a bad end names its value.
    assert [p for p, _ in problems] == ["method", "reps", "roles.ae.ftee", "roles.ae.fte", "scoring.score_noise"]
    assert problems[2][1].startswith("unknown key")
    assert "-1: " in problems[-1][1]
    with pytest.raises(CompareError):
        sensitivity(sc, {}, reps=2)


# ---------------------------------------------------------------------------------
# The scenario's `sensitivity:` block stands in for what is not given.

BLOCK_RANGES = {"channels.ads.spend": (3000.0, 8000.0), "roles.ae.fte": (1.0, 3.0)}


def _with_block(**block):
    """teaching_minimal with a `sensitivity:` block, read as a file's would be (its ends checked)."""
    data = yaml.safe_load(TEACHING.read_text())
    data["sensitivity"] = block
    return sim.parse_scenario(data)


def _same(a, b):
    assert (a.method, a.points, a.reps, a.noise_floor, a.statements) == (b.method, b.points, b.reps, b.noise_floor,
                                                                        b.statements)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    pd.testing.assert_frame_equal(a.samples, b.samples, check_exact=True)


def test_the_block_gives_what_the_arguments_would_bit_for_bit():
    sc = _with_block(method="morris", samples=2, vary={k: list(v) for k, v in BLOCK_RANGES.items()})
    plain = sim.load_scenario(TEACHING)
    found = sensitivity(sc, reps=2, seed=4)
    assert found.method == "morris" and found.points == 2 * (len(BLOCK_RANGES) + 1)
    _same(found, sensitivity(plain, BLOCK_RANGES, method="morris", samples=2, reps=2, seed=4))


def test_arguments_given_override_the_block_one_by_one():
    sc = _with_block(method="morris", samples=3, vary={"roles.ae.fte": [1, 3]})
    plain = sim.load_scenario(TEACHING)
    tornado = sensitivity(sc, {"channels.ads.spend": (3000, 8000)}, method="tornado", reps=2, seed=1)
    assert tornado.method == "tornado" and list(tornado.table["setting"]) == ["channels.ads.spend"]
    # The block's method and samples with other ranges; its ranges with another number of samples.
    _same(sensitivity(sc, {"channels.ads.spend": (3000, 8000)}, reps=2, seed=1),
          sensitivity(plain, {"channels.ads.spend": (3000, 8000)}, method="morris", samples=3, reps=2, seed=1))
    _same(sensitivity(sc, samples=2, reps=2, seed=1),
          sensitivity(plain, {"roles.ae.fte": (1, 3)}, method="morris", samples=2, reps=2, seed=1))


def test_without_ranges_or_a_block_one_problem_says_what_to_add():
    with pytest.raises(CompareError) as info:
        sensitivity(sim.load_scenario(TEACHING), reps=2)
    ((name, message),) = info.value.problems
    assert name == "ranges" and "`sensitivity:` block" in message


def test_a_block_made_wrong_by_a_later_change_is_named_where_it_is_used():
    # replace() does not check the block again (it was checked where it came from): sensitivity() does.
    data = yaml.safe_load(SMALL_FIRM.read_text())
    data["sensitivity"] = {"vary": {"budget.marketing_share": [0.2, 0.4]}}
    sc = sim.parse_scenario(data).replace({"budget": None})  # no budget: a share alone is not one
    with pytest.raises(CompareError) as info:
        sensitivity(sc, reps=2)
    assert info.value.problems
    assert {name for name, _ in info.value.problems} == {"sensitivity.vary.budget.marketing_share"}
    assert sensitivity_problems(sc, {"roles.ae.fte": (1, 3)}) == []  # other ranges do not mind it
