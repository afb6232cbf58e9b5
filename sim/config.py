"""Scenario files: the pydantic schema and the one place where YAML is read and checked.

A scenario describes one funnel (``../shared/MODEL.md`` sections 1 to 6): marketing
channels, scoring and nurture, SDR qualification, AE opportunities, the teams, the
customers and optionally a budget split. Optional parts are off unless written.
Unknown keys are errors. :func:`load_scenario` reports every problem of a file at
once, one line each, as a :class:`ScenarioError`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sim.distributions import Distribution

__all__ = [
    "DAYS_PER_MONTH",
    "HOURS_PER_DAY",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]

DAYS_PER_MONTH = 365.25 / 12
HOURS_PER_DAY = 24.0  # the model's clock runs in days; waits and work are written in hours

# Numbers are strict: a YAML boolean or a quoted string is not silently a number.
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
Share = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False, strict=True)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
WholeFTE = Annotated[int, Field(ge=0, strict=True)]


def _schedule(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return value


Schedule = Annotated[
    list[NonNegative],
    Field(min_length=1),
    BeforeValidator(_schedule, json_schema_input_type=NonNegative | list[NonNegative]),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class IntentCurve(_Strict):
    """A probability that rises (or falls) linearly with a lead's intent in [0, 1].

    Written as ``{low: 0.1, high: 0.6}`` (the probability at intent 0 and at intent 1)
    or as one number for a probability that does not depend on intent.
    """

    low: Probability = Field(description="Probability at intent 0.")
    high: Probability = Field(description="Probability at intent 1.")

    def at(self, intent):
        """Probability for intent values (scalar or array)."""
        return self.low + (self.high - self.low) * intent


def _curve(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= 1:  # also rejects NaN
            raise ValueError("must be a probability in [0, 1]")
        return {"low": value, "high": value}
    return value


Curve = Annotated[IntentCurve, BeforeValidator(_curve, json_schema_input_type=Probability | IntentCurve)]


class IntentPrior(_Strict):
    """Beta(a, b) distribution of the latent intent of a channel's leads."""

    a: Positive = Field(description="Beta shape a (higher: keener leads).")
    b: Positive = Field(description="Beta shape b (higher: colder leads).")


class HillResponse(_Strict):
    """Hill saturation: ``max_leads * s^shape / (s^shape + half_spend^shape)``."""

    curve: Literal["hill"]
    max_leads: NonNegative = Field(description="Leads per month at unlimited spend.")
    half_spend: Positive = Field(description="Monthly effective spend giving half of max_leads.")
    shape: Positive = Field(1.0, description="Steepness: above 1 gives an S-curve (a threshold of spend).")


class ExponentialResponse(_Strict):
    """Exponential saturation: ``max_leads * (1 - exp(-s / spend_scale))``."""

    curve: Literal["exponential"]
    max_leads: NonNegative = Field(description="Leads per month at unlimited spend.")
    spend_scale: Positive = Field(description="Monthly effective spend reaching 63% of max_leads.")


Response = Annotated[HillResponse | ExponentialResponse, Field(discriminator="curve")]


class Channel(_Strict):
    """A marketing channel: spend schedule, response curve, carryover and lead quality."""

    spend: Schedule = Field(
        [0.0], description="Spend per month: one number, or one per month (the last repeats)."
    )
    history: list[NonNegative] = Field(
        default_factory=list, description="Monthly spend before the window, oldest first."
    )
    response: Response | None = Field(None, description="Leads per month as a function of effective spend.")
    baseline_leads: NonNegative = Field(0.0, description="Spend-independent leads per month.")
    carryover: Share = Field(0.0, description="Geometric carryover of spend per month, in [0, 1).")
    lag_months: Annotated[int, Field(ge=0, le=24, strict=True)] = Field(0, description="Months before spend acts.")
    rate_cv: NonNegative = Field(0.0, description="Coefficient of variation of the month's rate.")
    intent: IntentPrior = Field(IntentPrior(a=2.0, b=5.0), description="Beta prior of the leads' intent.")
    cost_per_lead: NonNegative = Field(0.0, description="Variable cost per lead (e.g. lead purchase).")


class Outbound(_Strict):
    """Quality of the leads that reps prospect themselves."""

    intent: IntentPrior = Field(IntentPrior(a=1.5, b=6.0), description="Beta prior of prospected leads' intent.")
    rate_cv: NonNegative = Field(0.0, description="Coefficient of variation of the month's prospecting yield.")


