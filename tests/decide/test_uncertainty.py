"""Predictive intervals with parameter uncertainty against the law of total variance, and the run command's report.

With two joint rows of draws, each picked with chance 1/2, the full run is a mixture of
the two certain scenarios: its mean is the average of theirs and its variance is the
average of their variances plus the variance of their means. Both sides are estimated
from independent replications; the tolerance is four standard errors of each estimate.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import in_process
from paths import SCENARIOS

import sim

ROWS = {"qualification.p_qualify.low": [0.1, 0.8], "qualification.p_qualify.high": [0.2, 0.9]}


@pytest.fixture(scope="module")
def base():
    return sim.load_scenario(SCENARIOS / "teaching_minimal.yaml").replace(horizon_months=3)


def test_equal_draws_add_nothing_to_the_interval(base):
    unsure = base.replace(uncertain={"qualification.p_qualify.low": [0.3, 0.3]})
    table = sim.parameter_uncertainty(unsure, reps=20, seed=4)
    assert unsure.qualification.p_qualify.low == 0.3  # the scenario as read is at the mean of its draws
    assert (table["width"] == table["sim_width"]).all() and (table["parameter_share"] == 0).all()


def test_the_full_variance_is_the_mixture_of_the_rows(base):
    reps = 100
    unsure = base.replace(uncertain=ROWS)
    full = sim.run_many(unsure, reps=reps, seed=11).replications["sqls"].to_numpy(float)
    rows = [sim.run_many(base.replace({path: draws[k] for path, draws in ROWS.items()}), reps=reps,
                         seed=100 + k).replications["sqls"].to_numpy(float) for k in range(2)]
    means = np.array([r.mean() for r in rows])
    variances = np.array([r.var(ddof=1) for r in rows])
    mean_truth = means.mean()
    var_truth = variances.mean() + means.var()  # total variance over two equally likely rows
    mean_se = np.sqrt(full.var(ddof=1) / reps + variances.sum() / 4 / reps)
    assert abs(full.mean() - mean_truth) < 4 * mean_se
    # The full sample variance's standard error from its fourth central moment, plus the error of the truth's parts.
    m4 = np.mean((full - full.mean()) ** 4)
    var_se = np.sqrt((m4 - full.var() ** 2) / reps + (variances**2).sum() / 2 / (reps - 1) + means.var() * 4
                     * variances.mean() / reps)
    assert abs(full.var(ddof=1) - var_truth) < 4 * var_se
    shares = sim.parameter_uncertainty(unsure, reps=reps, seed=11)
    assert shares.loc["sqls", "width"] > shares.loc["sqls", "sim_width"]
    assert 0 < shares.loc["sqls", "parameter_share"] <= 1


def test_run_reports_both_intervals(tmp_path, base):
    text = (SCENARIOS / "teaching_minimal.yaml").read_text(encoding="utf-8")
    text = text.replace("horizon_months: 12", "horizon_months: 3")
    path = tmp_path / "unsure.yaml"
    path.write_text(text + "uncertain:\n  qualification.p_qualify.low: [0.1, 0.8]\n"
                    "  qualification.p_qualify.high: [0.2, 0.9]\n", encoding="utf-8")
    code, out, err = in_process("run", path, "--reps", "12", "--seed", "2")
    assert code == 0, err
    assert "include parameter uncertainty" in out and "simulation only" in out.lower()
    code, out, err = in_process("run", path, "--reps", "12", "--seed", "2", "--json")
    assert code == 0, err
    shares = json.loads(out)["parameter_uncertainty"]
    assert shares["uncertain"] == sorted(ROWS)
    assert 0 <= shares["sqls"]["parameter_share"] <= 1 and shares["sqls"]["width"] >= shares["sqls"]["sim_width"]


def test_compare_says_its_intervals_include_the_draws_and_whose(tmp_path):
    text = (SCENARIOS / "teaching_minimal.yaml").read_text(encoding="utf-8").replace("horizon_months: 12",
                                                                                     "horizon_months: 3")
    sure, unsure = tmp_path / "sure.yaml", tmp_path / "unsure.yaml"
    sure.write_text(text, encoding="utf-8")
    unsure.write_text(text + "uncertain:\n  qualification.p_qualify.low: [0.1, 0.8]\n", encoding="utf-8")
    code, out, err = in_process("compare", unsure, "--set", "roles.ae.fte=1,2", "--reps", "4", "--seed", "2")
    assert code == 0, err
    assert "the intervals include parameter uncertainty: each replication ran its own draw of 1 uncertain " \
           "setting(s) (qualification.p_qualify.low)" in " ".join(out.split())
    # Setting the uncertain value itself makes it certain in those alternatives: the line says which have draws.
    code, out, err = in_process("compare", unsure, "--set", "qualification.p_qualify.low=0.2,0.3", "--reps", "4")
    assert code == 0, err
    assert "in today (the others are certain)" in " ".join(out.split())
    code, out, err = in_process("compare", sure, "--set", "roles.ae.fte=1,2", "--reps", "4")
    assert code == 0 and "parameter uncertainty" not in out


def test_with_draws_a_self_comparison_is_exactly_zero_and_sweep_and_optimize_run_the_draws(base):
    unsure = base.replace(uncertain=ROWS)
    same = sim.compare({"a": unsure, "copy": unsure.replace(name="copy")}, reps=6, seed=3)
    paired = same.replications.pivot(index="replication", columns="alternative", values="objective")
    assert paired["a"].nunique() > 1 and (paired["a"] == paired["copy"]).all()  # the draws vary it; CRN hold
    # A sweep's alternatives draw the same row in the same replication: a cost-only change keeps every SQL count.
    swept = sim.sweep(unsure, {"roles.ae.cost_per_fte_year": [60000.0, 90000.0]}, reps=6, seed=3)
    sqls = swept.replications.pivot(index="replication", columns="alternative", values="sqls")
    assert sqls.nunique(axis=1).eq(1).all() and sqls.iloc[:, 0].nunique() > 1
    # optimize's fresh comparison runs every split with the draws, the same row in the same replication.
    _, d = sim.optimize(unsure, seed=2, contenders=2, initial_reps=3, race_batch=3, max_reps=6, fresh_reps=4)
    assert all(s.uncertain == unsure.uncertain for s in d.comparison.scenarios.values())
    # Rows 0.1-0.2 and 0.8-0.9 of the chance to qualify: the SQLs per MQL of the replications fall in two clusters.
    per_mql = d.comparison.replications.eval("sqls / mqls")
    assert per_mql.min() < 0.3 < 0.6 < per_mql.max()
