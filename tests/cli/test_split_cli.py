"""``funnel compare``, ``funnel sweep`` and ``funnel optimize``: JSON, tables, resume, option errors.

Expectations are computed independently of the code under test wherever possible: paired
differences and their t-intervals from the per-replication objectives of the tidy
``replications.csv`` (with ``scipy.stats.t``), the budget identity of an allocation from the
scenario's own costs, risk measures from the replications of the chosen split. The fast
``teaching_minimal`` and ``small_services_firm`` scenarios are used throughout, with few
replications and small races, and the commands run in this process (the real-process
checks for exit codes and tracebacks are in test_flags_cli.py).
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import openpyxl
import pandas as pd
import pytest
from cli_run import assert_one_line_per_option, in_process, stamps, strict_json
from paths import SMALL_FIRM, TEACHING
from scipy import stats
from workbooks import assert_records_equal, by_code, formats, inputs, inputs_value, items, sheet

from sim.scenario import load_scenario

SMALL = SMALL_FIRM

SEED = 5
REPS = 8
PNG = b"\x89PNG\r\n\x1a\n"
TABLES = ["alternatives", "paired", "measures", "replications", "failures"]
SHEETS = ["Inputs", "Summary", "Paired", "Measures", "Monthly", "Replications", "Columns"]


# ---------------------------------------------------------------------------------
# Helpers


def _ok(*args) -> dict:
    code, out, err = in_process(*args, "--quiet", "--json")
    assert code == 0, err
    assert "Traceback" not in err
    return strict_json(out)


def _by_label(doc: dict, part: str = "alternatives") -> dict:
    return {row["alternative"]: row for row in doc[part]}


def _paired(doc: dict, against: str) -> dict:
    return {row["alternative"]: row for row in doc["paired"] if row["against"] == against}


def _objectives(out_dir) -> pd.DataFrame:
    """Per-replication objectives from the tidy table: replications x alternatives."""
    tidy = pd.read_csv(out_dir / "replications.csv")
    return tidy.pivot(index="replication", columns="alternative", values="objective")


def _t_interval(x, level: float = 0.95) -> tuple[float, float, float]:
    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    if not x.any():
        return 0.0, 0.0, 0.0
    if x.std(ddof=1) == 0:
        return m, m, m
    low, high = stats.t.interval(level, len(x) - 1, loc=m, scale=stats.sem(x))
    return m, float(low), float(high)


def _chunks(out_dir) -> list:
    return sorted((out_dir / "runs").glob("*/chunks"))


# ---------------------------------------------------------------------------------
# compare: the JSON against the tidy table


COMPARE = ("compare", TEACHING, "--marketing-share", "0.2,0.3", "--reps", REPS, "--seed", SEED)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    out_dir, book = base / "out", base / "book" / "result.xlsx"
    book.parent.mkdir()
    return _ok(*COMPARE, "--out", out_dir, "--excel", book), out_dir, book


def test_compare_json_has_its_parts(compared):
    doc, *_ = compared
    assert {"comparison", "alternatives", "paired", "p_best"} <= set(doc)
    assert [a["alternative"] for a in doc["alternatives"]] == ["today", "marketing 20%", "marketing 30%"]
    shares = {a["alternative"]: a["marketing_share"] for a in doc["alternatives"]}
    assert shares["marketing 20%"] == 0.2 and shares["marketing 30%"] == 0.3
    c = doc["comparison"]
    assert c["baseline"] == "today"
    assert c["reps"] == REPS and c["paired_replications"] == REPS and c["failed"] == 0 and c["seed"] == SEED
    assert c["objective"] == "contribution" and c["risk"] == "mean"
    assert {p["alternative"] for p in doc["p_best"]} == set(shares)
    assert math.fsum(p["p_best"] for p in doc["p_best"]) == pytest.approx(1.0, abs=1e-12)
    assert all(0 <= p["ci_low"] <= p["p_best"] <= p["ci_high"] <= 1 for p in doc["p_best"])
    objectives = {a["alternative"]: a["objective"] for a in doc["alternatives"]}
    assert c["best"] == max(objectives, key=objectives.get)
    assert len(set(objectives.values())) == 3  # the splits differ: not one result three times


def test_compare_differences_are_those_of_the_replications(compared):
    doc, out_dir, _ = compared
    tidy = pd.read_csv(out_dir / "replications.csv")
    assert tidy["objective"].tolist() == tidy["contribution"].tolist()  # the default objective
    values = _objectives(out_dir)
    assert list(values.index) == list(range(REPS))
    assert set(values.columns) == {"today", "marketing 20%", "marketing 30%"}
    alternatives = _by_label(doc)
    close = {"rel": 1e-9, "abs": 1e-6}
    for against, reference in (("baseline", "today"), ("best", doc["comparison"]["best"])):
        paired = _paired(doc, against)
        assert set(paired) == set(values.columns)
        for label, row in paired.items():
            assert row["reference"] == reference and row["n"] == REPS
            expected = _t_interval(values[label] - values[reference])
            got = (row["difference"], row["ci_low"], row["ci_high"])
            assert got == pytest.approx(expected, **close), (label, against)
            assert (alternatives[label][f"vs_{against}"], alternatives[label][f"vs_{against}_ci_low"],
                    alternatives[label][f"vs_{against}_ci_high"]) == pytest.approx(expected, **close)
    for label, row in alternatives.items():
        expected = _t_interval(values[label])
        assert (row["objective"], row["objective_ci_low"], row["objective_ci_high"]) == pytest.approx(expected, **close)
    # p_best: the share of replications in which each alternative is the best (ties shared).
    top = values.to_numpy() == values.to_numpy().max(axis=1, keepdims=True)
    shares = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    p_best = {p["alternative"]: p["p_best"] for p in doc["p_best"]}
    for label, share in zip(values.columns, shares, strict=True):
        assert p_best[label] == pytest.approx(share, abs=1e-12), label


def test_out_writes_csv_and_parquet_that_read_back_equal(compared):
    _, out_dir, _ = compared
    for name in TABLES:
        from_csv = pd.read_csv(out_dir / f"{name}.csv")
        from_parquet = pd.read_parquet(out_dir / f"{name}.parquet")
        pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=name != "failures")
    assert len(pd.read_parquet(out_dir / "replications.parquet")) == 3 * REPS
    assert pd.read_parquet(out_dir / "failures.parquet").empty
    about = json.loads((out_dir / "about.json").read_text(encoding="utf-8"))
    assert about["reps"] == REPS and about["baseline"] == "today"


def test_compare_resumes_from_out_without_running_anything_again(compared):
    doc, out_dir, _ = compared
    chunks = _chunks(out_dir)
    assert len(chunks) == 3  # one experiment directory per alternative
    before = stamps(chunks)
    again = _ok(*COMPARE, "--out", out_dir)
    assert json.dumps(again) == json.dumps(doc)
    assert stamps(chunks) == before
    assert _chunks(out_dir) == chunks


def test_compare_without_out_gives_the_same_numbers(compared):
    doc, *_ = compared
    assert json.dumps(_ok(*COMPARE)) == json.dumps(doc)


# ---------------------------------------------------------------------------------
# compare: a scenario against itself


def test_a_scenario_compared_with_copies_of_itself_differs_by_exactly_zero(tmp_path):
    # a and b are the same scenario: merged, run and reported once under a's label.
    # c differs in its name only: run on its own, it sees the same worlds.
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    shutil.copy(TEACHING, a)
    shutil.copy(TEACHING, b)
    # A third copy with another name inside: run on its own, it must still see the same worlds.
    text = TEACHING.read_text(encoding="utf-8")
    assert "name: teaching_minimal\n" in text
    c.write_text(text.replace("name: teaching_minimal\n", "name: teaching_copy\n"), encoding="utf-8")
    out_dir = tmp_path / "out"
    doc = _ok("compare", a, b, c, "--reps", 6, "--seed", SEED, "--out", out_dir)
    assert [x["alternative"] for x in doc["alternatives"]] == ["a", "c"]
    assert doc["comparison"]["merged"] == {"a": ["b"]}
    assert doc["comparison"]["baseline"] == "a"
    for row in doc["paired"]:
        assert (row["difference"], row["ci_low"], row["ci_high"]) == (0.0, 0.0, 0.0), row
    objectives = {x["objective"] for x in doc["alternatives"]}
    assert len(objectives) == 1
    # Every replication is a tie, shared equally.
    assert [p["p_best"] for p in doc["p_best"]] == pytest.approx([1 / 2] * 2, abs=1e-12)
    tidy = pd.read_csv(out_dir / "replications.csv")
    frames = [tidy[tidy["alternative"] == label].drop(columns="alternative").reset_index(drop=True)
              for label in ("a", "c")]
    assert len(frames[0]) == 6
    assert frames[0]["leads"].nunique() > 1  # distinct replications, not one repeated
    pd.testing.assert_frame_equal(frames[0], frames[1])
    code, out, _ = in_process("compare", a, b, "--reps", 2, "--seed", SEED)
    assert code == 0 and "b: the same scenario as a, run and reported once" in out


# ---------------------------------------------------------------------------------
# sweep


def test_sweep_and_compare_agree():
    swept = _ok("sweep", TEACHING, "--marketing-share", "0.1:0.3:0.1", "--reps", 6, "--seed", 3)
    compared = _ok("compare", TEACHING, "--marketing-share", "0.1,0.2,0.3", "--reps", 6, "--seed", 3)
    labels = ["today", "marketing 10%", "marketing 20%", "marketing 30%"]
    assert [a["alternative"] for a in swept["alternatives"]] == labels
    assert [a["alternative"] for a in compared["alternatives"]] == labels
    assert swept["comparison"]["best"] == compared["comparison"]["best"]
    assert swept["comparison"]["dimensions"] == ["marketing_share"]
    for key in ("objective", "objective_ci_low", "objective_ci_high", "vs_baseline", "p_best"):
        assert [a[key] for a in swept["alternatives"]] == [a[key] for a in compared["alternatives"]], key


def test_sweep_over_two_settings(tmp_path):
    out_dir, plots = tmp_path / "out", tmp_path / "plots"
    doc = _ok("sweep", SMALL, "--marketing-share", "0.1:0.3:0.2", "--channel-share", "google_ads=0.4,0.8",
              "--reps", 2, "--seed", SEED, "--out", out_dir, "--plots", plots)
    labels = [a["alternative"] for a in doc["alternatives"]]
    assert len(labels) == 1 + 4 and labels[0] == "today" and len(set(labels)) == 5
    assert doc["comparison"]["dimensions"] == ["marketing_share", "channel_share.google_ads"]
    grid = {(round(a["marketing_share"], 9), round(a["channel_share.google_ads"], 9)) for a in doc["alternatives"][1:]}
    assert grid == {(m, g) for m in (0.1, 0.3) for g in (0.4, 0.8)}
    tidy = pd.read_csv(out_dir / "replications.csv")
    for column in ("marketing_share", "channel_share.google_ads", "replication", "objective"):
        assert column in tidy.columns, column
    assert len(tidy) == 5 * 2
    assert sorted(tidy["replication"].unique()) == [0, 1]
    # --plots: the one test of it through the command line (the plots themselves: tests/present).
    written = sorted(p.name for p in plots.iterdir())
    assert written == sorted(["heatmap.png", "funnel.png", "capacity.png", "distribution.png", "differences.png",
                              "fans.png", "frontier.png"])
    for name in written:
        assert (plots / name).read_bytes().startswith(PNG), name


# ---------------------------------------------------------------------------------
# --excel


def test_excel_holds_the_numbers_of_the_json(compared):
    doc, _, book = compared
    assert openpyxl.load_workbook(book, read_only=True).sheetnames == SHEETS
    assert sorted(p.name for p in book.parent.iterdir()) == ["result.xlsx"]  # nothing left beside it
    # Every sheet read back with pandas as it is, its columns by code, equals the JSON, number for number.
    assert_records_equal(by_code(book, "Summary").to_dict(orient="records"), doc["alternatives"],
                         keys=[k for k in doc["alternatives"][0] if k != "n"])
    assert_records_equal(by_code(book, "Paired").to_dict(orient="records"), doc["paired"])
    measures = by_code(book, "Measures").to_dict(orient="records")
    key = {(m["alternative"], m["measure"]): m for m in measures}
    assert len(key) == len(doc["measures"])
    assert_records_equal([key[(m["alternative"], m["measure"])] for m in doc["measures"]], doc["measures"])
    assert len(sheet(book, "Replications")) == 3 * REPS
    c = doc["comparison"]
    assert (inputs_value(book, "Best"), inputs_value(book, "Baseline"), inputs_value(book, "Root seed"),
            inputs_value(book, "Replications per alternative")) == (c["best"], c["baseline"], SEED, REPS)
    assert inputs_value(book, "Command").startswith("funnel compare ")
    assert inputs_value(book, "Scenario file") == str(TEACHING)


# ---------------------------------------------------------------------------------
# optimize


# A small search: what the checks below hold (a consistent answer, inside the limits given) holds for any size.
RACE = ("--candidates", 3, "--initial-reps", 3, "--batch", 2, "--max-reps", 6, "--fresh-reps", 4, "--delta", 20000)
OPTIMIZE = ("optimize", SMALL, *RACE, "--seed", 1)
# For a risk measure: every shortlisted split on 4 x 3 replications, 6 fresh (enough for a 20% tail of 2).
RISK_RACE = ("--candidates", 2, "--initial-reps", 3, "--batch", 2, "--max-reps", 6, "--fresh-reps", 6)


@pytest.fixture(scope="module")
def small():
    return load_scenario(SMALL)


def _assert_spends_the_budget(allocation: dict, scenario) -> None:
    years = scenario.horizon_months / 12
    salaries = allocation["fte.ae"] * scenario.roles.ae.cost_per_fte_year * years
    marketing = allocation["marketing_share"] * allocation["total"]
    assert salaries + marketing == pytest.approx(allocation["total"], rel=1e-9)
    spend = math.fsum(v for k, v in allocation.items() if k.startswith("spend_month.")) * scenario.horizon_months
    assert spend == pytest.approx(marketing, rel=1e-9)


def _searched(doc: dict) -> list[dict]:
    return [a for a in doc["alternatives"] if a["alternative"] != "today"]


def _assert_consistent(doc: dict, scenario) -> None:
    allocation, d = doc["allocation"], doc["diagnostics"]
    _assert_spends_the_budget(allocation, scenario)
    labels = [a["alternative"] for a in doc["alternatives"]]
    # The fresh comparison: the answer, the runner-up and today's split as it is (the
    # baseline, under the answer's or runner-up's label when it is one of them).
    assert allocation["label"] in labels and len(labels) == len(set(labels)) <= 3
    assert doc["comparison"]["baseline"] in labels
    best = _by_label(doc)[allocation["label"]]
    assert (d["estimate"], d["ci_low"], d["ci_high"]) == (best["objective"], best["objective_ci_low"],
                                                         best["objective_ci_high"])
    assert d["ci_low"] <= d["estimate"] <= d["ci_high"]
    assert 0 <= d["p_selected"] <= 1
    assert d["runner_up"] is None or (d["runner_up"] in labels and d["runner_up"] != allocation["label"])
    assert d["replications_used"] == d["selection_replications"] + d["fresh_replications"]
    assert d["statements"] and d["splits_compared"] == d["candidates_evaluated"]
    # The simulation agrees that nothing was left unspent.
    unspent = [m for m in doc["measures"] if m["alternative"] == allocation["label"] and
               m["measure"] == "budget_unspent"]
    assert len(unspent) == 1 and unspent[0]["mean"] == pytest.approx(0, abs=1e-6 * allocation["total"])


def test_optimize_json_and_a_budget_spent_in_full(small):
    doc = _ok(*OPTIMIZE)
    allocation, d = doc["allocation"], doc["diagnostics"]
    for key in ("marketing_share", "fte.ae", "channel_share.google_ads", "channel_share.social_ads", "total"):
        assert key in allocation, key
    assert "channel_share.referrals" not in allocation  # no spend lever
    assert allocation["total"] == small.budget.total
    assert allocation["fte.ae"] == int(allocation["fte.ae"]) >= 1
    assert allocation["channel_share.google_ads"] + allocation["channel_share.social_ads"] == pytest.approx(1.0)
    for key in ("replications_used", "p_selected", "runner_up", "estimate", "ci_low", "ci_high", "delta",
                "guarantee", "guarantee_holds", "neighbours_compared.fte.ae", "seconds"):
        assert key in d, key
    assert d["delta"] == 20000 and d["guarantee"] == "KN"
    # A tolerance is given exactly for the settings whose neighbours were compared.
    assert ("tolerance.fte.ae" in d) == d["neighbours_compared.fte.ae"]
    assert d["fresh_replications"] == 4 * len(doc["alternatives"])
    assert d["objective"] == "contribution" and d["risk"] == "mean"
    _assert_consistent(doc, small)


def test_optimize_prints_what_it_checked(small):
    code, out, err = in_process(*OPTIMIZE)
    assert code == 0, err
    assert "what was checked" in out and "fresh replications" in out and "wall time" in out
    assert ("within 20,000" in out) != ("no guarantee" in out)
    assert "neighbours ±1 FTE of ae:" in out


def test_optimize_keeps_the_bounds(small):
    # Both kinds of limit in one search: a share's bounds and a role's headcount.
    doc = _ok(*OPTIMIZE, "--bounds", "marketing_share=0.3:0.5", "--min-fte", "ae=2", "--max-fte", "ae=3")
    _assert_consistent(doc, small)
    searched = _searched(doc)
    assert len(searched) >= 1
    for row in [doc["allocation"], *searched]:
        assert 0.3 - 1e-9 <= row["marketing_share"] <= 0.5 + 1e-9, row
        assert row["fte.ae"] in (2, 3), row


def test_optimize_fixed_keeps_todays_headcount(small):
    b = small.budget
    years = small.horizon_months / 12
    today = math.floor(b.total * (1 - b.marketing_share) * b.role_mix["ae"] / sum(b.role_mix.values())
                       / (small.roles.ae.cost_per_fte_year * years))
    assert today == 3
    doc = _ok(*OPTIMIZE, "--fixed", "ae")
    _assert_consistent(doc, small)
    for row in [doc["allocation"], *doc["alternatives"]]:
        assert row["fte.ae"] == today, row


def _chosen_objectives(out_dir, label: str) -> np.ndarray:
    tidy = pd.read_csv(out_dir / "replications.csv")
    return tidy.loc[tidy["alternative"] == label, "objective"].to_numpy()


def test_optimize_writes_tables_and_a_workbook_that_read_back(tmp_path, small):
    book = tmp_path / "optimize.xlsx"
    doc = _ok(*OPTIMIZE, "--out", tmp_path / "out", "--excel", book)
    checked = pd.read_csv(tmp_path / "out" / "guarantee.csv")["checked"].tolist()
    assert checked == doc["diagnostics"]["statements"]
    diagnostics = pd.read_csv(tmp_path / "out" / "diagnostics.csv")
    assert diagnostics.loc[0, "estimate"] == pytest.approx(doc["diagnostics"]["estimate"])
    names = openpyxl.load_workbook(book, read_only=True).sheetnames
    assert names == [*SHEETS[:-1], "Allocation", "Search", "Diagnostics", "Columns"]
    # The optimiser's sheets hold the JSON's numbers, each item named in words, with its unit's format.
    assert_records_equal([items(book, "Allocation")], [doc["allocation"]])
    assert sorted(items(book, "Allocation")) == sorted(doc["allocation"])
    expected = {k: v for k, v in doc["diagnostics"].items() if k != "statements"}
    assert sorted(items(book, "Diagnostics")) == sorted(expected)
    assert_records_equal([items(book, "Diagnostics")], [expected])
    for name in ("Allocation", "Diagnostics"):
        table = sheet(book, name)
        assert (table["Item"] != table["Code"]).all(), name  # every item has a name in words
    assert formats(book, "Diagnostics", key="Code")[("estimate", "Value")] == "#,##0"
    assert formats(book, "Allocation", key="Code")[("marketing_share", "Value")] == "0.0%"
    search = pd.read_csv(tmp_path / "out" / "search.csv")
    assert_records_equal(by_code(book, "Search").to_dict(orient="records"), search.to_dict(orient="records"))
    assert [r["Value"] for r in inputs(book) if r["Item"] == "What the optimiser checked"] == checked
    assert_records_equal(by_code(book, "Summary").to_dict(orient="records"), doc["alternatives"],
                         keys=[k for k in doc["alternatives"][0] if k != "n"])


def test_optimize_for_cvar(tmp_path, small):
    doc = _ok("optimize", SMALL, *RISK_RACE, "--seed", 1, "--risk", "cvar", "--risk-level", 0.2, "--out", tmp_path)
    _assert_consistent(doc, small)
    assert doc["diagnostics"]["risk"] == doc["comparison"]["risk"] == "CVaR 20%"
    assert doc["diagnostics"]["guarantee"] == "none" and not doc["diagnostics"]["guarantee_holds"]
    x = np.sort(_chosen_objectives(tmp_path, doc["allocation"]["label"]))
    assert len(x) == doc["comparison"]["paired_replications"] == 6
    worst = x[:math.ceil(0.2 * len(x))]
    assert doc["diagnostics"]["estimate"] == pytest.approx(worst.mean(), rel=1e-9)


def test_optimize_for_the_probability_of_a_target(tmp_path, small):
    doc = _ok("optimize", SMALL, *RISK_RACE, "--seed", 1, "--risk", "probability", "--target", 50000,
              "--out", tmp_path)
    _assert_consistent(doc, small)
    assert doc["diagnostics"]["risk"] == "P(>= 50,000)"
    assert doc["diagnostics"]["delta"] == 0.05  # the default zone for a probability
    x = _chosen_objectives(tmp_path, doc["allocation"]["label"])
    assert doc["diagnostics"]["estimate"] == pytest.approx(float((x >= 50000).mean()), abs=1e-12)
    assert 0 <= doc["diagnostics"]["estimate"] <= 1
    # P(best) is computed from the indicators of reaching the target: ties share it.
    shares = [a["p_best"] for a in doc["alternatives"]]
    assert sum(shares) == pytest.approx(1.0)


def test_smallest_budget_reaching_a_revenue_target(tmp_path):
    book = tmp_path / "budget.xlsx"
    doc = _ok("optimize", TEACHING, "--smallest-budget", "--target", 200000, "--probability", 0.5,
              "--fresh-reps", 12, "--seed", 1, "--out", tmp_path, "--excel", book)
    allocation, b = doc["allocation"], doc["budget_search"]
    low, high = allocation["budget_low"], allocation["budget_high"]
    assert 0 <= low < high and (b["budget_low"], b["budget_high"]) == (low, high)
    assert high - low <= 0.05 * high + 1e-9
    assert allocation["total"] == high
    assert b["estimate"] >= 0.5 and "lower bound" in b["high_proof"]
    tried = doc["budgets"]
    top = [row for row in tried if row["budget"] == high]
    assert len(top) == 2 and {row["verdict"] for row in top} == {"reached"}
    # "reached" exactly where a one-sided Clopper-Pearson lower bound at 97.5% clears 0.5.
    for row in tried:
        if row["split"]:
            lower = stats.beta.ppf(0.025, row["reached"], 12 - row["reached"] + 1) if row["reached"] else 0.0
            assert row["lower"] == pytest.approx(lower)
    budgets = sorted({row["budget"] for row in tried})
    for budget in budgets:
        rows = [r for r in tried if r["budget"] == budget]
        assert (rows[0]["verdict"] == "reached") == (max(r["lower"] for r in rows) >= 0.5)
    assert pd.read_csv(tmp_path / "budgets.csv").shape[0] == len(tried)
    # The workbook holds the same: the allocation, every budget tried, the search's bracket and proofs.
    assert openpyxl.load_workbook(book, read_only=True).sheetnames == ["Inputs", "Allocation", "Budgets",
                                                                       "Budget search", "Columns"]
    assert_records_equal([items(book, "Allocation")], [allocation])
    assert_records_equal(by_code(book, "Budgets").to_dict(orient="records"), tried)
    assert sorted(items(book, "Budget search")) == sorted(b)
    assert_records_equal([items(book, "Budget search")], [b])
    assert inputs_value(book, "Target") == 200000 and inputs_value(book, "What was shown at the top") == b["high_proof"]


# ---------------------------------------------------------------------------------
# Bad input: one line per problem, naming the option, exit 2, nothing run


T, S = TEACHING, SMALL
BAD = [
    pytest.param(["compare", T, "--marketing-share", "1.5"], ["--marketing-share"], id="share-above-1"),
    pytest.param(["compare", T, "--marketing-share", "a,b"], ["--marketing-share"], id="share-not-a-number"),
    pytest.param(["compare", T, "--marketing-share", "0:1:0"], ["--marketing-share"], id="compare-step-0"),
    pytest.param(["sweep", T, "--marketing-share", "0:1:0"], ["--marketing-share"], id="sweep-step-0"),
    pytest.param(["compare", T, "--channel-share", "nochannel=0.5"], ["--channel-share"], id="compare-no-channel"),
    pytest.param(["sweep", T, "--channel-share", "nochannel=0.5"], ["--channel-share"], id="sweep-no-channel"),
    # The library's role_share.sdr is worded --sdr-share, however it was given.
    pytest.param(["compare", T, "--role-share", "sdr=0.5"], ["--sdr-share"], id="compare-no-sdr"),
    pytest.param(["sweep", T, "--role-share", "sdr=0.5"], ["--sdr-share"], id="sweep-no-sdr"),
    pytest.param(["compare", T, "--sdr-share", "0.5"], ["--sdr-share"], id="sdr-share-no-sdr"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--risk", "var"], ["--risk-level"], id="var-without-level"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--risk-level", "0.1"], ["--risk-level"],
                 id="level-without-var"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--risk", "cvar", "--risk-level", "1.5"], ["--risk-level"],
                 id="level-above-1"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--confidence", "1"], ["--confidence"],
                 id="confidence-1"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--workers", "0"], ["--workers"], id="workers-zero"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--budget", "-5"], ["--budget"], id="budget-negative"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--target", "5"], ["--target"], id="target-without-prob"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--excel", "out.txt"], ["--excel"], id="excel-not-xlsx"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--scheduler", "tcp://x:1"], ["--scheduler"],
                 id="scheduler-without-dask"),
    pytest.param(["compare", T], ["compare"], id="compare-one-file-nothing-to-vary"),
    pytest.param(["sweep", S, "--marketing-share", "0.1,0.2", "--channel-share", "google_ads=0.5",
                  "--channel-share", "social_ads=0.5"], ["sweep"], id="sweep-three-dimensions"),
    pytest.param(["optimize", T, "--bounds", "marketing_share=0.8:0.2"], ["--bounds"], id="bounds-reversed"),
    pytest.param(["optimize", T, "--min-fte", "ae=x"], ["--min-fte"], id="min-fte-not-a-number"),
    pytest.param(["optimize", T, "--fixed", "nosuch"], ["--fixed"], id="fixed-unknown"),
    pytest.param(["optimize", T, "--probability", "0.5"], ["--probability"], id="probability-alone"),
    pytest.param(["optimize", T, "--smallest-budget", "--probability", "0.5"], ["--smallest-budget"],
                 id="smallest-budget-without-target"),
    pytest.param(["optimize", T, "--smallest-budget", "--target", "5", "--probability", "1.5"], ["--probability"],
                 id="probability-above-1"),
    pytest.param(["optimize", T, "--smallest-budget", "--target", "5", "--probability", "0.5", "--budget-range",
                  "9:3"], ["--budget-range"], id="budget-range-reversed"),
    pytest.param(["optimize", T, "--candidates", "0"], ["--candidates"], id="candidates-zero"),
    pytest.param(["optimize", T, "--initial-reps", "5", "--max-reps", "3"], ["--max-reps"],
                 id="max-reps-below-initial-reps"),
    pytest.param(["optimize", T, "--batch", "0"], ["--batch"], id="race-batch-zero"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--baseline", "nosuch"], ["--baseline"],
                 id="compare-baseline-unknown"),
    pytest.param(["sweep", T, "--marketing-share", "0.2", "--baseline", "nosuch"], ["--baseline"],
                 id="sweep-baseline-unknown"),
    # Several problems at once: each on its own line.
    pytest.param(["compare", T, "--marketing-share", "1.5", "--risk", "var", "--excel", "out.txt", "--scheduler",
                  "x"], ["--marketing-share", "--risk-level", "--excel", "--scheduler"], id="compare-four-problems"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--risk", "var", "--target", "5"],
                 ["--risk-level", "--target"], id="var-without-level-and-target-without-probability"),
    pytest.param(["optimize", T, "--bounds", "marketing_share=0.8:0.2", "--min-fte", "ae=x", "--probability", "0.5"],
                 ["--bounds", "--min-fte", "--probability"], id="optimize-three-problems"),
    pytest.param(["optimize", T, "--fixed", "nosuch", "--min-fte", "sdr=1"], ["--fixed", "--min-fte"],
                 id="optimize-two-search-problems"),
]


@pytest.mark.parametrize(("args", "named"), BAD)
def test_bad_input_is_one_line_per_problem_with_exit_2(tmp_path, args, named):
    out_dir = tmp_path / "never"
    code, out, err = in_process(*args, "--reps" if args[0] != "optimize" else "--fresh-reps", 2,
                                "--out", out_dir, "--quiet")
    assert_one_line_per_option(code, out, err, named)
    assert not out_dir.exists()  # nothing ran


def test_excel_into_a_missing_folder_is_refused_before_running(tmp_path):
    missing = tmp_path / "missing"
    code, out, err = in_process(*COMPARE, "--excel", missing / "out.xlsx", "--quiet")
    (line,) = assert_one_line_per_option(code, out, err, ["--excel"])
    assert str(missing) in line
    assert not missing.exists()


def test_a_range_with_step_zero_says_the_step_is_wrong():
    code, out, err = in_process("sweep", TEACHING, "--marketing-share", "0:1:0", "--reps", 2)
    (line,) = assert_one_line_per_option(code, out, err, ["--marketing-share"])
    assert "step" in line


def test_smallest_budget_without_target_names_both():
    code, out, err = in_process("optimize", TEACHING, "--smallest-budget", "--probability", "0.5")
    (line,) = assert_one_line_per_option(code, out, err, ["--smallest-budget"])
    assert "--target" in line


def test_an_unknown_channel_names_the_option_and_the_channel():
    code, out, err = in_process("compare", TEACHING, "--channel-share", "nochannel=0.5", "--reps", 2, "--quiet")
    (line,) = assert_one_line_per_option(code, out, err, ["--channel-share"])
    assert line.startswith("--channel-share nochannel: ") and "ads" in line  # and the channels there are