class Scoring(_Strict):
    """Observed score = intent + Normal(0, score_noise); MQL if score >= mql_threshold."""

    score_noise: NonNegative = Field(0.0, description="Standard deviation of the score's noise around intent.")
    mql_threshold: Annotated[float, Field(ge=-1, le=2, allow_inf_nan=False, strict=True)] = Field(
        0.0, description="Observed score at or above which a lead is an MQL."
    )


class Nurture(_Strict):
    """Nurture for leads below the threshold and for cold leads returned by sales."""

    touch_interval_days: Positive = Field(14.0, description="Days between touches (content, webinars).")
    touch_points: NonNegative = Field(0.05, description="Score added by each touch.")
    dropout: Probability = Field(0.1, description="Chance of dropping out at each touch.")
    max_days: Positive = Field(180.0, description="Days after which a lead leaves nurture.")
    cost_per_lead_month: NonNegative = Field(0.0, description="Nurture program cost per lead per month.")
    max_recycles: Annotated[int, Field(ge=0, le=10, strict=True)] = Field(
        1, description="Times a lead gone cold may come back from nurture."
    )


class Decay(_Strict):
    """Hyperbolic decay of a conversion chance with waiting: ``(1 + wait/half_life) ** -shape``."""

    half_life_hours: Positive = Field(description="Wait at which the chance is 2**-shape of its start.")
    shape: Positive = Field(1.0, description="Steepness of the decay.")


class Qualification(_Strict):
    """MQL -> SQL: a queue of MQLs worked by SDRs (or by AEs when there are no SDRs)."""

    discipline: Literal["fifo", "lifo", "score"] = Field(
        "fifo", description="Queue order: oldest first, newest first, or highest score first."
    )
    work_hours: Distribution = Field(0.5, description="Rep time to work one MQL, hours.")
    p_qualify: Curve = Field(IntentCurve(low=0.5, high=0.5), description="Chance to become an SQL, by intent.")
    decay: Decay | None = Field(None, description="How the chance falls with the wait for first contact.")
    max_wait_days: Positive | None = Field(None, description="Uncontacted this long: cold.")
    sla_hours: Positive = Field(24.0, description="Reported: the share of MQLs contacted within this.")


class Stage(_Strict):
    """One opportunity stage: how long it takes and the chance to advance."""

    name: str = Field(min_length=1)
    duration_days: Distribution = Field(0.0, description="Time spent in the stage, days.")
    advance: Curve = Field(IntentCurve(low=0.5, high=0.5), description="Chance to pass the stage, by intent.")


class Deal(_Strict):
    """What a won deal is worth."""

    kind: Literal["one_off", "subscription"] = Field("one_off", description="One-off revenue, or monthly MRR.")
    value: Distribution = Field(description="One-off amount, or monthly recurring revenue.")
    value_intent: Annotated[list[NonNegative], Field(min_length=2, max_length=2)] = Field(
        [1.0, 1.0], description="Value multiplier at intent 0 and at intent 1 (linear between)."
    )


class Opportunities(_Strict):
    """SQL -> won/lost: AE slots, stages, deal value and what happens when an AE leaves."""

    stages: Annotated[list[Stage], Field(min_length=1)] = [Stage(name="close")]
    deal: Deal = Deal(value=0.0)
    slot_decay: Decay | None = Field(None, description="How the win chance falls while an SQL waits for an AE.")
    on_rep_leaving: Literal["handover", "lose"] = Field(
        "handover", description="What happens to a leaving AE's open deals."
    )
    handover_penalty: Probability = Field(0.2, description="Chance a handed-over deal that would win is lost.")


class Hire(_Strict):
    """A planned hire: decided at the start of ``month`` (0-based), starts after the lead time."""

    month: Annotated[int, Field(ge=0, strict=True)] = Field(description="Month of the hiring decision, from 0.")
    fte: Annotated[int, Field(ge=1, strict=True)] = 1


class Role(_Strict):
    """A sales role's headcount, time use and pay."""

    fte: WholeFTE = Field(0, description="Whole FTE at the start (taken as ramped).")
    hires: list[Hire] = Field(default_factory=list, description="Planned hires.")
    hiring_lead_days: NonNegative = Field(60.0, description="Days from a hiring decision (or a leaver) to a start.")
    ramp_months: NonNegative = Field(0.0, description="Months of linearly rising productivity for a new rep.")
    attrition_year: NonNegative = Field(0.0, description="Annual attrition rate (exponential tenure).")
    backfill: bool = Field(True, description="Refill a seat after a leaver (after hiring_lead_days).")
    cost_per_fte_year: NonNegative = Field(0.0, description="Fully loaded cost per FTE-year.")
    hours_per_day: Annotated[float, Field(gt=0, le=24, allow_inf_nan=False, strict=True)] = Field(
        6.0, description="Selling hours per calendar day."
    )
    prospecting_share: Share = Field(0.0, description="Share of time spent prospecting (outbound).")
    outbound_leads_per_month: NonNegative = Field(0.0, description="Outbound leads per fully ramped FTE per month.")


