"""Every measure, monthly line and setting the program exports, in words, with its unit.

The model names its measures as code (``losses.cold_leads``, ``cost.salaries_ae``); a
reader of a workbook or a report needs them in words ("Leads lost cold (not contacted in
time)") and in a unit (leads, a share, hours, the scenario's currency). This module is
the one table of both: :func:`measure_name` for the measures of ``Result.metrics`` and
the replications tables (docs/model.md, section 8), :func:`monthly_name` for the columns
of the monthly series, :func:`setting_name` for what defines an alternative (split
settings, headcount, paths into the scenario). A name the table does not know is
``None`` from the first two (a test runs the model and reads docs/model.md so that no
measure is exported unnamed); a setting always gets a name, its path if nothing better.

Units are keys of :data:`UNITS`; :func:`unit_label` shows one (``currency`` as the
scenario's currency code) and :func:`number_format` gives the Excel number format a
value in it is shown with.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNITS", "Name", "field_name", "measure_name", "monthly_name", "number_format", "role_words",
           "setting_name", "unit_label", "words"]


@dataclass(frozen=True)
class Name:
    """A code name in words.

    Attributes:
        words: what a reader sees ("Deals won").
        unit: a key of :data:`UNITS` (``wins``, ``currency``, ``share``, ...).
        whole: a whole number in every replication (a count of things), so shown
            without decimals where it is one replication's value; a mean or a
            percentile of it has one decimal.
    """

    words: str
    unit: str
    whole: bool = False


# unit -> (what the Unit column says, or None for the currency code; its kind: how it is formatted)
UNITS: dict[str, tuple[str | None, str]] = {
    "currency": (None, "money"),
    "share": ("share", "percent"),
    "ratio": ("ratio", "ratio"),
    "leads": ("leads", "count"),
    "MQLs": ("MQLs", "count"),
    "SQLs": ("SQLs", "count"),
    "opportunities": ("opportunities", "count"),
    "wins": ("wins", "count"),
    "customers": ("customers", "count"),
    "events": ("events", "count"),
    "alternatives": ("alternatives", "count"),
    "splits": ("splits", "count"),
    "plans": ("plans", "count"),
    "points": ("points", "count"),
    "hires": ("hires", "count"),
    "replications": ("replications", "count"),
    "hours": ("hours", "duration"),
    "days": ("days", "duration"),
    "months": ("months", "duration"),
    "seconds": ("seconds", "duration"),
    "FTE": ("FTE", "duration"),
    "FTE-months": ("FTE-months", "duration"),
    "month": ("month (from 0)", "index"),
    "date": ("date", "date"),
    "index": ("index (from 0)", "index"),
    "seed": ("seed", "index"),
    "objective": ("the objective's unit", "number"),  # a placeholder: the writer puts the objective's unit
    "squared": ("the objective's unit squared", "money"),
    "number": ("number", "number"),
    "yes/no": ("yes/no", "text"),
    "text": ("text", "text"),
}

# kind -> (format of a whole number, format of a mean or a fraction)
_FORMATS = {
    "money": ("#,##0", "#,##0"),  # money is shown to the unit, thousands separated, whatever it is
    "percent": ("0.0%", "0.0%"),
    "ratio": ("0.00", "0.00"),
    "count": ("#,##0", "#,##0.0"),
    "duration": ("#,##0", "#,##0.0"),
    "index": ("0", "0"),
    "date": ("yyyy-mm-dd", "yyyy-mm-dd"),  # a calendar date (with a scenario's start_date)
    "number": (None, None),  # Excel's General: a number of no known unit, as precise as it fits
    "text": (None, None),
}

_ROLES = {"sdr": "SDR", "ae": "AE", "customer_success": "Customer success"}

_STATES = {"arrived": "arrived", "not_mql": "not MQL (scored below the threshold)",
           "nurture_dropped": "dropped out of nurture", "nurture_expired": "left nurture at its limit",
           "lost_cold": "lost cold", "disqualified": "disqualified", "lost_pipeline": "lost in the pipeline",
           "lost_rep_left": "lost when its AE left", "won": "won", "in_flight": "in flight at the horizon",
           "in_nurture": "in nurture", "waiting_for_contact": "waiting for first contact",
           "in_qualification": "being qualified", "waiting_for_ae": "SQL waiting for an AE",
           "open_opportunity": "open opportunity"}

_COSTS = {"marketing_spend": "Cost: marketing spend", "lead_costs": "Cost: lead costs",
          "nurture": "Cost: nurture program", "commissions": "Cost: commissions",
          "sdr_bonuses": "Cost: SDR bonuses", "total": "Total costs"}

_WAITING = {"queue_decay": "to the wait for first contact", "slot_decay": "to the wait for an AE slot",
            "cold": "to leads that went cold", "total": "to waiting, in all"}

_MEASURES: dict[str, Name] = {
    # counts over the horizon
    "leads": Name("Leads", "leads", True),
    "mqls": Name("MQLs (leads handed to sales)", "MQLs", True),
    "mqls_from_nurture": Name("MQLs that came through nurture", "MQLs", True),
    "contacted": Name("MQLs contacted by a rep", "MQLs", True),
    "sqls": Name("SQLs (contacted MQLs that qualified)", "SQLs", True),
    "opportunities": Name("Opportunities (SQLs that got an AE)", "opportunities", True),
    "wins": Name("Deals won", "wins", True),
    "losses.cold_leads": Name("Leads lost cold (not contacted in time)", "leads", True),
    "cold_events": Name("Times a lead went cold waiting", "events", True),
    "losses.disqualified": Name("MQLs disqualified after contact", "MQLs", True),
    "losses.lost_in_pipeline": Name("Opportunities lost at a stage", "opportunities", True),
    "losses.rep_left": Name("Opportunities lost when their AE left", "opportunities", True),
    # rates
    "lead_to_mql": Name("Lead to MQL rate", "share"),
    "mql_to_sql": Name("MQL to SQL rate (of MQLs contacted)", "share"),
    "opportunity_win_rate": Name("Win rate of closed opportunities", "share"),
    "mql_to_win": Name("MQL to win rate", "share"),
    "sla_share": Name("MQLs contacted within the SLA", "share"),
    # response time, queues and capacity
    "response_time_median_hours": Name("Response time, median", "hours"),
    "response_time_p90_hours": Name("Response time, 90th percentile", "hours"),
    "queue_mean_mqls": Name("MQLs waiting for first contact (time average)", "MQLs"),
    "queue_mean_sqls": Name("SQLs waiting for an AE (time average)", "SQLs"),
    "qualifier_utilisation": Name("Utilisation of the qualifying reps", "share"),
    "ae_slot_utilisation": Name("Utilisation of the AEs' deal slots", "share"),
    # the cost of waiting (docs/model.md, section 8): expected wins and bookings, summed lead by lead
    **{f"wins_lost.{k}": Name(f"Expected wins lost {words}", "wins") for k, words in _WAITING.items()},
    **{f"bookings_lost.{k}": Name(f"Bookings lost {words}", "currency") for k, words in _WAITING.items()},
    # money
    "bookings": Name("Bookings", "currency"),
    "revenue": Name("Revenue (recognised)", "currency"),
    "revenue_from_new_customers": Name("Revenue from deals won in the horizon", "currency"),
    "ending_mrr": Name("MRR at the horizon", "currency"),
    "ending_arr": Name("ARR at the horizon", "currency"),
    "ending_customers": Name("Subscription customers at the horizon", "customers", True),
    "customers_churned": Name("Customers churned", "customers", True),
    "average_deal_value": Name("Average deal value", "currency"),
    "cost_per_lead": Name("Marketing cost per lead", "currency"),
    "cost_per_mql": Name("Marketing cost per MQL", "currency"),
    "cac": Name("Customer acquisition cost (CAC)", "currency"),
    "ltv": Name("Customer lifetime value (LTV)", "currency"),
    "ltv_to_cac": Name("LTV to CAC", "ratio"),
    "payback_months": Name("CAC payback", "months"),
    "gross_margin": Name("Gross margin", "currency"),
    "contribution": Name("Contribution (gross margin less total costs)", "currency"),
    "roi": Name("Return on costs (contribution / total costs)", "share"),
    "npv_contribution": Name("NPV of contribution", "currency"),
    # the open pipeline at the horizon
    "open_pipeline_count": Name("Open pipeline at the horizon: deals", "opportunities", True),
    "open_pipeline_expected_wins": Name("Open pipeline at the horizon: expected wins", "wins"),
    "open_pipeline_weighted_value": Name("Open pipeline at the horizon: win-weighted value", "currency"),
    # the budget
    "budget_total": Name("Budget for the horizon", "currency"),
    "budget_marketing": Name("Budget: channel spend", "currency"),
    "budget_sales": Name("Budget: salaries set aside", "currency"),
    "budget_unspent": Name("Budget unspent", "currency"),
    "budget_vacancies": Name("Budget: salaries of seats that stood empty", "currency"),
}

_MONTHLY: dict[str, Name] = {
    "month": Name("Month", "month", True),
    "month_start": Name("Month starts on (with the scenario's start_date)", "date"),
    "marketing_spend": Name("Marketing spend", "currency"),
    "salaries": Name("Salaries", "currency"),
    "commissions": Name("Commissions", "currency"),
    "other_costs": Name("Other costs (lead costs, nurture, SDR bonuses)", "currency"),
    "costs": Name("Total costs", "currency"),
    "revenue": Name("Revenue", "currency"),
    "gross_margin": Name("Gross margin", "currency"),
    "contribution": Name("Contribution", "currency"),
    "cumulative_contribution": Name("Cumulative contribution (cash)", "currency"),
    "bookings": Name("Bookings", "currency"),
    "leads": Name("Leads", "leads", True),
    "mqls": Name("MQLs", "MQLs", True),
    "sqls": Name("SQLs", "SQLs", True),
    "opportunities": Name("Opportunities", "opportunities", True),
    "wins": Name("Deals won", "wins", True),
    "cold_events": Name("Times a lead went cold waiting", "events", True),
    "mrr_end": Name("MRR at the end of the month", "currency"),
    "customers_end": Name("Subscription customers at the end of the month", "customers", True),
    "queue_mqls": Name("MQLs waiting for first contact (time average)", "MQLs"),
    "queue_sqls": Name("SQLs waiting for an AE (time average)", "SQLs"),
    "qualifier_utilisation": Name("Utilisation of the qualifying reps", "share"),
    "ae_slot_utilisation": Name("Utilisation of the AEs' deal slots", "share"),
}


def words(name: str) -> str:
    """A channel, stage or other name the scenario gave, as words: ``paid_search`` is ``paid search``."""
    return name.replace("_", " ")


def role_words(role: str) -> str:
    """A role as a reader says it: ``sdr`` is ``SDR``."""
    return _ROLES.get(role, words(role))


def _patterned(code: str) -> Name | None:
    """The names made of a family and a channel, role, stage, state or cost category."""
    family, _, rest = code.partition(".")
    if rest:
        if family == "leads":
            return Name(f"Leads from {words(rest)}", "leads", True)
        if family == "wins":
            return Name(f"Deals won from {words(rest)}", "wins", True)
        if family == "mql_to_win":
            return Name(f"MQL to win rate, {words(rest)}", "share")
        if family == "stage_advance":
            return Name(f"Opportunities passing the {words(rest)} stage", "share")
        if family == "fte_end":
            return Name(f"{role_words(rest)} headcount in the last month", "FTE")
        if family == "fte_months":
            return Name(f"{role_words(rest)} FTE-months over the horizon", "FTE-months")
        if family in ("lead_accounting", "in_flight") and rest in _STATES:
            prefix = "Leads" if family == "lead_accounting" else "Leads in flight at the horizon"
            return Name(f"{prefix}: {_STATES[rest]}", "leads", True)
        if family == "cost":
            if rest.startswith("salaries_"):
                return Name(f"Cost: {role_words(rest.removeprefix('salaries_'))} salaries", "currency")
            if rest in _COSTS:
                return Name(_COSTS[rest], "currency")
    if code.startswith("budget_fte_"):
        return Name(f"{role_words(code.removeprefix('budget_fte_'))} FTE the budget pays for", "FTE", True)
    return None


def measure_name(code: str) -> Name | None:
    """A measure (as ``Result.metrics`` and the replications tables name it) in words, or None if unknown."""
    return _MEASURES.get(code) or _patterned(code)


def monthly_name(code: str) -> Name | None:
    """A column of the monthly series (``Result.monthly``) in words, or None if unknown."""
    if code in _MONTHLY:
        return _MONTHLY[code]
    if code.startswith("fte_"):
        return Name(f"{role_words(code.removeprefix('fte_'))} FTE employed in the month", "FTE")
    return None


# Endings of scenario paths and the unit their values are in (docs/model.md, Units: names say so).
_PATH_UNITS = [("_hours", "hours"), ("_days", "days"), ("_months", "months"), ("fte", "FTE"), ("_share", "share"),
               ("cost_per_fte_year", "currency"), ("cost_per_lead_month", "currency"), ("cost_per_lead", "currency"),
               ("bonus_per_sql", "currency"), ("spend", "currency"), ("value", "currency"), ("total", "currency"),
               ("gross_margin", "share"), ("_rate", "share"), ("_month", "share"), ("_year", "share"),
               ("advance", "share"), ("month", "month")]


def setting_name(code: str) -> Name:
    """What defines an alternative, in words: a split setting, a headcount, a plan's line, or a scenario path."""
    family, _, rest = code.partition(".")
    if code == "marketing_share":
        return Name("Marketing share of the budget", "share")
    if family == "channel_share" and rest:
        return Name(f"{words(rest).capitalize()} share of the marketing spend", "share")
    if family == "role_share" and rest:
        return Name(f"{role_words(rest)} share of the salaries", "share")
    if family == "fte" and rest:
        return Name(f"{role_words(rest)} FTE", "FTE", True)
    if family == "spend_month" and rest:
        return Name(f"Monthly spend on {words(rest)}", "currency")
    if family == "spend" and rest:
        return Name(f"Spend on {words(rest)} over the horizon", "currency")
    if family == "hires" and rest:
        return Name(f"{role_words(rest)} hires requested", "hires", True)
    last = code.rsplit(".", 1)[-1]
    for ending, unit in _PATH_UNITS:
        if last.endswith(ending):
            return Name(f"Scenario: {code}", unit)
    return Name(f"Scenario: {code}", "number")


