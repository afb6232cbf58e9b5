"""The deciding layer's errors name Python parameters (``initial_reps``, ``bounds``, ``tail``), never a flag."""

import math

import pytest
from paths import SMALL_FIRM, TEACHING

import sim
from sim.decide.compare import Alternative, CompareError, compare, split_alternatives_of, sweep
from sim.decide.objectives import (
    Objective,
    ObjectiveError,
    conditional_value_at_risk,
    make_risk,
    probability_of_target,
    value_at_risk,
)
from sim.decide.optimize import optimize, smallest_budget
from sim.decide.search_space import BudgetTooSmall, OptimizeError
from sim.decide.split import Split, SplitError, vary
from sim.errors import FunnelError


@pytest.fixture(scope="module")
def firm():
    return sim.load_scenario(SMALL_FIRM)


@pytest.fixture(scope="module")
def teaching():
    return sim.load_scenario(TEACHING)


def check_words(exc: FunnelError) -> None:
    """Python names only: every line is ``parameter: message``, and no flag appears anywhere."""
    assert "--" not in str(exc), str(exc)
    lines = exc.lines()
    assert len(lines) == len(exc.problems) >= 1
    assert all(line.startswith(f"{p}: ") for line, (p, _) in zip(lines, exc.problems, strict=True))
    assert "{" not in str(exc)  # every reference to another parameter was filled in
    assert str(exc) == "; ".join(lines)


def refused(error, call, parameters, *messages):
    with pytest.raises(error) as info:
        call()
    exc = info.value
    assert [p for p, _ in exc.problems] == parameters, exc.problems
    assert all(m in str(exc) for m in messages), str(exc)
    check_words(exc)
    return exc


def test_impossible_searches_are_refused_with_the_parameter_named(firm):
    cases = [
        ({"bounds": {"marketing_share": (0.8, 0.2)}}, ["bounds"], "marketing_share: expected (low, high)"),
        ({"bounds": {"tv": (0, 1)}}, ["bounds"], "tv: expected marketing_share or channel_share.<channel>"),
        ({"fixed": ["nosuch"]}, ["fixed"], "'nosuch' is neither a role with a cost nor a spendable channel"),
        ({"min_fte": {"ae": 50}}, ["min_fte"], "cannot be bought with today's budget of 250,000", "or give budget"),
        ({"min_fte": {"sdr": 1}}, ["min_fte"], "no role 'sdr' with a cost_per_fte_year"),
        ({"min_fte": {"ae": 3}, "max_fte": {"ae": 2}}, ["min_fte"], "at least 3 FTE is more than max_fte ae=2"),
        ({"initial_reps": 1}, ["initial_reps"], "expected an integer of at least 2, got 1"),
        ({"max_reps": 5}, ["max_reps"], "must be at least initial_reps (10), got 5"),
        ({"initial_reps": 1, "race_batch": 0, "level": 2}, ["initial_reps", "race_batch", "level"]),
        ({"contenders": 1, "fresh_reps": 1}, ["contenders", "fresh_reps"]),
        ({"delta": -1.0, "channel_step": 0.9}, ["delta", "channel_step"], "expected a positive amount"),
        ({"max_reps": 2_000_000}, ["max_reps"], "must be below 1,000,000"),
        ({"budget": -5.0}, ["budget"], "expected a positive amount, got -5.0"),
    ]
    for kwargs, parameters, *messages in cases:
        exc = refused(OptimizeError, lambda kw=kwargs: optimize(firm, **kw), parameters, *messages)
        assert not isinstance(exc, BudgetTooSmall)
    for kwargs in ({"budget": 10_000.0}, {"min_fte": {"ae": 50}, "budget": 300_000.0}):
        refused(BudgetTooSmall, lambda kw=kwargs: optimize(firm, **kw), ["budget"], "needed (min_fte)")


def test_impossible_budget_searches_are_refused_with_every_problem_at_once(firm):
    refused(OptimizeError, lambda: smallest_budget(firm, target=1.0, probability=1.5, budget_range=(5, 1),
                                                   budget_tolerance=0),
            ["probability", "budget_tolerance", "budget_range"], "expected a probability between 0 and 1, got 1.5")
    refused(OptimizeError, lambda: smallest_budget(firm, target=1.0, probability=0.5, budget_range=(1, 2, 3)),
            ["budget_range"])


def test_impossible_comparisons_are_refused_with_the_parameter_named(teaching):
    twin = teaching.replace(name="twin")
    cases = [
        (lambda: compare({"a": teaching, "b": twin}, reps=2, baseline="c"), ["baseline"], "'c' is not an alternative"),
        (lambda: compare({"a": teaching, "b": twin}, reps=1, level=0, baseline="c"), ["baseline", "reps", "level"]),
        (lambda: compare([Alternative("a", teaching), Alternative("a", twin)], reps=2), ["alternatives"],
         "labels must differ; given more than once: a"),
        (lambda: compare([], reps=2), ["alternatives"], "nothing to compare"),
        (lambda: sweep(teaching, {}, reps=2), ["grid"], "a sweep varies one or two settings, got 0"),
    ]
    for call, parameters, *messages in cases:
        refused(CompareError, call, parameters, *messages)


def test_impossible_splits_are_refused_with_the_setting_named(teaching):
    base = Split(100.0, 0.4, {"a": 1.0, "b": 1.0}, {"ae": 1.0})
    refused(SplitError, lambda: vary(base, "marketing_share", 2.0), ["marketing_share"], "between 0 and 1")
    refused(SplitError, lambda: vary(base, "role_share.ae", 0.5), ["role_share.ae"], "'ae' is the only role")
    refused(SplitError, lambda: split_alternatives_of(teaching, {"marketing_share": [0.3]}, budget=-1.0), ["budget"])
    refused(SplitError, lambda: sweep(teaching, {"marketing_share": [1.2, -0.1]}, reps=2),
            ["marketing_share", "marketing_share"])


def test_objectives_and_risk_measures_are_refused_with_the_parameter_named():
    refused(ObjectiveError, lambda: Objective("profit"), ["objective"], "expected one of contribution")
    refused(ObjectiveError, lambda: value_at_risk(1.5), ["tail"], "expected a share between 0 and 1")
    refused(ObjectiveError, lambda: conditional_value_at_risk(0), ["tail"])
    refused(ObjectiveError, lambda: probability_of_target(math.nan), ["target"], "expected a finite number")
    refused(ObjectiveError, lambda: make_risk("var"), ["tail"], "is needed with risk var (e.g. 0.1 for the worst 10%)")
    refused(ObjectiveError, lambda: make_risk("probability"), ["target"], "is needed with risk probability")
    # A measure that does not use a setting refuses it; every problem at once.
    refused(ObjectiveError, lambda: make_risk("mean", tail=0.1, target=2.0), ["tail", "target"],
            "tail: is only used with risk var or cvar", "target: is only used with risk probability")
    refused(ObjectiveError, lambda: make_risk("cvar", target=2.0), ["tail", "target"])
    refused(ObjectiveError, lambda: make_risk("max", tail=0.1), ["risk"],
            "expected one of mean, var, cvar, probability")