class SDRRole(Role):
    """Sales development reps: qualify MQLs."""

    bonus_per_sql: NonNegative = Field(0.0, description="Bonus paid per SQL.")


class AERole(Role):
    """Account executives: carry opportunities; qualify MQLs when there are no SDRs."""

    max_open_opportunities: Annotated[int, Field(ge=1, strict=True)] = Field(
        20, description="Deals one fully ramped AE can carry at once."
    )
    commission_rate: Probability = Field(0.0, description="Commission as a share of bookings.")
    account_care_share: Share = Field(0.0, description="Share of AE time serving existing customers.")


class Roles(_Strict):
    """The sales team. Customer success, if staffed, carries the account care."""

    sdr: SDRRole | None = None
    ae: AERole = AERole()
    customer_success: Role | None = None


class Customers(_Strict):
    """Installed base and what customers do each month."""

    installed_base: Annotated[int, Field(ge=0, strict=True)] = Field(0, description="Customers at the start.")
    installed_mrr: Distribution = Field(0.0, description="MRR of each starting customer.")
    churn_month: Probability = Field(0.0, description="Chance a customer leaves in a month.")
    expansion_month: NonNegative = Field(0.0, description="Monthly growth of a kept customer's MRR.")


class Budget(_Strict):
    """A horizon budget split into channel spend and whole-FTE headcount."""

    total: NonNegative = Field(description="Budget for the whole horizon.")
    marketing_share: Probability = Field(description="Share of the total for channel spend.")
    channel_mix: dict[str, NonNegative] = Field(default_factory=dict, description="Relative weights of channels.")
    role_mix: dict[str, NonNegative] = Field(default_factory=dict, description="Relative weights of roles.")


class Scenario(_Strict):
    """A funnel scenario (MODEL.md sections 1 to 6)."""

    name: str = "scenario"
    description: str = ""
    horizon_months: Annotated[int, Field(ge=1, le=240, strict=True)] = Field(description="Simulated months.")
    currency: str = "USD"
    gross_margin: Probability = Field(1.0, description="Share of revenue kept before sales and marketing costs.")
    discount_rate_year: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)] = Field(
        0.0, description="Annual discount rate for the NPV of contribution."
    )
    channels: dict[str, Channel] = Field(default_factory=dict)
    outbound: Outbound = Outbound()
    scoring: Scoring = Scoring()
    nurture: Nurture | None = None
    qualification: Qualification = Qualification()
    opportunities: Opportunities = Opportunities()
    roles: Roles = Roles()
    customers: Customers = Customers()
    budget: Budget | None = None

    @property
    def horizon_days(self) -> float:
        """The simulated window in days."""
        return self.horizon_months * DAYS_PER_MONTH


