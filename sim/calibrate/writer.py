"""The calibrated scenario as YAML text whose comments give each number's provenance, and its validation.

A parameter with uncertainty is written ``{draws: [x1, ..., x200]}`` in place of its
number, with a comment line above giving the estimate, its interval, the sample size,
the window and the method. The scenario loader reads each as an uncertain setting
(``docs/model.md``, Uncertain parameters): the scenario as read holds the draws' mean,
and each replication runs one row of them.
"""

from __future__ import annotations

import yaml

from sim.calibrate.capacity import bound_reason
from sim.calibrate.estimate import LEVEL
from sim.calibrate.volumes import FORECAST_MONTHS, fte_schedule, runs
from sim.scenario.loading import parse_scenario

__all__ = ["FORECAST_MONTHS", "scenario_text", "validate"]



def _num(x) -> str:
    """A number as YAML 1.1 reads it back as a float (PyYAML needs a dot before an exponent)."""
    text = f"{float(x):.6g}"
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _draws(e) -> str:
    return "{draws: [" + ", ".join(_num(x) for x in e.draws) + "]}"


def _note(e, indent) -> str:
    return (f"{' ' * indent}# {e.path}: {e.estimate:.6g} ({LEVEL:.0%} interval {e.low:.6g} to {e.high:.6g}), "
            f"n={e.n}, {e.window}; {e.method}\n")


def _last(series) -> str:
    return f" in {series[-1][0]}, the last month of the headcount" if series else ""


def _leads(e, horizon: int, training: int) -> list[str]:
    """A channel's ``leads:``: one uncertain number, or a schedule a month over the horizon."""
    fit, schedule = getattr(e, "fit", None), getattr(e, "schedule", None)
    lines = []
    if schedule is None:
        lines.append(f"    leads: {_draws(e)}\n")
    else:
        n = min(horizon, len(schedule.mean))
        lines += [f"    # leads a month, {training} fitted months then {n - training} forecast; each entry's "
                  f"mean and {LEVEL:.0%} interval in its comment\n", "    leads:\n"]
        for k in range(n):
            part = "fit" if k < training else "forecast"
            lines.append(f"      - {{draws: [{', '.join(_num(x) for x in schedule.draws[:, k])}]}}  # "
                         f"{schedule.months[k]:%Y-%m} {part}: {schedule.mean[k]:.4g} ({schedule.low[k]:.4g} to "
                         f"{schedule.high[k]:.4g})\n")
    if fit is not None and fit.family != "Poisson":
        # A negative binomial's variance mu + alpha mu^2 is what a month multiplier of cv sqrt(alpha) gives.
        lines.append(f"    rate_cv: {_num(min(fit.alpha ** 0.5, 10.0))}  # the months vary more than Poisson (Dean's "
                     f"score test): negative binomial alpha {fit.alpha:.3g}, a month multiplier of this cv\n")
    return lines


def _duration(stage) -> str:
    dur, kind, cv = stage["duration"], stage["kind"], stage["cv"]
    if kind == "exponential":
        return f"{{dist: exponential, mean: {_draws(dur)}}}"
    return f"{{dist: {'lognormal' if kind == 'empirical' else kind}, mean: {_draws(dur)}, cv: {_num(cv)}}}"


def _key(name: str) -> str:
    """A mapping key as YAML writes it (quoted where it would not read back as the same text)."""
    return yaml.safe_dump(name).splitlines()[0]


