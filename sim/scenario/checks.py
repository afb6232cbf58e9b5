"""Checks that need more than one field of a scenario: schedules, references, the budget, names.

They read the raw mapping, defensively, so that they run (and report) even when some
field is wrong on its own, next to pydantic's problems; a value of the wrong type is
left to the schema. :class:`sim.scenario.Scenario` runs them on every construction,
so a scenario built in code or edited with ``replace`` is held to them too.
:func:`stream_problems` checks what only the resolved plan tells: whether each channel's
random stream is its own (:func:`stream_names`).

Names the user gives that become part of other names (a channel's in its random
stream ``arrivals/<channel>`` and its measures ``leads.<channel>``, a stage's in
``stage_advance.<stage>``) are held to :data:`NAME`, so that no name can reach into
another (``outbound/ae/0``, ``a.b``).
"""

from __future__ import annotations

import math
import re
import zlib

from sim.scenario.messages import key_path, shown

__all__ = ["NAME", "SEATS_CHECKED", "cross_field_problems", "stream_names", "stream_problems"]

ROLES = ("sdr", "ae", "customer_success")
# Letters (any alphabet), digits, _, - and spaces; not starting with a space or -, nor
# ending with a space; at most 64 characters.
NAME = re.compile(r"\w(?:[\w -]{0,62}[\w-])?")
NAME_RULE = ("letters, digits, _, - and spaces (starting with a letter, a digit or _, not ending with a space), "
             "at most 64 characters")


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # an int too big for a float: the schema's to say
        return None


def _horizon(data: dict) -> int | None:
    h = data.get("horizon_months")
    return h if isinstance(h, int) and not isinstance(h, bool) and h >= 1 else None


def _spends(channel: dict) -> bool:
    spend = channel.get("spend")
    values = spend if isinstance(spend, list) else [spend]
    return any((_number(x) or 0) > 0 for x in values)


def cross_field_problems(data: dict) -> list[tuple[str, str]]:
    """Every problem that involves more than one field, as ``(field, message)``."""
    out = []
    H = _horizon(data)
    channels = _mapping(data.get("channels"))
    roles = _mapping(data.get("roles"))
    if "outbound" in channels:
        out.append(("channels.outbound", "the name 'outbound' is reserved for the leads reps prospect themselves"))
    for name in channels:
        if isinstance(name, str) and not NAME.fullmatch(name):
            out.append((key_path("channels", name), f"a channel's name may hold {NAME_RULE}; got {shown(name)}"))
    out += _stage_name_problems(data)
    out += _segment_problems(data)
    out += _scoring_problems(data)
    for name, ch in channels.items():
        ch = _mapping(ch)
        for key in ("spend", "leads"):
            schedule = ch.get(key)
            if H is not None and isinstance(schedule, list) and len(schedule) > H:
                out.append((f"channels.{name}.{key}",
                            f"schedule has {len(schedule)} months, longer than horizon_months={H}"))
        if _given_leads(ch):
            out += _given_leads_problems(name, ch)
        elif ch.get("response") is None and _spends(ch):
            out.append((f"channels.{name}.response", "spend is given but no response curve says what it buys"))
    for role_name, role in roles.items():
        out += _fte_schedule_problems(role_name, _mapping(role), H)
        hires = _mapping(role).get("hires")
        for i, hire in enumerate(hires if isinstance(hires, list) else []):
            month = _number(_mapping(hire).get("month"))
            if H is not None and month is not None and month >= H:
                out.append((f"roles.{role_name}.hires[{i}].month",
                            f"{shown(month, 20)} is not inside the horizon (0 to {H - 1})"))
    ae = _mapping(roles.get("ae"))
    busy = (_number(ae.get("prospecting_share")) or 0) + (_number(ae.get("account_care_share")) or 0)
    if busy >= 1:
        out.append(("roles.ae", "prospecting_share + account_care_share must be below 1"))
    budget = data.get("budget")
    if isinstance(budget, dict):
        out += _budget_problems(budget, channels, roles)
    return out


def _fte_schedule(role: dict) -> list | None:
    """A role's ``fte_by_month`` as written (a list), or None when it is not given."""
    schedule = role.get("fte_by_month")
    return schedule if isinstance(schedule, list) else None


