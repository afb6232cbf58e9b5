"""The scenario schema: every field of a scenario file, with its bounds, units and meaning.

A scenario describes one funnel (``docs/model.md``): marketing channels, scoring and
nurture, SDR qualification, AE opportunities, the teams, the customers and
optionally a budget; and, not simulated, what a sensitivity analysis of it varies
(:class:`SensitivityBlock`). Optional parts are off unless written. Unknown keys are errors.

Constructing a :class:`Scenario` in any way (from a file, from a mapping, with
``Scenario(...)`` or :meth:`Scenario.replace`) runs every check: pydantic's per field,
the cross-field checks of :mod:`sim.scenario.checks`, the resolution of its plan
(:mod:`sim.scenario.plan`) and the check that each channel has a random stream of its
own. All problems are reported at once, one line each, as a
:class:`~sim.scenario.messages.ScenarioError`.
"""

from __future__ import annotations

import copy
import datetime
import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from sim.scenario.distributions import Distribution
from sim.scenario.units import DAYS_PER_MONTH

__all__ = ["Scenario", "SensitivityBlock"]

# Numbers are strict: a YAML boolean or a quoted string is not silently a number.
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
Share = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False, strict=True)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
# Above 2**53 a count is no longer exactly a float (and no funnel has that many of
# anything): past it, the sums and rates the model takes of it would be wrong or overflow.
MAX_COUNT = 2**53
WholeFTE = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]


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


class StageSettings(_Strict):
    """Overrides of one stage's settings for some leads (a channel's or a segment's); the rest is the stage's."""

    duration_days: Distribution | None = Field(None, description="Time spent in the stage, days.")
    advance: Curve | None = Field(None, description="Chance to pass the stage, by intent.")


class Segment(_Strict):
    """A segment of a channel's leads (``docs/model.md``, section 1, Segments).

    Each lead of the channel is of one segment, drawn with the segments' shares. A
    segment may have leads of its own intent, its own win chance (the last stage's
    advance, replaced) and its own stage settings, which take precedence over the
    channel's (``opportunities.stages[i].by_channel``) and the stage's.
    """

    share: Probability = Field(description="Share of the channel's leads in this segment (the shares sum to 1).")
    intent: IntentPrior | None = Field(
        None, description="Beta prior of the segment's intent; the channel's if left out.")
    win: Curve | None = Field(
        None, description="Replaces the last stage's advance chance for this segment's leads.")
    stages: dict[str, StageSettings] = Field(
        default_factory=dict, description="Stage name -> duration_days and/or advance for this segment's leads.")


class Channel(_Strict):
    """A marketing channel: spend schedule, response curve, carryover and lead quality.

    Its expected leads a month come from a response curve on its spend (plus
    ``baseline_leads``), or are given as ``leads``: then spend is only a cost, and the
    response curve, carryover, lag, history and baseline are refused
    (``docs/model.md``, section 1).
    """

    spend: Schedule = Field(
        [0.0], description="Spend per month: one number, or one per month (the last repeats)."
    )
    # Left out of every dump while it is not written, so that a channel without it dumps (and fingerprints) as before.
    leads: Schedule | None = Field(
        None, exclude_if=lambda value: value is None,
        description="Expected leads per month, given (one number, or one per month, the last repeats): the "
                    "month's Poisson mean instead of a response curve; spend is then only a cost.")
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
    # Left out of every dump while it is not written, so that a channel without it dumps (and fingerprints) as before.
    segments: dict[str, Segment] = Field(
        default_factory=dict, exclude_if=lambda value: not value,
        description="Optional: segments of the channel's leads, by name, each with its share (summing to 1).")


class Outbound(_Strict):
    """Quality of the leads that reps prospect themselves."""

    intent: IntentPrior = Field(IntentPrior(a=1.5, b=6.0), description="Beta prior of prospected leads' intent.")
    rate_cv: NonNegative = Field(0.0, description="Coefficient of variation of the month's prospecting yield.")


