"""A given headcount (``roles.<role>.fte_by_month``): seats, ramp, costs, the fluid team and common random numbers."""

import math

import numpy as np
import pytest
from builders import assert_same_metrics, edited, make
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.model.fluid import approximate
from sim.model.fluid_team import team_curve
from sim.model.leads import Columns, lead_blocks
from sim.model.measures import _slot_months
from sim.model.streams import Streams
from sim.model.team import draw_seats, fte_by_month
from sim.scenario import parse_scenario

H = 6  # BASE's horizon


def _with_schedule(role="sdr", schedule=(2,), **settings_):
    return make(**{f"roles__{role}__fte": None, f"roles__{role}__fte_by_month": list(schedule),
                   **{f"roles__{role}__{k}": v for k, v in settings_.items()}})


def _padded(schedule, horizon=H):
    return np.array(list(schedule) + [schedule[-1]] * (horizon - len(schedule)), dtype=float)


def _seats(scenario, role="sdr", seed=0):
    return draw_seats(role, getattr(scenario.roles, role), scenario.plan.roles[role], scenario.horizon_days,
                      Streams(seed))


schedules = st.lists(st.integers(0, 6), min_size=1, max_size=H)


@settings(max_examples=60, deadline=None)
@given(schedules)
def test_the_simulated_fte_by_month_is_the_schedule_exactly(schedule):
    scenario = _with_schedule("sdr", schedule, ramp_months=1.5)
    seats = _seats(scenario)
    assert np.array_equal(fte_by_month(seats, H), _padded(schedule))
    assert scenario.roles.sdr.fte == schedule[0]  # fte left out is the first month
    # Seat k is filled exactly in the months whose FTE exceeds k; reps start and leave at month starts.
    edges = np.arange(H + 1) * sim.scenario.units.DAYS_PER_MONTH
    for seat in seats:
        for ten in seat.tenures:
            assert ten.start in edges and (ten.end in edges or ten.end == math.inf)
            assert ten.ramped_at_start == (ten.start == 0)  # a seat that opens later is a new rep, ramping
        filled = [any(t.start <= edges[m] < t.end for t in seat.tenures) for m in range(H)]
        assert filled == list(_padded(schedule) > seat.index)


def test_a_full_run_employs_the_schedule_and_charges_its_fte_months():
    schedule = [2, 3, 1, 0, 4]  # a seat opens, closes, reopens; a month with no SDR at all
    scenario = _with_schedule("sdr", schedule, ramp_months=1.0)
    result = sim.simulate(scenario, seed=4)
    assert np.array_equal(result.monthly["fte_sdr"].to_numpy(), _padded(schedule))
    cost = scenario.roles.sdr.cost_per_fte_year
    # The cost identity: salaries are the FTE-months employed times the yearly cost over 12.
    assert result.metrics["cost.salaries_sdr"] == pytest.approx(_padded(schedule).sum() * cost / 12, rel=1e-12)
    assert result.metrics["fte_months.sdr"] == pytest.approx(_padded(schedule).sum(), rel=1e-12)
    assert result.metrics["fte_end.sdr"] == schedule[-1]


def test_ae_slots_offered_follow_the_schedule():
    schedule = [1, 3, 3, 2]
    scenario = _with_schedule("ae", schedule)
    seats = _seats(scenario, "ae")
    offered = _slot_months(seats, scenario.roles.ae.max_open_opportunities, 1.0, 0.0, H)
    assert offered == pytest.approx(_padded(schedule) * scenario.roles.ae.max_open_opportunities, rel=1e-12)


def test_a_constant_schedule_is_fte_without_attrition_bit_for_bit():
    planned = make(roles__sdr__fte=3, roles__sdr__ramp_months=2, roles__sdr__outbound_leads_per_month=10)
    given_ = _with_schedule("sdr", [3], ramp_months=2, outbound_leads_per_month=10)
    assert planned.plan.roles["sdr"].planned_fte == given_.plan.roles["sdr"].planned_fte == 3
    for seed in (0, 1):
        assert_same_metrics(sim.simulate(planned, seed=seed).metrics, sim.simulate(given_, seed=seed).metrics)
    assert approximate(planned) == approximate(given_)
    # Without fte_by_month a role dumps as before: no new key in the dump, so fingerprints stay.
    assert "fte_by_month" not in planned.model_dump()["roles"]["sdr"]


def _ramped_fte_months(schedule, ramp_months=1):
    """Productivity FTE-months of a schedule by hand: a rep who joins in month a > 0 works half of month a."""
    s = _padded(schedule)
    out = 0.0
    for k in range(int(s.max())):
        filled = s > k
        for m in range(H):
            if filled[m]:
                joined_now = m > 0 and not filled[m - 1]
                out += 0.5 if joined_now and ramp_months == 1 else 1.0
    return out