def _stage_lines(stage) -> list[str]:
    """One stage of ``found["stages"]``: its advance and duration with their provenance, and by_channel.

    A channel gets its own advance where the Wald test says channels differ, its own days
    where the log-rank test does; each with the test in a comment.
    """
    adv, dur = stage["advance"], stage["duration"]
    lines = [f"    - name: {_key(stage['name'])}\n", _note(adv, 6),
             f"      advance: {_draws(adv)}\n", _note(dur, 6),
             f"      # AIC: {', '.join(f'{k} {v:.1f}' for k, v in sorted(stage['aic'].items()))}\n",
             f"      duration_days: {_duration(stage)}\n"]
    test, days = stage.get("by_channel"), stage.get("days_by_channel")
    advance = test["channels"] if test and test["differ"] else {}
    durations = days["channels"] if days and days["differ"] else {}
    if not advance and not durations:
        return lines
    if advance:
        lines.append(f"      # {test['method']}: each channel's own advance\n")
    if durations:
        lines.append(f"      # {days['method']}: each channel's own days\n")
    lines.append("      by_channel:\n")
    for channel in sorted(set(advance) | set(durations)):
        lines.append(f"        {_key(channel)}:\n")
        if channel in advance:
            lines += [_note(advance[channel], 10), f"          advance: {_draws(advance[channel])}\n"]
        if channel in durations:
            fit = durations[channel]
            lines += [_note(fit["duration"], 10),
                      f"          # AIC: {', '.join(f'{k} {v:.1f}' for k, v in sorted(fit['aic'].items()))}\n",
                      f"          duration_days: {_duration(fit)}\n"]
    return lines


def _capacity_lines(found: dict) -> list[str]:
    """``qualification.work_hours`` (simulated moments, or its upper bound) and ``decay``, where found.

    The decay is written only with the work hours (estimated or bounded), as the waits it
    acts on are the queue's (:func:`sim.calibrate.capacity.apply_capacity`).
    """
    by = {e.path: e for e in found["estimates"]}
    lines = []
    capacity = found.get("capacity")
    if "qualification.work_hours" in by:
        e = by["qualification.work_hours"]
        lines += [_note(e, 2), f"  # the queue at the estimate: {capacity['simulated_wait_hours']:.3g} h mean wait "
                               f"(observed {capacity['observed_wait_hours']:.3g} h), qualifiers busy "
                               f"{capacity['utilisation']:.0%} of the time\n", f"  work_hours: {_draws(e)}\n"]
    elif capacity is not None and capacity["high"] < float("inf") and not capacity.get("misshapen"):
        lines.append(f"  # qualification.work_hours: NOT IDENTIFIED, an upper bound: {bound_reason(capacity)} "
                     f"({capacity['window']}); any work hours up to this give waits as short; "
                     f"{capacity['method']}\n")
        lines.append(f"  work_hours: {_num(capacity['high'])}  # the upper bound, not an estimate\n")
    if "qualification.decay.half_life_hours" in by:
        e = by["qualification.decay.half_life_hours"]
        lines += [_note(e, 2), f"  decay: {{half_life_hours: {_draws(e)}, shape: 1.0}}\n"]
    return lines


def _intent(e) -> str:
    """``{a: ..., b: ...}`` whose mean a / (a + b) is each draw of the chance ``e`` (row for row)."""
    from sim.calibrate.segments import intent_prior

    a, b = intent_prior(e)
    return ("{a: {draws: [" + ", ".join(_num(x) for x in a) + "]}, b: {draws: ["
            + ", ".join(_num(x) for x in b) + "]}}")


def _conversion_lines(found: dict, channel: str) -> list[str]:
    """A channel's ``intent`` (where p_qualify differs by channel or segment) and its ``segments``."""
    intent = found.get("intent", {})
    lines = []
    e = intent.get(f"channels.{channel}.intent")
    if e is not None:
        lines += [_note(e, 4), f"    intent: {_intent(e)}\n"]
    entry = found.get("segments", {}).get(channel)
    if not entry:
        return lines
    lines.append("    segments:\n")
    shares = entry["shares"]
    win = entry["win"]["channels"] if entry["win"] and entry["win"]["differ"] else {}
    # The observed shares, at full precision, sum to 1 within the loader's 1e-9.
    for segment, share in shares.items():
        lines += [f"      {_key(segment)}:\n", _note(share, 8), f"        share: {float(share.estimate)!r}\n"]
        own = intent.get(f"channels.{channel}.segments.{segment}.intent")
        if own is not None:
            lines += [_note(own, 8), f"        intent: {_intent(own)}\n"]
        if segment in win:
            lines += [_note(win[segment], 8), f"        win: {_draws(win[segment])}\n"]
        days = {stage: test["channels"][segment] for stage, test in entry.get("days", {}).items()
                if test["differ"] and segment in test["channels"]}
        if days:
            lines.append("        stages:\n")
            for stage, fit in days.items():
                lines += [f"          {_key(stage)}:\n", _note(fit["duration"], 12),
                          f"            duration_days: {_duration(fit)}\n"]
    return lines