class Activity(_Strict):
    """Something a lead may do at a touch (download a whitepaper, attend a webinar), worth points."""

    points: Positive = Field(description="Points the lead earns each time it does the activity.")
    chance: Curve = Field(description="Chance to do it at each touch, by intent ({low, high} or one number).")


# Each activity is drawn at every touch of every lead: a bound that no scoring model needs
# keeps a generated file from making every touch that many draws.
MAX_ACTIVITIES = 16


class Scoring(_Strict):
    """How marketing scores a lead and when it is an MQL (``docs/model.md``, section 2).

    ``mode: intent`` (the default): observed score = intent + Normal(0, score_noise);
    MQL if score >= mql_threshold. ``mode: activities``: at each touch the lead does each
    activity with its chance and earns its points; MQL once its points reach mql_points.
    """

    mode: Literal["intent", "activities"] = Field(
        "intent", description="intent: a noisy view of intent against mql_threshold; activities: points for "
                              "activities against mql_points.")
    score_noise: NonNegative = Field(0.0, description="Standard deviation of the score's noise around intent.")
    mql_threshold: Annotated[float, Field(ge=-1, le=2, allow_inf_nan=False, strict=True)] = Field(
        0.0, description="Observed score at or above which a lead is an MQL."
    )
    mql_points: NonNegative | None = Field(
        None, description="mode activities: points at or above which a lead is an MQL.")
    activities: Annotated[dict[str, Activity], Field(max_length=MAX_ACTIVITIES)] = Field(
        default_factory=dict, description="mode activities: what a lead may do at each touch, each with its "
                                          "points and chance.")

    @property
    def by_activities(self) -> bool:
        """Whether leads are scored by the points of their activities (``mode: activities``)."""
        return self.mode == "activities"


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

    discipline: Literal["fifo", "lifo", "score", "sla"] = Field(
        "fifo", description="Queue order: oldest first, newest first, highest score first, or sla: the oldest "
        "MQL still within sla_hours first, and those past it newest first when none within it waits."
    )
    work_hours: Distribution = Field(0.5, description="Rep time to work one MQL, hours.")
    p_qualify: Curve = Field(IntentCurve(low=0.5, high=0.5), description="Chance to become an SQL, by intent.")
    decay: Decay | None = Field(None, description="How the chance falls with the wait for first contact.")
    max_wait_days: Positive | None = Field(None, description="Uncontacted this long: cold.")
    sla_hours: Positive = Field(24.0, description="The share of MQLs contacted within this is reported; with "
                                "discipline sla, the queue is routed by it.")


class Stage(_Strict):
    """One opportunity stage: how long it takes and the chance to advance."""

    name: str = Field(min_length=1)
    duration_days: Distribution = Field(0.0, description="Time spent in the stage, days.")
    advance: Curve = Field(IntentCurve(low=0.5, high=0.5), description="Chance to pass the stage, by intent.")
    # Left out of every dump while it is not written, so that a stage without it dumps (and fingerprints) as before.
    by_channel: dict[str, StageSettings] = Field(
        default_factory=dict, exclude_if=lambda value: not value,
        description="Optional: channel name (or outbound) -> duration_days and/or advance for its leads.")


class Deal(_Strict):
    """What a won deal is worth."""

    kind: Literal["one_off", "subscription"] = Field("one_off", description="One-off revenue, or monthly MRR.")
    value: Distribution = Field(description="One-off amount, or monthly recurring revenue.")
    value_intent: Annotated[list[NonNegative], Field(min_length=2, max_length=2)] = Field(
        [1.0, 1.0], description="Value multiplier at intent 0 and at intent 1 (linear between)."
    )


class AgeEffect(_Strict):
    """How a lead's age when sales first works it (its opportunity's start) changes its deal.

    The win chance is times ``(1 + age/half_life_days) ** -shape`` (the decay of
    :class:`Decay`, in days) and every stage's duration times
    ``1 + duration_per_age_day * age``; ``age`` is days from the lead's arrival.
    """

    half_life_days: Positive | None = Field(
        None, description="Age at which the win chance is 2**-shape of a fresh lead's; none: no decay.")
    shape: Positive = Field(1.0, description="Steepness of the decay.")
    duration_per_age_day: NonNegative = Field(
        0.0, description="Stretch of every stage's duration per day of age: durations times 1 + this * age.")