def _fte_schedule_problems(name: str, role: dict, horizon: int | None) -> list[tuple[str, str]]:
    """A role's given headcount (``fte_by_month``) is what happened: fte agrees with it; no hires, no attrition."""
    schedule = _fte_schedule(role)
    if schedule is None:
        return []
    out = []
    where = f"roles.{name}"
    if horizon is not None and len(schedule) > horizon:
        out.append((f"{where}.fte_by_month", f"schedule has {len(schedule)} months, longer than "
                                             f"horizon_months={horizon}"))
    first, fte = (_number(schedule[0]) if schedule else None), _number(role.get("fte"))
    if first is not None and fte is not None and fte != first:
        out.append((f"{where}.fte", f"is {shown(fte, 20)} but fte_by_month starts at {shown(first, 20)}; with "
                                    "fte_by_month, fte is its first month (leave fte out, or make them agree)"))
    hires = role.get("hires")
    if isinstance(hires, list) and hires:
        out.append((f"{where}.hires", "expected no hires with fte_by_month (the headcount is given month by month, "
                                      "hires included); leave hires out, or drop fte_by_month"))
    attrition = _number(role.get("attrition_year"))
    if attrition is not None and attrition > 0:
        out.append((f"{where}.attrition_year", "expected 0 with fte_by_month (the headcount is given month by month, "
                                               "leavers included); leave it out, or drop fte_by_month"))
    return out


def _given_leads(channel: dict) -> bool:
    """Whether a channel's leads are given (``leads``) rather than bought by spend through a response curve."""
    return channel.get("leads") is not None


# What makes a channel's leads from its spend: each refused beside given leads, unless it is its default (what
# Scenario.replace writes back for a field that was left out).
_SPEND_DRIVES = {"response": "response curve", "carryover": "carryover", "lag_months": "lag",
                 "history": "spend history", "baseline_leads": "baseline_leads"}


def _given_leads_problems(name: str, channel: dict) -> list[tuple[str, str]]:
    """Beside ``leads``, the fields that make leads from spend (or add to them) make no sense: one line each."""
    out = []
    for key, what in _SPEND_DRIVES.items():
        value = channel.get(key)
        if key == "response":
            given = value is not None
        elif key == "history":
            given = isinstance(value, list) and len(value) > 0
        else:  # a number other than 0 (a value of the wrong type is the schema's to say)
            given = bool(_number(value))
        if not given:
            continue
        why = "they are the month's expected leads" if key == "baseline_leads" else "spend does not drive them"
        out.append((f"channels.{name}.{key}", f"expected no {what} with leads (the leads are given: {why}); "
                                              "leave it out, or drop leads to buy leads with spend"))
    return out


def _stage_name_problems(data: dict) -> list[tuple[str, str]]:
    """Each stage has a name of its own (its measure is ``stage_advance.<name>``), held to :data:`NAME`."""
    out = []
    stages = _mapping(data.get("opportunities")).get("stages")
    first = {}
    for i, stage in enumerate(stages if isinstance(stages, list) else []):
        name = _mapping(stage).get("name")
        if not isinstance(name, str) or not name:
            continue  # the schema's to say
        where = f"opportunities.stages[{i}].name"
        if not NAME.fullmatch(name):
            out.append((where, f"a stage's name may hold {NAME_RULE}; got {shown(name)}"))
        elif name in first:
            out.append((where, f"{name!r} is also the name of stages[{first[name]}]; each stage needs a name of its "
                               "own (it names the measure stage_advance.<name>)"))
        else:
            first[name] = i
    return out


def _segment_problems(data: dict) -> list[tuple[str, str]]:
    """Segments' names and shares, and the channels and stages that stage overrides name (one line each)."""
    out = []
    channels = _mapping(data.get("channels"))
    stages = _mapping(data.get("opportunities")).get("stages")
    stages = stages if isinstance(stages, list) else [{"name": "close"}]  # the schema's default
    stage_names = [n for n in (_mapping(st).get("name") for st in stages) if isinstance(n, str)]
    for i, stage in enumerate(stages):
        for ch in _mapping(_mapping(stage).get("by_channel")):
            if ch not in channels and ch != "outbound":
                out.append((f"opportunities.stages[{i}].by_channel.{ch}",
                            f"no such channel (defined: {', '.join([*channels, 'outbound'])})"))
    for name, ch in channels.items():
        segments = _mapping(_mapping(ch).get("segments"))
        if not segments:
            continue
        shares = [_number(_mapping(seg).get("share")) for seg in segments.values()]
        if all(x is not None for x in shares) and abs(math.fsum(shares) - 1) > 1e-9:
            out.append((f"channels.{name}.segments", f"the segments' shares must sum to 1; they sum to "
                                                     f"{math.fsum(shares):.6g}"))
        for seg_name, seg in segments.items():
            where = f"channels.{name}.segments.{seg_name}"
            if isinstance(seg_name, str) and not NAME.fullmatch(seg_name):
                out.append((where, f"a segment's name may hold {NAME_RULE}; got {shown(seg_name)}"))
            seg = _mapping(seg)
            for stage_name in _mapping(seg.get("stages")):
                if stage_name not in stage_names:
                    out.append((f"{where}.stages.{stage_name}",
                                f"no such stage (defined: {', '.join(stage_names) or 'none'})"))
            last = stage_names[-1] if stage_names else None
            if seg.get("win") is not None and _mapping(_mapping(seg.get("stages")).get(last)).get("advance") \
                    is not None:
                out.append((f"{where}.win", f"win is the advance of the last stage ({last}), also given in "
                                            f"stages.{last}.advance; give one of them"))
    return out


