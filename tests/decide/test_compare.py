"""Comparing splits with common random numbers: exact self-comparison, pairing gains, agreement, capacity."""

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import make
from paths import REFERENCE, SCENARIOS, SMALL_FIRM, TEACHING
from scipy import stats

import sim
from sim.decide.compare import Alternative, CompareError, compare, split_alternatives_of, sweep
from sim.decide.objectives import Objective, conditional_value_at_risk
from sim.decide.split import current_split, vary, with_split


@pytest.fixture(scope="module")
def teaching():
    return sim.load_scenario(TEACHING)


def test_an_alternative_against_a_copy_of_itself_differs_by_exactly_zero(teaching):
    twin = teaching.replace(name="twin")  # another name: run separately, not from a cache
    c = compare({"a": teaching, "b": twin}, reps=8, seed=5)
    row = c.alternatives.loc["b"]
    assert (row["vs_baseline"], row["vs_baseline_ci_low"], row["vs_baseline_ci_high"]) == (0.0, 0.0, 0.0)
    a, b = (c.replications[c.replications["alternative"] == k].drop(columns="alternative").reset_index(drop=True)
            for k in ("a", "b"))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert c.alternatives["p_best"].tolist() == [0.5, 0.5]  # every replication a tie


def test_paired_statistics_match_an_independent_computation_from_the_tidy_table(teaching):
    c = sweep(teaching, {"marketing_share": [0.2, 0.35]}, reps=12, seed=2)
    tidy = c.replications
    base = tidy[tidy["alternative"] == "today"].set_index("replication")["contribution"]
    for label in ("marketing 20%", "marketing 35%"):
        x = tidy[tidy["alternative"] == label].set_index("replication")["contribution"]
        d = (x - base).to_numpy()
        low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
        row = c.alternatives.loc[label]
        assert row["vs_baseline"] == pytest.approx(d.mean(), rel=1e-9)
        assert (row["vs_baseline_ci_low"], row["vs_baseline_ci_high"]) == pytest.approx((low, high), rel=1e-9)
        gain = (x.var() + base.var()) / (x - base).var()
        paired = c.paired[(c.paired["alternative"] == label) & (c.paired["against"] == "baseline")]
        assert paired["variance_reduction"].item() == pytest.approx(gain, rel=1e-9)
    wins = np.argmax(np.column_stack([tidy[tidy["alternative"] == a]["contribution"] for a in c.alternatives.index]),
                     axis=1)
    assert c.alternatives["p_best"].to_numpy() == pytest.approx(np.bincount(wins, minlength=3) / len(wins))
    assert c.best == c.alternatives["objective"].idxmax()


def test_replication_i_of_every_alternative_is_replication_i_of_run_many(teaching):
    alts = split_alternatives_of(teaching, {"marketing_share": [0.3]})
    c = compare(alts, reps=3, seed=9)
    for alt in alts:
        alone = sim.run_many(alt.scenario, reps=3, seed=9).replications
        mine = c.replications[c.replications["alternative"] == alt.label][alone.columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone, check_exact=True, check_dtype=False)


def test_pairing_reduces_variance_on_the_reference_scenario():
    # Today's split against 5 points more marketing (one SDR fewer, more spend): the
    # replications share their leads' draws, so the paired difference varies far less
    # than the difference of independent runs would. (Its first year, with both hires:
    # half the cost of the whole horizon.)
    sc = sim.load_scenario(REFERENCE).replace(horizon_months=12)
    today = current_split(sc).marketing_share
    c = sweep(sc, {"marketing_share": [round(today + 0.05, 4)]}, reps=10, seed=3, workers=2)
    gain = c.paired[(c.paired["against"] == "baseline") & (c.paired["alternative"] != "today")]
    assert gain["variance_reduction"].item() > 1
    # A one-sided F test that the paired variance is below the independent one, at 1%.
    x = c.replications.pivot(index="replication", columns="alternative", values="objective").to_numpy()
    assert x.shape == (10, 2)
    paired, independent = np.var(x[:, 0] - x[:, 1], ddof=1), np.var(x[:, 0], ddof=1) + np.var(x[:, 1], ddof=1)
    assert stats.f.sf(independent / paired, len(x) - 1, len(x) - 1) < 0.01