class Opportunities(_Strict):
    """SQL -> won/lost: AE slots, stages, deal value and what happens when an AE leaves."""

    stages: Annotated[list[Stage], Field(min_length=1)] = [Stage(name="close")]
    deal: Deal = Deal(value=0.0)
    slot_decay: Decay | None = Field(None, description="How the win chance falls while an SQL waits for an AE.")
    on_rep_leaving: Literal["handover", "lose"] = Field(
        "handover", description="What happens to a leaving AE's open deals."
    )
    handover_penalty: Probability = Field(0.2, description="Chance a handed-over deal that would win is lost.")
    # Left out of every dump while it is not written, so that a scenario without it dumps (and fingerprints) as before.
    age_effect: AgeEffect | None = Field(
        None, exclude_if=lambda value: value is None,
        description="Optional: win chance and stage durations by the lead's age at its opportunity's start.")


class Hire(_Strict):
    """A planned hire: decided at the start of ``month`` (0-based), starts after the lead time."""

    month: Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)] = Field(
        description="Month of the hiring decision, from 0.")
    fte: Annotated[int, Field(ge=1, le=MAX_COUNT, strict=True)] = 1


class Role(_Strict):
    """A sales role's headcount, time use and pay.

    The headcount is either planned (``fte`` on day one, ``hires``, random leavers at
    ``attrition_year``, backfilled) or given month by month as ``fte_by_month`` (what
    happened, or a fixed plan): then seat k is filled in the months whose FTE exceeds k,
    a rep joins and leaves at a month's start, and ``hires`` and attrition are refused
    (``docs/model.md``, Teams).
    """

    fte: WholeFTE = Field(0, description="Whole FTE at the start (taken as ramped); with fte_by_month, its first "
                                         "month (left out, it is that).")
    # Left out of every dump while it is not written, so that a role without it dumps (and fingerprints) as before.
    fte_by_month: Annotated[list[WholeFTE], Field(min_length=1)] | None = Field(
        None, exclude_if=lambda value: value is None,
        description="Optional: whole FTE employed in each month from month 0 (the last repeats), in place of fte, "
                    "hires and attrition; a seat that opens after month 0 is a new rep who ramps.")
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

    @model_validator(mode="before")
    @classmethod
    def _fte_from_schedule(cls, data):
        """With ``fte_by_month`` and no ``fte``, ``fte`` is the schedule's first month (so that dumps agree)."""
        if isinstance(data, dict) and "fte" not in data:
            schedule = data.get("fte_by_month")
            first = schedule[0] if isinstance(schedule, list) and schedule else None
            if isinstance(first, int) and not isinstance(first, bool) and 0 <= first <= MAX_COUNT:
                return {**data, "fte": first}
        return data


class SDRRole(Role):
    """Sales development reps: qualify MQLs."""

    bonus_per_sql: NonNegative = Field(0.0, description="Bonus paid per SQL.")


class AERole(Role):
    """Account executives: carry opportunities; qualify MQLs when there are no SDRs."""

    max_open_opportunities: Annotated[int, Field(ge=1, le=MAX_COUNT, strict=True)] = Field(
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

    installed_base: Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)] = Field(
        0, description="Customers at the start.")
    installed_mrr: Distribution = Field(0.0, description="MRR of each starting customer.")
    churn_month: Probability = Field(0.0, description="Chance a customer leaves in a month.")
    expansion_month: NonNegative = Field(0.0, description="Monthly growth of a kept customer's MRR.")