# Scoring by activities draws each activity at every touch, touch by touch: a bound far past any
# nurture programme (daily touches for 20 years are 7,305) keeps a file from asking for millions.
MAX_ACTIVITY_TOUCHES = 10_000
_INTENT_ONLY = {"score_noise": "the noise of the observed score", "mql_threshold": "the observed score of an MQL"}


def _scoring_problems(data: dict) -> list[tuple[str, str]]:
    """Each scoring mode's fields, and only its own (``docs/model.md``, section 2).

    A field of the other mode is refused when it is given a value other than its
    default (what :meth:`Scenario.replace` writes back for a field that was left out).
    """
    from sim.scenario.schema import Nurture
    from sim.scenario.units import DAYS_PER_MONTH

    scoring = _mapping(data.get("scoring"))
    mode = scoring.get("mode", "intent")
    out = []
    if mode == "intent":
        for key in ("mql_points", "activities"):
            if scoring.get(key) not in (None, {}):
                out.append((f"scoring.{key}", "belongs to scoring by activities; write mode: activities to score "
                                              "leads by their activities' points"))
        return out
    if mode != "activities":
        return out  # the schema's to say
    for key, what in _INTENT_ONLY.items():
        value = _number(scoring.get(key))
        if value is not None and value != 0:
            out.append((f"scoring.{key}", f"is for mode intent ({what}); with mode activities a lead is an MQL "
                                          "when its points reach mql_points (leave it out)"))
    if scoring.get("mql_points") is None:
        out.append(("scoring.mql_points", "is required with mode activities: the points at which a lead is an MQL"))
    activities = scoring.get("activities")
    if activities is None or activities == {}:
        out.append(("scoring.activities", "needs at least one activity with mode activities, e.g. "
                                          "{webinar: {points: 30, chance: {low: 0.02, high: 0.4}}}"))
    nurture = data.get("nurture")
    if not isinstance(nurture, dict):
        return out
    points = _number(nurture.get("touch_points"))
    if points is not None and points != Nurture.model_fields["touch_points"].default:
        out.append(("nurture.touch_points", "is for scoring mode intent (the score each touch adds); with mode "
                                            "activities a touch earns its activities' points (leave it out)"))
    default = {k: f.default for k, f in Nurture.model_fields.items()}
    interval, max_days = (_number(nurture.get(k, default[k])) for k in ("touch_interval_days", "max_days"))
    H = _horizon(data)
    if interval is not None and interval > 0 and max_days is not None and H is not None:
        days = min(H * DAYS_PER_MONTH, max_days)
        if days / interval > MAX_ACTIVITY_TOUCHES:
            out.append(("nurture.touch_interval_days", f"gives {days / interval:,.0f} touches within the horizon; "
                                                       f"scoring by activities draws every touch, at most "
                                                       f"{MAX_ACTIVITY_TOUCHES:,} (touch less often)"))
    return out


def _seat_streams(scenario) -> list[tuple[str, int]]:
    """The model's per-seat stream families a valid ``scenario`` uses: ``(prefix, seats)``, names ``prefix + k``.

    A role's seats are those of its plan: its day-one FTE, then its hires.
    """
    teams = scenario.plan.roles
    families = []
    for role_name in ("sdr", "ae"):  # the roles that prospect
        role = getattr(scenario.roles, role_name)
        if role is not None and role.outbound_leads_per_month > 0:
            families.append((f"arrivals/outbound/{role_name}/", teams[role_name].planned_fte))
    families += [(f"headcount/{role_name}/", team.planned_fte) for role_name, team in teams.items()]
    return families


_FIXED_STREAMS = ("arrivals/outbound/months", "customers/installed_base", "parameters")