@pytest.mark.parametrize("schedule", [[2, 3, 1, 0, 4], [0, 0, 2], [1, 2, 3, 4, 5, 6], [4, 2, 4, 2]])
def test_the_fluid_team_and_the_des_agree_on_fte_and_ramp(schedule):
    scenario = _with_schedule("sdr", schedule, ramp_months=1, outbound_leads_per_month=20)
    curve = team_curve(scenario.roles.sdr, scenario.plan.roles["sdr"], H)
    assert np.array_equal(curve.fte_months, fte_by_month(_seats(scenario), H))
    # A one-month linear ramp averages 1/2 over the month a rep joins (an analytic value, not the grid's).
    assert curve.productivity.sum() == pytest.approx(_ramped_fte_months(schedule), rel=1e-12)
    if 0 in schedule:
        return  # the fast approximation's queue needs a qualifier in every month (as with fte 0 and a later hire)
    fast = approximate(scenario)
    assert fast["leads.outbound"] == pytest.approx(20 * _ramped_fte_months(schedule), rel=1e-12)
    assert fast["fte_months.sdr"] == pytest.approx(_padded(schedule).sum(), rel=1e-12)


def test_the_des_outbound_leads_follow_the_ramped_schedule_within_monte_carlo_error():
    schedule = [1, 3, 3, 0, 2]
    scenario = _with_schedule("sdr", schedule, ramp_months=1, outbound_leads_per_month=30)
    outbound = np.array([sim.simulate(scenario, seed=s, lead_records=False).metrics["leads.outbound"]
                         for s in range(40)], dtype=float)
    expected = 30 * _ramped_fte_months(schedule)  # Poisson: variance = mean
    assert abs(outbound.mean() - expected) < 4 * math.sqrt(expected / len(outbound))


def _outbound_blocks(scenario, seed):
    seats = {name: _seats(scenario, name, seed) for name in ("sdr", "ae")}
    blocks = lead_blocks(scenario, scenario.plan, seats, Streams(seed), Columns.of(scenario))
    return [b for b in blocks if b.channel == len(scenario.channels)]


def test_a_seat_added_later_leaves_the_other_seats_draws_unchanged():
    base = _with_schedule("sdr", [2, 2, 2, 2], outbound_leads_per_month=15)
    more = _with_schedule("sdr", [2, 2, 3, 3, 2], outbound_leads_per_month=15)
    for seed in (0, 1, 2):
        small, big = _outbound_blocks(base, seed), _outbound_blocks(more, seed)
        assert len(small) == 2 and len(big) == 3
        for a, b in zip(small, big[:2], strict=False):
            assert np.array_equal(a.arrival, b.arrival) and np.array_equal(a.intent, b.intent)
        assert [s.tenures for s in _seats(base, seed=seed)] == [s.tenures for s in _seats(more, seed=seed)[:2]]


def test_the_budget_accounts_for_a_given_headcount():
    schedule = [2, 3, 3, 1]
    data = edited(roles__sdr={"fte_by_month": schedule, "cost_per_fte_year": 60000},
                  budget={"total": 10_000_000})
    scenario = parse_scenario(data)
    result = sim.simulate(scenario, seed=0)
    assert scenario.plan.budget.salaries["sdr"] == pytest.approx(_padded(schedule).sum() * 60000 / 12, rel=1e-12)
    assert result.metrics["budget_vacancies"] == 0.0  # every seat the schedule gives is filled


@pytest.mark.parametrize(("changes", "field"), [
    ({"roles__ae__fte_by_month": [1, 2], "roles__ae__fte": 2}, "roles.ae.fte"),
    ({"roles__ae__fte_by_month": [1, 2], "roles__ae__hires": [{"month": 1}]}, "roles.ae.hires"),
    ({"roles__ae__fte_by_month": [1, 2], "roles__ae__attrition_year": 0.3}, "roles.ae.attrition_year"),
    ({"roles__ae__fte_by_month": [1] * (H + 1)}, "roles.ae.fte_by_month"),
    ({"roles__ae__fte_by_month": [1, 1.5]}, "roles.ae.fte_by_month[1]"),
])
def test_what_a_given_headcount_refuses_is_one_line_naming_the_field(changes, field):
    changes = {"roles__ae__fte": None, **changes}
    with pytest.raises(sim.ScenarioError) as info:
        parse_scenario(edited(**changes))
    assert [f for f, _ in info.value.problems] == [field]


def test_replace_keeps_fte_and_the_schedule_together():
    scenario = _with_schedule("ae", [1, 2, 3])
    again = scenario.replace({"roles.ae.ramp_months": 1.0})  # dumps fte: 1 beside the schedule: still agrees
    assert again.plan.roles["ae"].fte_by_month == (1, 2, 3, 3, 3, 3)
    back = scenario.replace({"roles.ae.fte_by_month": None})
    assert back.plan.roles["ae"].fte_by_month is None and back.roles.ae.fte == 1