class Budget(_Strict):
    """A budget for the horizon: a split of it, or the accounting of the plan as written.

    With ``marketing_share``, the budget is *split*: that share goes to channel spend
    by ``channel_mix`` and the rest to whole-FTE headcount by ``role_mix``, replacing the
    channels' ``spend`` and the roles' ``fte`` and ``hires``. Without it, the spend and
    the team written in the file are the plan, and the budget accounts for them (they
    must fit in ``total``). Either way ``budget_unspent`` reports what is left.
    """

    total: NonNegative = Field(description="Budget for the whole horizon.")
    marketing_share: Probability | None = Field(
        None, description="Share of the total for channel spend (a split); omit it to account for the plan as written."
    )
    channel_mix: dict[str, NonNegative] = Field(default_factory=dict, description="Relative weights of channels.")
    role_mix: dict[str, NonNegative] = Field(default_factory=dict, description="Relative weights of roles.")


# -- the sensitivity block: how to analyse the scenario, not part of what is simulated ---------------------

def _range(value):
    """A ``[low, high]`` pair of finite numbers with low < high, refused as one problem naming the setting."""
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value)
    if not ok or not value[0] < value[1]:
        raise ValueError("expected [low, high], two numbers with low < high")
    return (float(value[0]), float(value[1]))


Range = Annotated[tuple[float, float], BeforeValidator(_range, json_schema_input_type=list[float])]


def _settings(value):
    if isinstance(value, dict) and not value:
        raise ValueError("expected at least one setting and its range, e.g. roles.sdr.fte: [6, 10]")
    return value


class SensitivityBlock(_Strict):
    """What ``funnel sensitivity FILE`` (and :func:`sim.sensitivity` without ranges) varies, and how.

    Not simulated: ``funnel run`` and every other analysis ignore it, and the
    scenario's fingerprint leaves it out. Each setting's ends are checked as the scenario
    is read (``sensitivity.vary.<path>``). Options given to the command or the function
    override the block's.
    """

    method: Literal["tornado", "morris", "sobol"] = Field("tornado", description="tornado, morris or sobol.")
    samples: Annotated[int, Field(ge=2, le=MAX_COUNT, strict=True)] | None = Field(
        None, description="Morris: trajectories (default 16); Sobol: the base sample (default 64); tornado: unused."
    )
    vary: Annotated[dict[str, Range], Field(min_length=1), BeforeValidator(_settings)] = Field(
        description="Setting path (as `funnel schema` names it) -> [low, high]."
    )