def _p_qualify_lines(found: dict, by: dict) -> list[str]:
    """``p_qualify`` under ``qualification:``: the chance itself, or the intent with the chances in the intents."""
    if found.get("intent"):
        e = by["qualification.p_qualify"]
        return [_note(e, 2), "  # the chance to qualify is the lead's intent; each channel's (and segment's) mean "
                             "intent is its own p_qualify (its intent's comment)\n",
                "  p_qualify: {low: 0.0, high: 1.0}\n"]
    if "qualification.p_qualify" in by:
        e = by["qualification.p_qualify"]
        return [_note(e, 2), f"  p_qualify: {_draws(e)}\n"]
    if found.get("leads_from_deals"):
        return ["  p_qualify: 1.0  # no leads table: each deal is its own lead, so every lead becomes a deal\n"]
    return ["  p_qualify: 0.5  # not identified: default\n"]


def _age_lines(found: dict) -> list[str]:
    """``opportunities.age_effect`` where the data identify a part of it (:mod:`sim.calibrate.age`)."""
    if not found:
        return []
    lines = ["  age_effect:  # the lead's age when first worked (days from its creation to its deal's)\n"]
    for key in ("half_life_days", "duration_per_age_day"):
        if key in found:
            lines += [_note(found[key], 4), f"    {key}: {_draws(found[key])}\n"]
    return lines


def scenario_text(found: dict, name: str, currency: str = "USD") -> str:
    """The scenario YAML of the estimates ``found`` (:func:`sim.calibrate.assemble.estimate_all`)."""
    by = {e.path: e for e in found["estimates"]}
    start = found["start"]
    lines = [f"# Calibrated from CRM data by `funnel calibrate` ({name}).\n",
             f"# Each number's provenance is in the comment above it; intervals are {LEVEL:.0%}.\n",
             "# Not identified from the data (defaults used):\n"]
    lines += [f"#   {path}: {why}\n" for path, why in found["not_identified"]]
    # The horizon covers the training months and a forecast year after them, so that the scenario can be
    # run forward and back-tested on the months after the cut without editing it.
    months = min(max(found["months"], 1), 240 - FORECAST_MONTHS)
    lines += [f"name: {yaml.safe_dump(name).splitlines()[0]}\n",
              f"horizon_months: {months + FORECAST_MONTHS}  # {months} training months, {FORECAST_MONTHS} after\n",
              f"start_date: {start.date().isoformat()}\n", f"currency: {currency}\n"]
    channels = [e for e in found["estimates"] if e.path.startswith("channels.") and e.path.endswith(".leads")
                and e.path.count(".") == 2]
    if channels:
        lines.append("channels:\n")
        for e in channels:
            name = e.path.split('.')[1]
            lines += [f"  {yaml.safe_dump(name).splitlines()[0]}:\n", _note(e, 4)]
            lines += _leads(e, months + FORECAST_MONTHS, months)
            if name in found.get("spend", {}):
                spend, spend_months, window = found["spend"][name]
                lines.append(f"    spend: {_num(spend)}  # spend table: the mean a month over {spend_months} months, "
                             f"{window} (a cost: the leads are given)\n")
            lines += _conversion_lines(found, name)
    elif found.get("outbound"):
        lines.append("channels: {}  # every lead in the data is prospected by the reps (outbound)\n")
    else:
        lines.append("channels: {}  # not identified: no leads table\n")
    outbound_intent = found.get("intent", {}).get("outbound.intent")
    if outbound_intent is not None:
        lines += ["outbound:  # the leads the reps prospect (the data's channel outbound)\n", _note(outbound_intent, 2),
                  f"  intent: {_intent(outbound_intent)}\n"]
    lines.append("scoring: {score_noise: 0.0, mql_threshold: 0.0}  # default: every lead is an MQL\n")
    lines.append("qualification:\n")
    lines += _p_qualify_lines(found, by)
    lines += _capacity_lines(found)
    lines += ["opportunities:\n", "  stages:\n"]
    for stage in found["stages"]:
        lines += _stage_lines(stage)
    lines += _age_lines(found.get("age_effect") or {})
    if "opportunities.deal.value" in by:
        e = by["opportunities.deal.value"]
        cv = min(found.get("value_cv") or 0.0, 100)
        value = f"{{dist: lognormal, mean: {_draws(e)}, cv: {_num(cv)}}}" if cv > 1e-3 else _draws(e)
        lines += ["  deal:\n", _note(e, 4), f"    value: {value}\n"]
    else:
        lines.append("  deal: {value: 0.0}  # not identified: no won deal values\n")
    lines += _roles_lines(found)
    return "".join(lines)


