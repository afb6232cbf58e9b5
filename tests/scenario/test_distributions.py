"""Distributions: analytic moments against large samples, ppf against scipy, repr, parsing.

Tolerances come from the Monte Carlo error of the sample (5 standard errors), never
from numbers copied from one seed's output.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from scipy import stats

import sim.scenario.distributions as D
from sim.scenario.distributions import (
    Beta,
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Triangular,
    Uniform,
)

N_DRAWS = 200_000
SEED = 20240611
Z = 5.0  # standard errors allowed

CASES = {
    "deterministic": Deterministic(value=4.0),
    "deterministic_zero": Deterministic(value=0.0),
    "exponential": Exponential(dist="exponential", mean=30.0),
    "gamma": Gamma(dist="gamma", mean=10.0, cv=0.5),
    "gamma_high_cv": Gamma(dist="gamma", mean=2.0, cv=2.0),
    "lognormal": LogNormal(dist="lognormal", mean=30.0, cv=0.6),
    "lognormal_low_cv": LogNormal(dist="lognormal", mean=0.5, cv=0.1),
    "triangular": Triangular(dist="triangular", low=1.0, mode=2.0, high=6.0),
    "triangular_mode_low": Triangular(dist="triangular", low=0.0, mode=0.0, high=5.0),
    "triangular_mode_high": Triangular(dist="triangular", low=2.0, mode=5.0, high=5.0),
    "uniform": Uniform(dist="uniform", low=2.0, high=7.0),
    "beta": Beta(dist="beta", a=2.0, b=5.0),
    "beta_scaled_u_shape": Beta(dist="beta", a=0.5, b=0.5, scale=100.0),
    "empirical": Empirical(dist="empirical", values=[900.0, 1200.0, 4000.0]),
    "empirical_repeats": Empirical(dist="empirical", values=[1.0, 1.0, 2.0, 10.0]),
    "empirical_single": Empirical(dist="empirical", values=[5.0]),
}


def _distribution_classes():
    return {
        obj for name in D.__all__ if inspect.isclass(obj := getattr(D, name)) and issubclass(obj, BaseModel)
    }


def test_every_distribution_class_is_covered():
    classes = _distribution_classes()
    assert len(classes) == 8
    assert {type(d) for d in CASES.values()} == classes


# ---------------------------------------------------------------------------------
# Moments: analytic against a large sample.


@pytest.fixture(scope="module", params=sorted(CASES), ids=str)
def case(request):  # one large sample per distribution, shared by the three tests that read it
    dist = CASES[request.param]
    rng = np.random.default_rng(SEED)
    return dist, dist.sample(rng, N_DRAWS)


def test_sample_has_the_requested_size(case):
    dist, x = case
    assert x.shape == (N_DRAWS,)
    assert np.all(np.isfinite(x))
    assert np.all(x >= 0)


def test_mean_agrees_with_sample(case):
    dist, x = case
    se = math.sqrt(dist.variance / N_DRAWS)
    assert abs(x.mean() - dist.mean) <= Z * se, (x.mean(), dist.mean, se)


def test_variance_agrees_with_sample(case):
    dist, x = case
    s2 = x.var(ddof=1)
    # Standard error of the sample variance from the sample's fourth central moment.
    m4 = np.mean((x - x.mean()) ** 4)
    se = math.sqrt(max(m4 - s2**2, 0.0) / N_DRAWS)
    assert abs(s2 - dist.variance) <= Z * se, (s2, dist.variance, se)


def test_deterministic_sample_is_constant():
    x = Deterministic(value=2.5).sample(np.random.default_rng(SEED), 100)
    assert np.all(x == 2.5)


def test_sample_uses_the_generator_passed_in():
    dist = CASES["lognormal"]
    a = dist.sample(np.random.default_rng(1), 50)
    b = dist.sample(np.random.default_rng(1), 50)
    c = dist.sample(np.random.default_rng(2), 50)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


# ---------------------------------------------------------------------------------
# ppf against scipy.stats.

U_GRID = np.concatenate([[0.0, 1e-12, 1e-6, 1e-3], np.linspace(0.01, 0.99, 99), [0.999, 1 - 1e-9]])


def _scipy_equivalent(dist):
    if isinstance(dist, Exponential):
        return stats.expon(scale=dist.mean)
    if isinstance(dist, Gamma):
        shape = 1 / dist.cv**2
        return stats.gamma(a=shape, scale=dist.mean / shape)
    if isinstance(dist, LogNormal):
        sigma = math.sqrt(math.log(1 + dist.cv**2))
        return stats.lognorm(s=sigma, scale=dist.mean / math.sqrt(1 + dist.cv**2))
    if isinstance(dist, Triangular):
        width = dist.high - dist.low
        return stats.triang(c=(dist.mode - dist.low) / width, loc=dist.low, scale=width)
    if isinstance(dist, Uniform):
        return stats.uniform(loc=dist.low, scale=dist.high - dist.low)
    if isinstance(dist, Beta):
        return stats.beta(dist.a, dist.b, scale=dist.scale)
    raise TypeError(dist)


SCIPY_CASES = [
    Exponential(dist="exponential", mean=30.0),
    Exponential(dist="exponential", mean=0.25),
    Gamma(dist="gamma", mean=10.0, cv=0.5),
    Gamma(dist="gamma", mean=2.0, cv=2.0),
    Gamma(dist="gamma", mean=100.0, cv=1.0),
    LogNormal(dist="lognormal", mean=30.0, cv=0.6),
    LogNormal(dist="lognormal", mean=0.5, cv=1.5),
    Triangular(dist="triangular", low=1.0, mode=2.0, high=6.0),
    Triangular(dist="triangular", low=0.0, mode=0.0, high=5.0),
    Triangular(dist="triangular", low=2.0, mode=5.0, high=5.0),
    Uniform(dist="uniform", low=2.0, high=7.0),
    Uniform(dist="uniform", low=0.0, high=1.0),
    Beta(dist="beta", a=2.0, b=5.0),
    Beta(dist="beta", a=0.5, b=0.5, scale=100.0),
    Beta(dist="beta", a=8.0, b=1.5, scale=3.0),
]


@pytest.mark.parametrize("dist", SCIPY_CASES, ids=repr)
def test_ppf_matches_scipy(dist):
    expected = _scipy_equivalent(dist).ppf(U_GRID)
    np.testing.assert_allclose(dist.ppf(U_GRID), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dist", SCIPY_CASES, ids=repr)
def test_scipy_equivalent_has_the_same_moments(dist):
    # Guards the parameter translation above: the scipy twin has the analytic moments.
    ref = _scipy_equivalent(dist)
    assert ref.mean() == pytest.approx(dist.mean, rel=1e-12)
    assert ref.var() == pytest.approx(dist.variance, rel=1e-9)


def test_empirical_ppf_gives_each_value_an_equal_share():
    values = [7.0, 3.0, 9.0, 3.0, 1.0]
    dist = Empirical(dist="empirical", values=values)
    ordered = sorted(values)
    n = len(values)
    for k, v in enumerate(ordered):
        u = np.linspace(k / n, (k + 1) / n, 50, endpoint=False)
        assert np.all(dist.ppf(u) == v)
    assert dist.ppf(np.array([1.0]))[0] == max(values)
    assert dist.mean == pytest.approx(np.mean(values))
    assert dist.variance == pytest.approx(np.var(values))


def test_empirical_keeps_its_values_sorted():
    assert Empirical(values=[30, 1, 10]).values == [1, 10, 30]
    assert Empirical(dist="empirical", values=[5.0, 5.0, 2.0]).values == [2.0, 5.0, 5.0]
    assert repr(Empirical(values=[3.0, 1.0])) == "Empirical(values=[1.0, 3.0])"
    # However it is made: in a scenario, and through replace.
    from sim import parse_scenario

    sc = parse_scenario({"horizon_months": 3, "opportunities": {"deal": {"value": {"dist": "empirical",
                                                                                 "values": [900, 100, 400]}}}})
    assert sc.opportunities.deal.value.values == [100, 400, 900]
    edited = sc.replace({"opportunities.deal.value.values": [3, 2, 1]})
    assert edited.opportunities.deal.value.values == [1, 2, 3]


any_values = st.lists(st.floats(0, 1e6), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(values=any_values, u=st.lists(st.integers(0, 2**53 - 1).map(lambda k: k / 2**53), min_size=2, max_size=50))
def test_empirical_ppf_is_non_decreasing_in_any_input_order(values, u):
    x = Empirical(values=values).ppf(np.sort(np.asarray(u)))
    assert np.all(np.diff(x) >= 0), (values, u, x)


@settings(max_examples=60, deadline=None)
@given(values=any_values, data=st.data())
def test_empirical_distribution_is_unchanged_by_sorting(values, data):
    # Each written value is equally likely: the k-th of n equal parts of [0, 1) gives one value
    # each, and together the parts give the multiset of values written, in whatever order.
    shuffled = data.draw(st.permutations(values))
    dist = Empirical(values=shuffled)
    n = len(values)
    u = (np.arange(n) + 0.5) / n
    assert Counter(dist.ppf(u).tolist()) == Counter(values)
    assert dist == Empirical(values=sorted(values))
    assert dist.mean == pytest.approx(float(np.mean(values)), rel=1e-12, abs=1e-9)
    assert dist.variance == pytest.approx(float(np.var(values)), rel=1e-9, abs=1e-6)
    # A large sample agrees with the written values' frequencies (binomial bound per value).
    draws = dist.sample(np.random.default_rng(len(values)), 4000)
    for value, count in Counter(values).items():
        p = count / n
        assert abs((draws == value).mean() - p) <= 5 * math.sqrt(p * (1 - p) / 4000) + 1e-12


def test_ppf_keeps_the_shape_of_u():
    u = np.full((3, 4), 0.5)
    for dist in CASES.values():
        assert np.shape(dist.ppf(u)) == (3, 4), repr(dist)


# ---------------------------------------------------------------------------------
# ppf is a quantile function: non-decreasing in u and inside the support.

positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)
cvs = st.floats(min_value=0.05, max_value=3.0)
shapes = st.floats(min_value=0.2, max_value=50.0)


@st.composite
def triangulars(draw):
    low, mode, high = sorted(draw(st.lists(st.floats(0, 1e4), min_size=3, max_size=3)))
    if low == high:
        high = low + 1.0
    return Triangular(dist="triangular", low=low, mode=mode, high=high)


@st.composite
def uniforms(draw):
    low, high = sorted(draw(st.lists(st.floats(0, 1e4), min_size=2, max_size=2)))
    if low == high:
        high = low + 1.0
    return Uniform(dist="uniform", low=low, high=high)


any_distribution = st.one_of(
    st.builds(Deterministic, value=st.floats(0, 1e6)),
    st.builds(Exponential, dist=st.just("exponential"), mean=positive),
    st.builds(Gamma, dist=st.just("gamma"), mean=positive, cv=cvs),
    st.builds(LogNormal, dist=st.just("lognormal"), mean=positive, cv=cvs),
    triangulars(),
    uniforms(),
    st.builds(Beta, dist=st.just("beta"), a=shapes, b=shapes, scale=positive),
    st.builds(
        Empirical,
        dist=st.just("empirical"),
        values=st.lists(st.floats(0, 1e6), min_size=1, max_size=20),
    ),
)
# The uniforms that sample() feeds to ppf: numpy's Generator.random() returns multiples of 2**-53.
# (Subnormal or astronomically small u are out of scope: scipy's betaincinv gives NaN there.)
generator_uniform = st.integers(min_value=0, max_value=2**53 - 1).map(lambda k: k / 2**53)
unit_interval = st.lists(generator_uniform, min_size=2, max_size=50)


@settings(max_examples=300, deadline=None)
@given(dist=any_distribution, u=unit_interval)
def test_ppf_is_non_decreasing_and_stays_in_the_support(dist, u):
    u = np.sort(np.asarray(u))
    x = dist.ppf(u)
    assert np.all(np.diff(x) >= 0), (u, x)
    assert np.all(np.isfinite(x))
    assert np.all(x >= 0)
    # Rounding only: Triangular(low=a, mode=a, high=b).ppf(0) computes b - (b - a), which can
    # land a few ulps of b below a.
    tol = 4 * np.finfo(float).eps * max(getattr(dist, "high", 0.0), getattr(dist, "scale", 0.0), 1.0)
    if isinstance(dist, Triangular | Uniform):
        assert np.all((dist.low - tol <= x) & (x <= dist.high + tol))
    if isinstance(dist, Beta):
        assert np.all(x <= dist.scale + tol)
    if isinstance(dist, Empirical):
        assert set(x.tolist()) <= set(dist.values)


# ---------------------------------------------------------------------------------
# repr reads back as what was written.

REPRS = [
    (Deterministic(value=4.0), "Deterministic(value=4.0)"),
    (Exponential(dist="exponential", mean=30.0), "Exponential(mean=30.0)"),
    (Gamma(dist="gamma", mean=10.0, cv=0.5), "Gamma(mean=10.0, cv=0.5)"),
    (LogNormal(dist="lognormal", mean=30.0, cv=0.6), "LogNormal(mean=30.0, cv=0.6)"),
    (Triangular(dist="triangular", low=1.0, mode=2.0, high=6.0), "Triangular(low=1.0, mode=2.0, high=6.0)"),
    (Uniform(dist="uniform", low=2.0, high=7.0), "Uniform(low=2.0, high=7.0)"),
    (Beta(dist="beta", a=2.0, b=5.0, scale=3.0), "Beta(a=2.0, b=5.0, scale=3.0)"),
    (Empirical(dist="empirical", values=[900.0, 1200.0]), "Empirical(values=[900.0, 1200.0])"),
]
REPR_IDS = [type(d).__name__ for d, _ in REPRS]


@pytest.mark.parametrize(("dist", "text"), REPRS, ids=REPR_IDS)
def test_repr_shows_what_was_written(dist, text):
    assert repr(dist) == text


@pytest.mark.parametrize(("dist", "text"), REPRS, ids=REPR_IDS)
def test_repr_evaluates_back_to_an_equal_object(dist, text):
    assert eval(repr(dist), vars(D)) == dist  # noqa: S307 - trusted text built by the test


@pytest.mark.parametrize(("dist", "text"), REPRS, ids=REPR_IDS)
def test_str_is_repr(dist, text):
    assert str(dist) == text


# ---------------------------------------------------------------------------------
# Parsing through a pydantic field typed Distribution.


class _Holder(BaseModel):
    d: Distribution


PARSED = [
    ("{dist: lognormal, mean: 30, cv: 0.6}", LogNormal(dist="lognormal", mean=30.0, cv=0.6)),
    ("{dist: exponential, mean: 2}", Exponential(dist="exponential", mean=2.0)),
    ("{dist: gamma, mean: 10, cv: 0.5}", Gamma(dist="gamma", mean=10.0, cv=0.5)),
    ("{dist: triangular, low: 1, mode: 2, high: 6}", Triangular(dist="triangular", low=1, mode=2, high=6)),
    ("{dist: uniform, low: 2, high: 7}", Uniform(dist="uniform", low=2, high=7)),
    ("{dist: beta, a: 2, b: 5}", Beta(dist="beta", a=2, b=5)),
    ("{dist: empirical, values: [900, 1200, 4000]}", Empirical(dist="empirical", values=[900, 1200, 4000])),
    ("{dist: deterministic, value: 3}", Deterministic(value=3)),
    ("3", Deterministic(value=3)),
    ("0.5", Deterministic(value=0.5)),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[t for t, _ in PARSED])
def test_yaml_parses_to_the_distribution(text, expected):
    parsed = _Holder.model_validate(yaml.safe_load(f"d: {text}")).d
    assert type(parsed) is type(expected)
    assert parsed == expected


def test_yaml_lognormal_example():
    parsed = _Holder.model_validate(yaml.safe_load("d: {dist: lognormal, mean: 30, cv: 0.6}")).d
    assert isinstance(parsed, LogNormal)
    assert parsed.mean == 30.0
    assert parsed.cv == 0.6
    assert repr(parsed) == "LogNormal(mean=30.0, cv=0.6)"


@pytest.mark.parametrize(
    "text",
    [
        "{dist: weibull, mean: 1}",
        "{dist: lognormal, mean: 30}",
        "{dist: lognormal, mean: -1, cv: 0.5}",
        "{dist: lognormal, mean: .nan, cv: 0.5}",
        "{dist: exponential, mean: .inf}",
        "{dist: gamma, mean: 1, cv: 0}",
        "{dist: triangular, low: 5, mode: 3, high: 1}",
        "{dist: triangular, low: 2, mode: 2, high: 2}",
        "{dist: uniform, low: 3, high: 3}",
        "{dist: beta, a: 0, b: 1}",
        "{dist: empirical, values: []}",
        "{dist: empirical, values: [1, -2]}",
        "{dist: exponential, mean: 1, cv: 2}",
        "{mean: 1, cv: 2}",
        "-1",
        ".nan",
        "true",
        "fast",
        "[1, 2]",
    ],
)
def test_yaml_rejects_bad_distributions(text):
    with pytest.raises(ValidationError):
        _Holder.model_validate(yaml.safe_load(f"d: {text}"))