def unit_label(unit: str, currency: str = "") -> str:
    """What the Unit column says for ``unit``: its name, or the currency code (``currency`` if none is known)."""
    shown, _ = UNITS.get(unit, (unit, "number"))
    return shown if shown is not None else (currency or "currency")


def number_format(unit: str, whole: bool = False) -> str | None:
    """The Excel number format of a value in ``unit``: a whole count without decimals, a mean with one.

    Money has no decimals and thousands separators, shares are percentages, hours, months
    and FTE have one decimal; text (and a unit not in :data:`UNITS`) has none.
    """
    _, kind = UNITS.get(unit, (unit, "number"))
    whole_format, fraction_format = _FORMATS[kind]
    return whole_format if whole else fraction_format


# The fields of what the decisions report (a comparison's tables, the optimiser's search and
# diagnostics, the budget search, a sensitivity analysis), as their tables and JSON name them.
# "objective" is the objective's own unit (money, customers, or a probability).
_FIELDS: dict[str, Name] = {
    "alternative": Name("Alternative", "text"),
    "label": Name("Chosen split", "text"),
    "replication": Name("Replication", "index", True),
    "seed": Name("Root seed", "seed", True),
    "n": Name("Paired replications", "replications", True),
    "reference": Name("Compared with", "text"),
    "against": Name("Against (best or baseline)", "text"),
    "difference": Name("Difference", "objective"),
    "variance_reduction": Name("Variance reduction (independent-runs variance / paired variance)", "ratio"),
    "error": Name("Error", "text"),
    # the optimiser's search and what it says of its answer
    "approximate": Name("Objective by the fast approximation", "objective"),
    "replications": Name("Replications run", "replications", True),
    "mean": Name("Mean objective over its replications", "objective"),
    "eliminated_at": Name("Eliminated after (replications; empty: not eliminated)", "replications", True),
    "chosen": Name("Chosen", "yes/no"),
    "why": Name("Why it left the race", "text"),
    "total": Name("Budget for the horizon", "currency"),
    "unspent": Name("Budget unspent", "currency"),
    "objective": Name("Objective", "objective"),
    "risk": Name("Risk measure", "text"),
    "estimate": Name("Objective of the answer (fresh replications)", "objective"),
    "ci_low": Name("Objective of the answer, CI low", "objective"),
    "ci_high": Name("Objective of the answer, CI high", "objective"),
    "replications_used": Name("Replications used (selection and fresh)", "replications", True),
    "selection_replications": Name("Replications in the selection", "replications", True),
    "fresh_replications": Name("Fresh replications for the estimate", "replications", True),
    "candidates_evaluated": Name("Splits simulated", "splits", True),
    "runner_up": Name("Runner-up", "text"),
    "runner_up_difference": Name("Answer less the runner-up", "objective"),
    "runner_up_difference_ci_low": Name("Answer less the runner-up, CI low", "objective"),
    "runner_up_difference_ci_high": Name("Answer less the runner-up, CI high", "objective"),
    "p_selected": Name("P(selected): bootstrap resamples in which it is still the best", "share"),
    "vs_today": Name("Answer less today's plan", "objective"),
    "vs_today_ci_low": Name("Answer less today's plan, CI low", "objective"),
    "vs_today_ci_high": Name("Answer less today's plan, CI high", "objective"),
    "vs_static": Name("Answer less the best static split", "objective"),
    "vs_static_ci_low": Name("Answer less the best static split, CI low", "objective"),
    "vs_static_ci_high": Name("Answer less the best static split, CI high", "objective"),
    "seconds": Name("Wall time", "seconds"),
    "guarantee": Name("Selection procedure", "text"),
    "guarantee_holds": Name("Guarantee holds", "yes/no"),
    "delta": Name("Difference that matters (delta)", "objective"),
    "level": Name("Confidence level", "share"),
    "splits_compared": Name("Splits compared by the selection", "splits", True),
    "splits_screened": Name("Splits screened by the fast approximation", "splits", True),
    "screen_converged": Name("Screen ended at a local optimum of the approximation", "yes/no"),
    "plans_compared": Name("Plans compared by the selection", "plans", True),
    "plans_screened": Name("Plans screened by the fast approximation", "plans", True),
    "cash_constraint_broken_by": Name("Plans shown to break the cash constraint", "text"),
    "cash.runway": Name("Runway: the most cash the plan may use", "currency"),
    "cash.probability": Name("Chance cash must stay above minus the runway", "share"),
    "cash.held": Name("Fresh replications in which cash held", "replications", True),
    "cash.replications": Name("Fresh replications checked for cash", "replications", True),
    "cash.share": Name("Share of fresh replications in which cash held", "share"),
    "cash.lower": Name("Lower confidence bound of the chance cash holds", "share"),
    "cash.shown": Name("Cash constraint shown to hold", "yes/no"),
    # the smallest budget
    "target": Name("Target the objective must reach", "objective"),
    "probability": Name("Chance of reaching the target asked for", "share"),
    "reps": Name("Replications per split and budget", "replications", True),
    "budget_low": Name("Bottom of the bracket (not shown to reach the target)", "currency"),
    "budget_high": Name("Top of the bracket (shown to reach the target)", "currency"),
    "high_proof": Name("What was shown at the top", "text"),
    "low_proof": Name("What was shown at the bottom", "text"),
    "split": Name("Split", "text"),
    "budget": Name("Budget for the horizon", "currency"),
    "reached": Name("Replications reaching the target", "replications", True),
    "share": Name("Share of replications reaching the target", "share"),
    "lower": Name("Lower bound (one-sided Clopper-Pearson)", "share"),
    "upper": Name("Upper bound (one-sided Clopper-Pearson)", "share"),
    "verdict": Name("Verdict", "text"),
    "note": Name("Note", "text"),
    # a sensitivity analysis
    "setting": Name("Setting (its path in the scenario)", "text"),
    "low": Name("Low value", "number"),
    "high": Name("High value", "number"),
    "at_low": Name("Objective at the low value less today", "objective"),
    "at_low_ci_low": Name("At the low value, CI low", "objective"),
    "at_low_ci_high": Name("At the low value, CI high", "objective"),
    "at_high": Name("Objective at the high value less today", "objective"),
    "at_high_ci_low": Name("At the high value, CI low", "objective"),
    "at_high_ci_high": Name("At the high value, CI high", "objective"),
    "swing": Name("Swing: high less low", "objective"),
    "swing_ci_low": Name("Swing, CI low", "objective"),
    "swing_ci_high": Name("Swing, CI high", "objective"),
    "width": Name("Range of the objective over low, today and high (the rank)", "objective"),
    "mu_star": Name("Morris mu* (mean absolute effect)", "objective"),
    "mu_star_conf": Name("Morris mu*, CI half-width", "objective"),
    "sigma": Name("Morris sigma (spread of the effects)", "objective"),
    "S1": Name("Sobol first-order index", "share"),
    "S1_conf": Name("Sobol first-order index, CI half-width", "share"),
    "ST": Name("Sobol total index", "share"),
    "ST_conf": Name("Sobol total index, CI half-width", "share"),
    "shown": Name("Effect shown (resolved from the noise)", "yes/no"),
    "variance": Name("Variance of the objective over the point's replications", "squared"),
}


def field_name(code: str) -> Name | None:
    """A field of a decision's tables (comparison, optimiser, budget search, sensitivity) in words, or None.

    Unit ``objective`` stands for the objective's own unit, which only the result knows.
    """
    if code in _FIELDS:
        return _FIELDS[code]
    family, _, rest = code.partition(".")
    if family == "neighbours_compared" and rest:
        return Name(f"Neighbours compared: {words(rest)}", "yes/no")
    if family == "tolerance" and rest:
        setting = setting_name(rest)
        return Name(f"Step to the neighbours compared: {setting.words}", setting.unit)
    return None