def _role_lines(found: dict, role: str, default_fte: int) -> list[str]:
    """One role's ``fte`` (and ``fte_by_month`` from the headcount table), with its provenance."""
    series = found.get("team", {}).get(role)
    schedule, window, rounded, lacking = fte_schedule(found, series) if series else ([], "", [], [])
    if not schedule:
        return [f"    fte: {default_fte}\n"]
    lines = [f"    # fte_by_month: the headcount table's FTE by month, {window} (the training months; the forecast "
             f"months repeat the last, {schedule[-1]})\n"]
    if lacking:
        more = " and more" if len(lacking) > 6 else ""
        lines.append(f"    # the table has no {role} rows for {', '.join(lacking[:6])}{more}: each takes the month "
                     "before it (the table's first month, before it starts)\n")
    if rounded:
        lines.append(f"    # the table's FTE-months are fractional (a rep joined or left mid-month): rounded to whole "
                     f"FTE in {', '.join(rounded[:6])}{' and more' if len(rounded) > 6 else ''}\n")
    lines += [f"    fte: {schedule[0]}  # the first month of fte_by_month\n",
              f"    fte_by_month: [{', '.join(str(n) for n in schedule)}]\n"]
    return lines


def _outbound_lines(found: dict, role: str) -> list[str]:
    """The role's ``outbound_leads_per_month``, where the data's outbound leads are its (sim.calibrate.outbound)."""
    outbound = found.get("outbound")
    if not outbound or outbound["role"] != role:
        return []
    e = outbound["rate"]
    return [_note(e, 4), f"    outbound_leads_per_month: {_draws(e)}\n"]


def _roles_lines(found: dict) -> list[str]:
    """The ``roles:`` block: each role's headcount, a schedule a month where the headcount table has the role."""
    reps = found["reps"]
    team = found.get("team", {})
    ae = max(int(round(reps.get("ae", 1))), 1)
    lines = ["roles:\n", f"  ae:  # from {found.get('reps_source', 'headcount') if 'ae' in reps else 'default'}: "
                         f"{reps.get('ae', 'not identified')}{_last(team.get('ae'))}\n"]
    if team.get("ae"):
        lines.append(f"    # headcount by month: {runs(team['ae'])}\n")
    lines += _role_lines(found, "ae", ae)
    slots = found.get("ae_capacity")
    if slots:
        lines += [f"    # roles.ae.max_open_opportunities: {slots['method']}\n",
                  f"    max_open_opportunities: {slots['value']}\n"]
    else:
        lines.append("    max_open_opportunities: 1000  # not identified: capacity left unbinding\n")
    lines += _outbound_lines(found, "ae")
    if reps.get("sdr"):
        lines += [f"  sdr:  # from headcount: {reps['sdr']}{_last(team.get('sdr'))}\n"]
        if team.get("sdr"):
            lines.append(f"    # headcount by month: {runs(team['sdr'])}\n")
        lines += _role_lines(found, "sdr", max(int(round(reps["sdr"])), 1))
        lines += _outbound_lines(found, "sdr")
    return lines


def validate(text: str, source: str = "<calibrated>"):
    """Parse the calibrated text: each ``{draws: [...]}`` becomes an uncertain setting at the mean of its draws."""
    return parse_scenario(yaml.safe_load(text), source)