def _named_streams(scenario) -> list[tuple[str, str]]:
    """The streams named after what the user named, each with the field whose name makes it."""
    out = [(f"arrivals/{name}", key_path("channels", name)) for name in scenario.channels]
    for name, ch in scenario.channels.items():
        if ch.segments:
            out.append((f"segments/{name}", f"{key_path('channels', name)}.segments"))
        for seg_name, seg in ch.segments.items():
            if seg.intent is not None and seg.intent != ch.intent:
                out.append((f"segments/{name}/{seg_name}", f"{key_path('channels', name)}.segments.{seg_name}"))
    return out


def stream_names(scenario) -> list[str]:
    """The names of the random streams one replication of a valid ``scenario`` draws from, as ``sim.model`` names them.

    A stream's generator is seeded by the crc32 of its name (``sim.model.streams``):
    one per channel (``arrivals/<channel>``), the month-to-month variation of
    prospecting (``arrivals/outbound/months``), one per seat of each role that
    prospects (``arrivals/outbound/<role>/<seat>``), one per seat of every role
    (``headcount/<role>/<seat>``) and the installed base (``customers/installed_base``);
    for a channel with segments, ``segments/<channel>`` and, for each segment with an
    intent of its own, ``segments/<channel>/<segment>``.
    """
    names = [own for own, _ in _named_streams(scenario)]
    for prefix, seats in _seat_streams(scenario):
        names += [f"{prefix}{k}" for k in range(seats)]
    return [*names, *_FIXED_STREAMS]


# The model's own stream names, by their crc32, for seats up to this many per role:
# they are distinct from one another (checked up to 20,000), and a run with more seats
# is refused by the model's size limits unless they are raised.
SEATS_CHECKED = 10_000
_MODEL_STREAMS: dict[int, tuple[str, int]] = {}


def _model_stream(crc: int) -> tuple[str, int] | None:
    """The model's stream (a seat family's prefix and the seat, or a fixed name and -1) whose name has ``crc``."""
    if not _MODEL_STREAMS:  # made once, in about 30 ms, so that each check costs a look-up per channel
        prefixes = [*(f"arrivals/outbound/{r}/" for r in ("sdr", "ae")), *(f"headcount/{r}/" for r in ROLES)]
        for prefix in prefixes:
            for k in range(SEATS_CHECKED):
                _MODEL_STREAMS[zlib.crc32(f"{prefix}{k}".encode())] = (prefix, k)
        for name in _FIXED_STREAMS:
            _MODEL_STREAMS[zlib.crc32(name.encode("utf-8"))] = (name, -1)
    return _MODEL_STREAMS.get(crc)


def stream_problems(scenario) -> list[tuple[str, str]]:
    """A channel of a valid ``scenario`` whose random stream would be another's: the crc32 of their names is equal.

    Two names with one crc32 would give two parts of the model the same random
    numbers. A channel is checked against every other channel and against the
    model's streams this scenario uses (:func:`stream_names`), seats up to
    :data:`SEATS_CHECKED` per role.
    """
    out = []
    used = dict(_seat_streams(scenario))
    named = {}
    for own, where in _named_streams(scenario):
        crc = zlib.crc32(own.encode("utf-8"))
        model = _model_stream(crc)
        if crc in named:
            other, what = named[crc], f"the stream {named[crc]!r}"
            if other.startswith("arrivals/") and own.startswith("arrivals/"):
                what = f"channel {other.removeprefix('arrivals/')!r}"
        elif model is not None and (model[1] < 0 or model[1] < used.get(model[0], 0)):
            other = model[0] if model[1] < 0 else f"{model[0]}{model[1]}"
            what = f"the model's stream {other!r}"
        else:
            other = None
        named.setdefault(crc, own)
        if other is None:
            continue
        thing = "segment" if ".segments." in where else "channel"
        out.append((where, f"would share its random stream with {what} (the crc32 of {own!r} and of {other!r} "
                           f"are equal); rename the {thing} (any other name will do)"))
    return out