def _start_date(value):
    """An ISO date (``2025-01-01``, or a YAML date), the first day of a month; anything else is one problem."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise ValueError("expected an ISO date, the first day of a month, e.g. 2025-01-01")
    if value.day != 1:
        raise ValueError(f"expected the first day of a month (month 0 starts on it), e.g. "
                         f"{value.replace(day=1).isoformat()}")
    return value


StartDate = Annotated[datetime.date | None, BeforeValidator(_start_date, json_schema_input_type=datetime.date)]


class Scenario(_Strict):
    """A funnel scenario (``docs/model.md``): read one with :func:`sim.load_scenario`.

    Every way of making one validates it whole (see the module docstring); edit one with
    :meth:`replace`, which does too. ``plan`` is what the model runs: spend per channel
    per month and the team per role, with the budget's accounting.
    """

    name: str = "scenario"
    description: str = ""
    horizon_months: Annotated[int, Field(ge=1, le=240, strict=True)] = Field(description="Simulated months.")
    # Left out of every dump while it is not written, so that a scenario without it dumps (and fingerprints) as before.
    start_date: StartDate = Field(
        None, exclude_if=lambda value: value is None,
        description="Optional: the calendar date of day 0, the first day of a month (ISO, e.g. 2025-01-01); the "
                    "monthly series then carry month_start and the lead records dates.")
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
    # Left out of every dump while it is not written, so that a scenario without it dumps (and fingerprints) as before.
    sensitivity: SensitivityBlock | None = Field(
        None, exclude_if=lambda block: block is None,
        description="Optional: what `funnel sensitivity FILE` varies (not simulated).")

    # Left out of every dump while it is empty, so that a scenario without it dumps (and fingerprints) as before.
    uncertain: dict[str, Annotated[list[Annotated[float, Field(allow_inf_nan=False, strict=True)]],
                                   Field(min_length=2)]] = Field(
        default_factory=dict, exclude_if=lambda draws: not draws,
        description="Optional: posterior draws of settings, by dotted path (e.g. qualification.p_qualify.low: "
                    "[0.31, 0.29, ...]); a number may also be written in place as {draws: [...]}. Each "
                    "replication runs one row of draws; lists of the same length are joint.")
    # Top-level fields that say how to analyse the scenario, not what is simulated: the model never reads
    # them, and its fingerprint (sim.montecarlo.store.scenario_fingerprint) leaves them out.
    NOT_SIMULATED: ClassVar[frozenset[str]] = frozenset({"sensitivity"})

    @property
    def horizon_days(self) -> float:
        """The simulated window in days."""
        return self.horizon_months * DAYS_PER_MONTH

    @property
    def plan(self):
        """The resolved :class:`~sim.scenario.plan.Plan`: spend per channel per month, team per role, budget."""
        if "_plan" not in self.__dict__:  # made without validation (model_construct): resolved when asked
            from sim.scenario.plan import resolve_plan

            self.__dict__["_plan"] = resolve_plan(self)
        return self.__dict__["_plan"]

    @model_validator(mode="wrap")
    @classmethod
    def _validate_whole(cls, data: Any, handler, info: ValidationInfo):
        """Field checks, cross-field checks, the plan and the random streams, every problem reported at once.

        Then the ends of the ``sensitivity`` block's ranges, written into the scenario, except
        in a scenario :meth:`replace` makes with the block as it was (checked where it came
        from, and again where it is used).
        """
        from sim.scenario.checks import cross_field_problems, stream_problems
        from sim.scenario.messages import ScenarioError, field_problems
        from sim.scenario.plan import resolve_plan

        if isinstance(data, Scenario):
            return data
        problems: list[tuple[str, str]] = []
        scenario = None
        if isinstance(data, dict):
            from sim.scenario.uncertain import lift_draws

            data, problems = lift_draws(data)
        try:
            scenario = handler(data)
        except ValidationError as exc:
            problems = field_problems(data, exc)
        if isinstance(data, dict):
            found = set(problems)  # not `in problems`: a file of many problems would take quadratic time
            problems += [p for p in cross_field_problems(data) if p not in found]
        if not problems:
            try:
                # Stored beside the fields (not one of them): a valid scenario always has a plan.
                scenario.__dict__["_plan"] = resolve_plan(scenario)
            except ScenarioError as exc:
                problems = exc.problems
            else:
                problems = stream_problems(scenario)
        if not problems and scenario.uncertain:
            from sim.scenario.uncertain import AT_POINT, at_point, uncertain_problems

            # Checked once: the scenario moved to its point values (AT_POINT) has the draws already checked.
            if not (info.context or {}).get(AT_POINT):
                problems = uncertain_problems(scenario)
                # The scenario as read is its point estimate: each setting at the mean of its draws.
                if not problems:
                    scenario = at_point(scenario, info.context)
        if not problems and scenario.sensitivity is not None and not (info.context or {}).get(_REPLACED):
            from sim.scenario.ranges import range_problems

            problems = [(f"sensitivity.vary.{path}", message)
                        for path, message in range_problems(scenario, scenario.sensitivity.vary)]
        if problems:
            raise ScenarioError("<scenario>", problems)
        return scenario

    def replace(self, changes: Mapping[str, Any] | None = None, /, **fields) -> Scenario:
        """A copy with some fields changed, validated whole as a new scenario would be.

        Args:
            changes: dotted paths to new values, as the schema names them:
                ``{"qualification.decay.half_life_hours": 4, "roles.sdr.fte": 6}``. A
                path through a mapping that is not there yet makes it; a number in a
                path indexes a list (``"opportunities.stages.0.advance"``).
            **fields: top-level fields by name (``horizon_months=12``).

        Values may be plain numbers, lists, mappings or the schema's own objects. A setting
        changed is certain at its new value: the draws of it (``uncertain``), or of any
        setting inside it, are dropped, unless the new value is ``{draws: [...]}``. The
        ``sensitivity`` block is checked again only when a change is to it (each end of
        its ranges is a scenario of its own to validate; it is checked where it is used).

        Raises:
            ScenarioError: naming each field that is wrong in the result.
        """
        data = self.model_dump(mode="python", by_alias=True)
        changed = {**(changes or {}), **fields}
        for path, value in changed.items():
            _set(data, str(path), _plain(value))
        _team_replaces_schedule(data, self, list(map(str, changed)))
        # A setting given a new value is certain at it (unless the value is {draws: [...]}, lifted again):
        # its draws, or the draws of any setting inside it, would otherwise override the change.
        uncertain = data.get("uncertain") or {}
        for path in map(str, changed):
            if path.split(".")[0] != "uncertain":
                for drawn_path in [u for u in uncertain if u == path or u.startswith(path + ".")
                                   or path.startswith(u + ".")]:
                    del uncertain[drawn_path]
        touched = any(str(path).split(".")[0] in self.NOT_SIMULATED for path in changed)
        return type(self).model_validate(data, context={_REPLACED: not touched})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Scenario:
        """Pydantic's copy; with ``update``, validated whole (as :meth:`replace`)."""
        if update:
            return self.replace(update)
        return super().model_copy(deep=deep)

    def __repr__(self) -> str:
        roles = [r for r in ("sdr", "ae", "customer_success") if getattr(self.roles, r) is not None]
        return (f"Scenario(name={self.name!r}, horizon_months={self.horizon_months}, "
                f"channels={list(self.channels)}, roles={roles}, budget={self.budget is not None})")

    __str__ = __repr__