def test_compare_and_sweep_agree_on_the_same_grid(teaching):
    grid = [0.2, 0.25, 0.3]
    swept = sweep(teaching, {"marketing_share": grid}, reps=10, seed=4)
    base = current_split(teaching)
    alts = [Alternative("today", with_split(teaching, base), base.shares())]
    for v in grid:
        split = vary(base, "marketing_share", v)
        alts.append(Alternative(f"marketing {v:.0%}", with_split(teaching, split), split.shares()))
    compared = compare(alts, reps=10, seed=4)
    assert compared.best == swept.best
    assert compared.alternatives["objective"].to_numpy() == pytest.approx(swept.alternatives["objective"].to_numpy(),
                                                                          rel=0, abs=0)


def test_a_two_dimensional_sweep_has_every_combination_and_tidy_rows():
    sc = sim.load_scenario(SMALL_FIRM)
    c = sweep(sc, {"marketing_share": [0.1, 0.3], "channel_share.google_ads": [0.4, 0.8]}, reps=4, seed=1)
    assert len(c.alternatives) == 1 + 4 and c.dimensions == ["marketing_share", "channel_share.google_ads"]
    tidy = c.replications
    assert len(tidy) == 5 * 4
    grid = tidy[tidy["alternative"] != "today"].drop_duplicates("alternative")
    assert sorted(zip(grid["marketing_share"], grid["channel_share.google_ads"], strict=True)) == \
        [(0.1, 0.4), (0.1, 0.8), (0.3, 0.4), (0.3, 0.8)]
    assert {"replication", "seed", "objective", "wins"} <= set(tidy.columns)


def capacity_bound(spend):
    # One SDR who can work ~50 leads a month, leads that go cold within a day, and far
    # more leads than that: spend beyond capacity buys leads nobody calls.
    return make(horizon_months=4,
                channels={"search": {"spend": spend, "response": {"curve": "hill", "max_leads": 2000,
                                                                   "half_spend": 20000}, "intent": {"a": 3, "b": 3}}},
                qualification={"work_hours": 2.0, "p_qualify": 0.6, "decay": {"half_life_hours": 2},
                               "max_wait_days": 1},
                roles={"sdr": {"fte": 1, "cost_per_fte_year": 60000, "hours_per_day": 4},
                       "ae": {"fte": 2, "cost_per_fte_year": 120000, "max_open_opportunities": 50}})


def test_where_capacity_binds_more_spend_without_headcount_lowers_contribution():
    c = compare({"today": capacity_bound(20000), "more spend": capacity_bound(40000)}, reps=10, seed=1)
    row = c.alternatives.loc["more spend"]
    assert row["vs_baseline_ci_high"] < 0
    m = c.measures.set_index(["alternative", "measure"])["mean"]
    assert m["more spend", "cold_events"] > m["today", "cold_events"]
    # Wins hardly move: the extra leads go cold (a fifth more wins at most, for twice the spend).
    assert m["more spend", "wins"] < 1.2 * m["today", "wins"]


def test_a_risk_measure_ranks_by_the_tail(teaching):
    c = sweep(teaching, {"marketing_share": [0.2]}, reps=20, seed=6, risk=conditional_value_at_risk(0.2),
              objective=Objective("revenue"))
    for label, row in c.alternatives.iterrows():
        x = np.sort(c.replications[c.replications["alternative"] == label]["revenue"].to_numpy())
        assert row["objective"] == pytest.approx(x[:4].mean())
        assert row["objective_ci_low"] <= row["objective"] <= row["objective_ci_high"]


def test_results_do_not_depend_on_the_workers(teaching):
    grid = {"marketing_share": [0.2, 0.3]}
    one = sweep(teaching, grid, reps=6, seed=8)
    two = sweep(teaching, grid, reps=6, seed=8, workers=2, chunk_size=2)
    pd.testing.assert_frame_equal(one.replications, two.replications, check_exact=True)
    pd.testing.assert_frame_equal(one.alternatives, two.alternatives, check_exact=True)


def test_a_comparison_kept_in_a_directory_resumes_without_running_again(teaching, tmp_path):
    grid = {"marketing_share": [0.2, 0.3]}
    first = sweep(teaching, grid, reps=5, seed=2, out=tmp_path)
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 3
    calls = []
    again = sweep(teaching, grid, reps=5, seed=2, out=tmp_path, progress=lambda done, total: calls.append(total))
    assert calls == []  # nothing left to run
    pd.testing.assert_frame_equal(first.replications, again.replications, check_exact=True)
    more = sweep(teaching, grid, reps=7, seed=2, out=tmp_path, progress=lambda done, total: calls.append(total))
    assert calls[-1] == 3 * 2  # only the two new replications of each alternative
    fresh = sweep(teaching, grid, reps=7, seed=2)
    pd.testing.assert_frame_equal(more.replications, fresh.replications, check_exact=True)