def _budget_problems(budget: dict, channels: dict, roles: dict) -> list[tuple[str, str]]:
    """A split must set the spend of every channel that spends and the headcount of every paid role."""
    out = []
    channel_mix = _mapping(budget.get("channel_mix"))
    role_mix = _mapping(budget.get("role_mix"))
    if budget.get("marketing_share") is None:
        # Without a split the budget accounts for the plan as written (sim.scenario.plan).
        for key, mix in (("channel_mix", channel_mix), ("role_mix", role_mix)):
            if mix:
                out.append((f"budget.{key}", "needs budget.marketing_share: a mix splits the budget; without "
                                             "marketing_share the budget accounts for the spend and team as written"))
        return out
    total = _number(budget.get("total")) or 0
    share = _number(budget.get("marketing_share"))
    for ch in channel_mix:
        if ch not in channels:
            out.append((f"budget.channel_mix.{ch}", f"no such channel (defined: {', '.join(channels) or 'none'})"))
        elif (_number(channel_mix[ch]) or 0) > 0 and _given_leads(_mapping(channels[ch])):
            out.append((f"budget.channel_mix.{ch}", f"the leads of {ch} are given (channels.{ch}.leads): spend "
                                                    "buys it none, so a split cannot spend on it (give it no "
                                                    "weight)"))
        elif (_number(channel_mix[ch]) or 0) > 0 and _mapping(channels[ch]).get("response") is None:
            out.append((f"budget.channel_mix.{ch}", "channel has no response curve to spend on"))
    for name, ch in channels.items():
        if _given_leads(_mapping(ch)) and _spends(_mapping(ch)):
            out.append((f"channels.{name}.spend", f"a budget split sets every channel's spend, and spend buys {name} "
                                                  "no leads (they are given); leave its spend out, or account for "
                                                  "it in a budget without marketing_share"))
    # A name the mix gets wrong is reported above; the channel it meant is not reported again.
    for name, ch in channels.items() if set(channel_mix) <= set(channels) else ():
        if name not in channel_mix and _spends(_mapping(ch)) and not _given_leads(_mapping(ch)):
            out.append((f"channels.{name}.spend", f"the budget's split sets every channel's spend, and "
                                                  f"budget.channel_mix gives {name} no weight (add one, 0 for none, "
                                                  "or remove this spend)"))
    defined = ["ae", *(r for r in ("sdr", "customer_success") if roles.get(r) is not None)]
    for r in role_mix:
        if r not in defined:
            out.append((f"budget.role_mix.{r}", f"no such role (defined: {', '.join(defined)})"))
        elif (_number(role_mix[r]) or 0) > 0 and not _number(_mapping(roles.get(r)).get("cost_per_fte_year")):
            out.append((f"roles.{r}.cost_per_fte_year", f"must be above 0 for the budget to buy {r} headcount"))
    scheduled = [r for r in defined if _fte_schedule(_mapping(roles.get(r))) is not None]
    out += _split_schedule_problems(scheduled, roles, role_mix)
    for r in defined if set(role_mix) <= set(defined) else ():
        role = _mapping(roles.get(r))
        if r in scheduled:
            continue  # its headcount is given: reported above
        paid = (_number(role.get("cost_per_fte_year")) or 0) > 0
        staffed = (_number(role.get("fte")) or 0) > 0 or bool(role.get("hires"))
        if r not in role_mix and paid and staffed:
            out.append((f"roles.{r}.fte", f"the budget's split sets every paid role's headcount, and "
                                          f"budget.role_mix gives {r} no weight (add one, 0 for none, or set its "
                                          "fte to 0 and drop its hires)"))
    weights = lambda mix: sum(_number(w) or 0 for w in mix.values())  # noqa: E731
    if share is not None and share > 0 and total > 0 and weights(channel_mix) <= 0:
        out.append(("budget.channel_mix", "needs a positive weight for some channel when marketing_share > 0"))
    if share is not None and share < 1 and total > 0 and weights(role_mix) <= 0:
        out.append(("budget.role_mix", "needs a positive weight for some role when marketing_share < 1"))
    return out


def _split_schedule_problems(scheduled: list[str], roles: dict, role_mix: dict) -> list[tuple[str, str]]:
    """A budget split sets the headcount of the roles it pays for: a given headcount (``fte_by_month``) cannot be split.

    A role with a schedule that the split leaves out and that costs nothing is kept as
    written; one that costs something would be paid outside the split, and is refused.
    """
    out = []
    for r in scheduled:
        if r in role_mix:
            out.append((f"budget.role_mix.{r}", f"{r}'s headcount is given (roles.{r}.fte_by_month): a split cannot "
                                                "set it; leave it out of role_mix, or drop fte_by_month"))
        elif (_number(_mapping(roles.get(r)).get("cost_per_fte_year")) or 0) > 0:
            out.append((f"roles.{r}.fte_by_month", "a budget split sets every paid role's headcount, and this one is "
                                                   "given; drop fte_by_month, or account for the team in a budget "
                                                   "without marketing_share"))
    return out
