"""The decisions' diagnostics as plain records: what ``--json`` prints and the workbook lists.

One definition for both, so that the workbook's Diagnostics sheet and the JSON give the
same items under the same names (the workbook adds words and units to them).
"""

from __future__ import annotations

__all__ = ["budget_search_record", "diagnostics_record", "plan_diagnostics_record"]


def diagnostics_record(d) -> dict:
    """:class:`sim.decide.optimize.Diagnostics` as plain values (``statements`` is a list of sentences)."""
    low_high = d.runner_up_difference or (None, None, None)
    return {"objective": d.objective.label, "risk": d.risk.label, "estimate": d.estimate, "ci_low": d.ci_low,
            "ci_high": d.ci_high, "replications_used": d.replications_used,
            "candidates_evaluated": d.candidates_evaluated, "runner_up": d.runner_up,
            "runner_up_difference": low_high[0], "runner_up_difference_ci_low": low_high[1],
            "runner_up_difference_ci_high": low_high[2], "p_selected": d.p_selected,
            "vs_today": d.vs_today[0], "vs_today_ci_low": d.vs_today[1], "vs_today_ci_high": d.vs_today[2],
            "selection_replications": d.selection_replications, "fresh_replications": d.fresh_replications,
            "seconds": d.seconds, "guarantee": d.guarantee.procedure, "guarantee_holds": d.guarantee.holds,
            "delta": d.guarantee.delta, "level": d.guarantee.level, "splits_compared": d.guarantee.compared,
            "splits_screened": d.guarantee.screened, "screen_converged": d.guarantee.screen_converged,
            "statements": d.guarantee.statements,
            **{f"neighbours_compared.{k}": v for k, v in d.guarantee.neighbours.items()},
            **{f"tolerance.{k}": v for k, v in d.tolerance.items()}}


def plan_diagnostics_record(d) -> dict:
    """:class:`sim.decide.over_time.PlanDiagnostics` as plain values."""
    out = {"objective": d.objective.label, "estimate": d.estimate, "ci_low": d.ci_low, "ci_high": d.ci_high,
           "delta": d.delta, "level": d.level, "guarantee_holds": d.holds, "plans_compared": d.compared,
           "plans_screened": d.screened, "screen_converged": d.screen_converged,
           "replications_used": d.replications_used, "seconds": d.seconds, "runner_up": d.runner_up,
           "cash_constraint_broken_by": d.infeasible, "statements": d.statements}
    for name, triple in (("vs_today", d.vs_today), ("vs_static", d.vs_static),
                         ("runner_up_difference", d.runner_up_difference)):
        low_high = triple or (None, None, None)
        out.update({name: low_high[0], f"{name}_ci_low": low_high[1], f"{name}_ci_high": low_high[2]})
    if d.cash is not None:
        out.update({f"cash.{k}": v for k, v in d.cash.items()})
    return out


def budget_search_record(b) -> dict:
    """:class:`sim.decide.optimize.BudgetSearch` (its bracket and the split at the top) as plain values."""
    return {"target": b.target, "probability": b.probability, "level": b.level, "reps": b.reps,
            "budget_low": b.low, "budget_high": b.high, "high_proof": b.high_proof, "low_proof": b.low_proof,
            "split": b.label, "estimate": b.estimate, "ci_low": b.ci_low, "ci_high": b.ci_high,
            "replications_used": b.replications_used, "seconds": b.seconds}