def test_bad_comparisons_are_refused_with_the_parameter_named(teaching):
    cases = [
        (lambda: compare({"a": teaching, "b": teaching}, reps=2, baseline="c"), "baseline",
         "'c' is not an alternative"),
        (lambda: compare([Alternative("a", teaching), Alternative("a", teaching)], reps=2), "alternatives",
         "labels must differ"),
        (lambda: sweep(teaching, {}, reps=2), "grid", "one or two"),
        (lambda: compare({"a": teaching, "b": teaching}, reps=1), "reps", "at least 2"),
        (lambda: compare({"a": teaching, "b": teaching}, reps=2, level=1.5), "level", "between 0 and 1"),
    ]
    for call, parameter, message in cases:
        with pytest.raises(CompareError, match=message) as info:
            call()
        assert info.value.parameter == parameter
        assert "--" not in str(info.value)


def _planned_fte(path):
    """Per role with a cost, the FTE a scenario file plans: its starting fte plus every hire, read from the YAML."""
    roles = yaml.safe_load(path.read_text(encoding="utf-8"))["roles"]
    return {name: float(r.get("fte", 0) + sum(h["fte"] for h in r.get("hires", [])))
            for name, r in roles.items() if r.get("cost_per_fte_year", 0) > 0}


def test_alternatives_from_files_without_budgets_show_their_planned_team():
    files = [TEACHING, SCENARIOS / "enterprise_outbound.yaml", SCENARIOS / "marketplace_sellers.yaml"]
    alternatives = {}
    for path in files:
        sc = sim.load_scenario(path)
        assert sc.budget is None
        alternatives[path.stem] = sc
    c = compare(alternatives, reps=2, seed=1)
    for path in files:
        planned = _planned_fte(path)
        row = c.alternatives.loc[path.stem]
        shown = {k.removeprefix("fte."): row[k] for k in c.alternatives.columns if k.startswith("fte.")
                 and not np.isnan(row[k])}
        assert shown == planned, path.stem
        plan = alternatives[path.stem].plan
        assert shown == {r: float(plan.roles[r].planned_fte) for r in planned}
    # Two of the files plan hires, so the planned team is not the starting one.
    assert _planned_fte(files[1])["ae"] == 7 + 2 and _planned_fte(files[2])["sdr"] == 2 + 4


def test_a_comparisons_tables_and_workbook_hold_its_numbers(teaching, tmp_path):
    import openpyxl
    from workbooks import assert_frame_matches, by_code, inputs_value

    c = sweep(teaching, {"marketing_share": [0.2, 0.35]}, reps=3, seed=1)
    pd.testing.assert_frame_equal(c.summary(), c.alternatives, check_exact=True)
    pd.testing.assert_frame_equal(c.to_frame(), c.replications, check_exact=True)
    mine = c.summary()
    mine.loc["today", "objective"] = 1.0  # copies: the comparison keeps its own
    assert c.alternatives.loc["today", "objective"] != 1.0
    path = c.to_excel(tmp_path / "c.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Inputs", "Summary", "Paired", "Measures", "Monthly", "Replications", "Columns"]
    book.close()
    assert (inputs_value(path, "Best"), inputs_value(path, "Baseline"), inputs_value(path, "Replications per "
            "alternative"), inputs_value(path, "Risk measure")) == (c.best, "today", 3, "mean")
    # Each sheet read back with pandas as it is (no rows to skip), its columns by code: the comparison's tables.
    assert_frame_matches(by_code(path, "Summary"), c.alternatives.reset_index().drop(columns="n"))
    for sheet, table in (("Paired", c.paired), ("Replications", c.replications)):
        # Excel has no infinity: an infinite variance reduction is an empty cell.
        assert_frame_matches(by_code(path, sheet), table)
    measures = by_code(path, "Measures").drop(columns=["Measure", "Unit"])
    assert_frame_matches(measures.sort_values(["alternative", "measure"], ignore_index=True),
                         c.measures.sort_values(["alternative", "measure"], ignore_index=True))


def test_a_comparisons_repr_is_short_and_names_the_best(teaching):
    c = compare({"a": teaching, "b": teaching.replace(name="b", horizon_months=6)}, reps=2, seed=1)
    text = repr(c)
    assert len(text) < 200 and f"best={c.best!r}" in text and "2 alternatives" in text