class ScenarioError(Exception):
    """A scenario file with problems; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def _path(loc) -> str:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _user_loc(data, loc, missing: bool) -> tuple:
    """The part of pydantic's error location that names what the user wrote.

    Pydantic inserts the tags of union branches (``lognormal``, ``hill``...) into
    locations; walking the input alongside the location drops them, while a
    ``missing`` key at the end is kept.
    """
    out = []
    cur = data
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict):
            if item in cur:
                out.append(item)
                cur = cur[item]
            elif last and missing:
                out.append(item)
        elif isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur):
            out.append(item)
            cur = cur[item]
        else:
            break  # a scalar written where a mapping or a list was expected: the path ends here
    return tuple(out)


def _message(err) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `funnel schema`)"
    if kind == "missing":
        return "is required but missing"
    if kind == "finite_number":
        return "must be a finite number, not NaN or infinity"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown kind {ctx.get('tag')!r}, expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        key = err.get("ctx", {}).get("discriminator", "").strip("'")
        return f"needs a `{key}:` key saying which kind it is (see `funnel schema`)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {type(err.get('input')).__name__} {err.get('input')!r}"
    msg = msg.removeprefix("Value error, ")
    if "input" in err and kind not in ("model_type", "dict_type"):
        return f"{msg} (got {err['input']!r})"
    return msg


def _pydantic_problems(data, exc: ValidationError) -> list[str]:
    seen = []
    for err in exc.errors():
        where = _path(_user_loc(data, err["loc"], missing=err["type"] == "missing"))
        line = f"{where}: {_message(err)}"
        if line not in seen:
            seen.append(line)
    return seen


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value if ok else None


def _cross_problems(data: dict) -> list[str]:
    """Checks that need more than one field: schedules, references, budget.

    They read the raw mapping, defensively, so that they run (and report) even when
    some field is wrong on its own; a value of the wrong type is left to the schema.
    """
    out = []
    H = data.get("horizon_months")
    H = H if isinstance(H, int) and not isinstance(H, bool) and H >= 1 else None
    channels = _mapping(data.get("channels"))
    roles = _mapping(data.get("roles"))
    if "outbound" in channels:
        out.append("channels.outbound: the name 'outbound' is reserved for the leads reps prospect themselves")
    for name, ch in channels.items():
        ch = _mapping(ch)
        spend = ch.get("spend")
        if H is not None and isinstance(spend, list) and len(spend) > H:
            out.append(f"channels.{name}.spend: schedule has {len(spend)} months, longer than horizon_months={H}")
        values = spend if isinstance(spend, list) else [spend]
        if ch.get("response") is None and any((_number(x) or 0) > 0 for x in values):
            out.append(f"channels.{name}.response: spend is given but no response curve says what it buys")
    for role_name, role in roles.items():
        hires = _mapping(role).get("hires")
        for i, hire in enumerate(hires if isinstance(hires, list) else []):
            month = _number(_mapping(hire).get("month"))
            if H is not None and month is not None and month >= H:
                out.append(f"roles.{role_name}.hires[{i}].month: {month} is not inside the horizon (0 to {H - 1})")
    ae = _mapping(roles.get("ae"))
    busy = (_number(ae.get("prospecting_share")) or 0) + (_number(ae.get("account_care_share")) or 0)
    if busy >= 1:
        out.append("roles.ae: prospecting_share + account_care_share must be below 1")
    budget = data.get("budget")
    if isinstance(budget, dict):
        total = _number(budget.get("total")) or 0
        share = _number(budget.get("marketing_share"))
        channel_mix = _mapping(budget.get("channel_mix"))
        role_mix = _mapping(budget.get("role_mix"))
        for ch in channel_mix:
            if ch not in channels:
                out.append(f"budget.channel_mix.{ch}: no such channel (defined: {', '.join(channels) or 'none'})")
            elif (_number(channel_mix[ch]) or 0) > 0 and _mapping(channels[ch]).get("response") is None:
                out.append(f"budget.channel_mix.{ch}: channel has no response curve to spend on")
        defined = ["ae", *(r for r in ("sdr", "customer_success") if roles.get(r) is not None)]
        for r in role_mix:
            if r not in defined:
                out.append(f"budget.role_mix.{r}: no such role (defined: {', '.join(defined)})")
            elif (_number(role_mix[r]) or 0) > 0 and not _number(_mapping(roles.get(r)).get("cost_per_fte_year")):
                out.append(f"roles.{r}.cost_per_fte_year: must be above 0 for the budget to buy {r} headcount")
        weights = lambda mix: sum(_number(w) or 0 for w in mix.values())  # noqa: E731
        if share is not None and share > 0 and total > 0 and weights(channel_mix) <= 0:
            out.append("budget.channel_mix: needs a positive weight for some channel when marketing_share > 0")
        if share is not None and share < 1 and total > 0 and weights(role_mix) <= 0:
            out.append("budget.role_mix: needs a positive weight for some role when marketing_share < 1")
    return out


class _Loader(yaml.SafeLoader):
    """``safe_load`` that reads ``1e5`` as a number and refuses a key written twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_scenario(data, source: str = "<scenario>") -> Scenario:
    """Validate a mapping (as read from YAML) into a :class:`Scenario`."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [f"(top level): expected a mapping of keys, got {type(data).__name__}"])
    problems = []
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(data, exc)
    problems += [p for p in _cross_problems(data) if p not in problems]
    if problems:
        raise ScenarioError(source, problems)
    return sc


def load_scenario(path) -> Scenario:
    """Read a YAML scenario file with ``safe_load`` and validate it.

    Raises :class:`ScenarioError` listing every problem, one line each.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [f"cannot read file: {exc}"]) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, [f"(YAML): {where}{problem}"]) from None
    return parse_scenario(data, source)