def test_a_shorter_horizon_cuts_the_schedule():
    from sim.decide.horizon import at_horizon

    shorter = at_horizon(_with_schedule("ae", [1, 2, 3, 4, 5, 6]), 3)
    assert shorter.roles.ae.fte_by_month == [1, 2, 3] and shorter.horizon_months == 3


def test_the_size_estimate_counts_a_given_headcounts_seats_and_reps():
    from sim.model.size import estimate_size

    scenario = _with_schedule("ae", [2, 0, 3, 1, 4])  # 2 + 3 + 3 reps join: 8 tenures in 4 seats
    size = estimate_size(scenario)
    base = estimate_size(_with_schedule("ae", [0]))
    assert size.seats - base.seats == 4
    assert size.tenures - base.tenures == 8 == sum(len(s.tenures) for s in _seats(scenario, "ae"))
    assert size.drivers["seats"] in ("roles.ae.fte_by_month", "roles.sdr.fte")  # the field that sets the seats
    assert size.seconds > base.seconds


def test_sdr_capacity_follows_the_schedule():
    scenario = _with_schedule("sdr", [2, 0, 0, 2])  # BASE's AEs do not qualify: with an SDR role, SDRs do
    for seed in (0, 1):
        sqls = sim.simulate(scenario, seed=seed, lead_records=False).monthly["sqls"].to_numpy()
        # A leaving SDR finishes the MQL in hand (half an hour), so month 1 has at most one SQL per SDR of month 0.
        assert sqls[1] <= 2 and sqls[2] == 0 and sqls[0] > 0 and sqls[3] > sqls[0]  # then the backlog is worked


def test_a_what_if_on_the_team_replaces_a_given_headcount():
    """--set roles.ae.fte=4 on a calibrated scenario asks about four AEs, not about a contradiction."""
    given = sim.parse_scenario({"name": "x", "horizon_months": 6, "channels": {"a": {"leads": 10.0}},
                                "roles": {"ae": {"fte_by_month": [1, 2, 3]}}})
    four = given.replace({"roles.ae.fte": 4})
    assert four.roles.ae.fte_by_month is None and four.roles.ae.fte == 4
    assert four.replace({"roles.ae.fte": 1}) == given.replace({"roles.ae.fte": 1})  # the schedule is gone for good
    hired = given.replace({"roles.ae.hires": [{"month": 2, "fte": 1}]})
    assert hired.roles.ae.fte_by_month is None and hired.roles.ae.fte == 1 and len(hired.roles.ae.hires) == 1
    other = given.replace({"roles.ae.fte_by_month": [2, 2]})
    assert other.roles.ae.fte_by_month == [2, 2] and other.roles.ae.fte == 2  # its first month
    both = given.replace({"roles.ae.fte_by_month": [3, 1], "roles.ae.fte": 3})
    assert both.roles.ae.fte_by_month == [3, 1]
    # Seats follow the new team exactly: four from day one, all month long.
    assert sim.simulate(four, seed=1).monthly["fte_ae"].tolist() == [4.0] * 6


@pytest.mark.parametrize("ae", [{"fte_by_month": [0, 2, 2]}, {"fte": 0, "hires": [{"month": 1, "fte": 2}]}])
def test_the_fast_approximation_refuses_a_month_without_a_qualifier_before_one(ae):
    """Those MQLs wait for the first rep in the simulation; the approximation's month-by-month queue would lose them."""
    scenario = sim.parse_scenario({"name": "x", "horizon_months": 6, "channels": {"a": {"leads": 100.0}},
                                   "roles": {"ae": ae}})
    with pytest.raises(sim.ScenarioError) as caught:
        approximate(scenario)
    assert len(caught.value.problems) == 1 and "use the simulation" in caught.value.problems[0][1]
    assert caught.value.problems[0][0].startswith("roles.ae.")


def test_a_month_without_reps_gives_the_queue_numbers_not_nan():
    from sim.model.fluid_queue import queue_months

    qm = queue_months(np.array([10.0, 10.0]), np.array([0.0, 2.0]), np.array([1e-12, 8.0]), 30.0,
                      lambda x: np.ones_like(x), "fifo", 0.0)
    assert np.isfinite(qm.p_cold).all() and qm.p_cold[0] == 1.0 and qm.served_decay[0] == 0.0


def test_a_shorter_horizon_cuts_a_given_leads_schedule_and_keeps_its_draws():
    from sim.decide.horizon import at_horizon

    given = sim.parse_scenario({"name": "x", "horizon_months": 6,
                                "channels": {"a": {"leads": [1.0, {"draws": [2.0, 4.0]}, 3, 4, 5, 6]}}})
    shorter = at_horizon(given, 3)
    assert shorter.horizon_months == 3 and shorter.channels["a"].leads == [1.0, 3.0, 3.0]
    assert shorter.uncertain == {"channels.a.leads.1": [2.0, 4.0]}  # month 1 still uncertain, its draws as given