_REPLACED = "replaced"  # the validation context of Scenario.replace


def _team_replaces_schedule(data: dict, scenario: Scenario, paths: list[str]) -> None:
    """A change to a role's ``fte`` or ``hires`` replaces its given headcount (``fte_by_month``), unless set too.

    So that ``--set roles.ae.fte=4`` on a calibrated scenario (whose roles are given month by
    month) asks what four AEs would do, rather than contradicting the schedule. A new
    ``fte_by_month`` without a new ``fte`` brings its first month as ``fte``.
    """
    for name in ("sdr", "ae", "customer_success"):
        role = getattr(scenario.roles, name)
        given = (data.get("roles") or {}).get(name) or {}
        if f"roles.{name}.fte_by_month" in paths:
            schedule = given.get("fte_by_month")
            if f"roles.{name}.fte" not in paths and isinstance(schedule, list) and schedule:
                given["fte"] = schedule[0]  # fte is the new schedule's first month, as when it is written
            continue
        if role is None or role.fte_by_month is None:
            continue
        team = (f"roles.{name}.fte", f"roles.{name}.hires")
        if any(p in team or p.startswith(f"roles.{name}.hires.") for p in paths):
            data["roles"][name].pop("fte_by_month", None)


def validate_certain(data: dict) -> Scenario:
    """The scenario of ``data`` (a dump without ``uncertain``), its sensitivity block taken as checked."""
    return Scenario.model_validate(data, context={_REPLACED: True})


def _plain(value):
    """A value as the schema reads it: the schema's objects dumped back to mappings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", by_alias=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def _set(data: dict, path: str, value) -> None:
    """Set ``data`` at the dotted ``path``, making the mappings on the way that are not there yet."""
    from sim.scenario.messages import ScenarioError

    parts = path.split(".")
    cur = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "(top level)"
        if isinstance(cur, list):
            if not part.isdigit() or int(part) >= len(cur):
                raise ScenarioError("<scenario>", [(path, f"{where} is a list of {len(cur)}; expected an index "
                                                          f"from 0 to {len(cur) - 1}, got {part!r}")])
            key = int(part)
        elif isinstance(cur, dict):
            key = part
        else:
            raise ScenarioError("<scenario>", [(path, f"{where} is {cur!r}, not a mapping or a list")])
        if last:
            cur[key] = value
        else:
            if isinstance(cur, dict) and cur.get(key) is None:
                cur[key] = {}
            cur = cur[key]
