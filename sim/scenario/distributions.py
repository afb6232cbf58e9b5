"""Probability distributions for durations, work times and deal values.

Each distribution is a small immutable object, written in a scenario file either as
a plain number (a deterministic value) or as a mapping with a ``dist`` key::

    work_hours: {dist: lognormal, mean: 0.5, cv: 0.8}
    value: {dist: empirical, values: [900, 1200, 4000]}

Every distribution offers ``sample(rng, size)``, the inverse CDF ``ppf(u)`` (so that
a lead's own uniforms become its draws, which keeps common random numbers coupled),
and the analytic ``mean`` and ``variance``. ``repr`` reads back as what was written.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from scipy import special

__all__ = [
    "Beta",
    "Deterministic",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "LogNormal",
    "Triangular",
    "Uniform",
    "as_distribution",
]

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
# A coefficient of variation a distribution can be drawn from: beyond these, the gamma's shape and the
# log-normal's sigma leave floating point (1 / cv^2 is 0 or infinite) and no real quantity varies so.
CV = Annotated[float, Field(ge=1e-6, le=100, allow_inf_nan=False, strict=True)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]


class _Dist(BaseModel):
    """Common behaviour: sampling by the inverse CDF and a readable repr."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Draw ``size`` values with the generator ``rng``."""
        return self.ppf(rng.random(size))

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Return the quantiles at probabilities ``u`` in [0, 1)."""
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - abstract
        """Analytic mean."""
        raise NotImplementedError

    @property
    def variance(self) -> float:  # pragma: no cover - abstract
        """Analytic variance."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.model_dump(exclude={"dist"}).items())
        return f"{type(self).__name__}({args})"

    def __str__(self) -> str:
        return repr(self)


class Deterministic(_Dist):
    """Always ``value``."""

    dist: Literal["deterministic"] = "deterministic"
    value: NonNegativeFinite

    def ppf(self, u):
        return np.full(np.shape(u), self.value, dtype=float)

    @property
    def mean(self):
        return self.value

    @property
    def variance(self):
        return 0.0


class Exponential(_Dist):
    """Exponential with the given ``mean``."""

    dist: Literal["exponential"] = "exponential"
    mean_: PositiveFinite = Field(alias="mean")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def ppf(self, u):
        return -self.mean_ * np.log1p(-np.asarray(u, dtype=float))

    @property
    def mean(self):
        return self.mean_

    @property
    def variance(self):
        return self.mean_ * self.mean_  # not **: a huge mean gives inf, not OverflowError

    def __repr__(self):
        return f"Exponential(mean={self.mean_!r})"


class _ByMeanAndCV(_Dist):
    """A distribution given by its ``mean`` and coefficient of variation ``cv``."""

    mean_: PositiveFinite = Field(alias="mean")
    cv: CV

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def mean(self):
        return self.mean_

    @property
    def variance(self):
        sd = self.cv * self.mean_
        return sd * sd  # not **: a huge mean gives inf, not OverflowError

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean_!r}, cv={self.cv!r})"


class Gamma(_ByMeanAndCV):
    """Gamma given by its ``mean`` and coefficient of variation ``cv``."""

    dist: Literal["gamma"] = "gamma"

    def ppf(self, u):
        shape = 1.0 / self.cv**2
        return special.gammaincinv(shape, np.asarray(u, dtype=float)) * self.mean_ / shape


class LogNormal(_ByMeanAndCV):
    """Log-normal given by its ``mean`` and coefficient of variation ``cv``."""

    dist: Literal["lognormal"] = "lognormal"

    def ppf(self, u):
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_) - sigma2 / 2
        return np.exp(mu + math.sqrt(sigma2) * special.ndtri(np.asarray(u, dtype=float)))


class Triangular(_Dist):
    """Triangular on [``low``, ``high``] with peak at ``mode``."""

    dist: Literal["triangular"] = "triangular"
    low: NonNegativeFinite
    mode: NonNegativeFinite
    high: NonNegativeFinite

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("needs low <= mode <= high and low < high")
        return self

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        a, c, b = self.low, self.mode, self.high
        cut = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < cut, left, right)

    @property
    def mean(self):
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self):
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18


class Uniform(_Dist):
    """Uniform on [``low``, ``high``]."""

    dist: Literal["uniform"] = "uniform"
    low: NonNegativeFinite
    high: NonNegativeFinite

    @model_validator(mode="after")
    def _ordered(self):
        if self.low >= self.high:
            raise ValueError("needs low < high")
        return self

    def ppf(self, u):
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12


class Beta(_Dist):
    """Beta on [0, 1] with shape parameters ``a`` and ``b``, scaled by ``scale``."""

    dist: Literal["beta"] = "beta"
    a: PositiveFinite
    b: PositiveFinite
    scale: PositiveFinite = 1.0

    def ppf(self, u):
        return self.scale * special.betaincinv(self.a, self.b, np.asarray(u, dtype=float))

    @property
    def mean(self):
        return self.scale * self.a / (self.a + self.b)

    @property
    def variance(self):
        a, b = self.a, self.b
        return self.scale * self.scale * a * b / ((a + b) * (a + b) * (a + b + 1))


class Empirical(_Dist):
    """Equally likely draws from observed ``values``.

    The values are kept sorted, so that ``ppf`` rises with ``u`` (as every inverse CDF
    does, and as common random numbers need: a lead's larger uniform is a larger draw).
    """

    dist: Literal["empirical"] = "empirical"
    values: list[NonNegativeFinite] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _sorted(cls, values: list[float]) -> list[float]:
        return sorted(values)

    def ppf(self, u):
        vals = np.asarray(self.values, dtype=float)
        idx = np.minimum((np.asarray(u, dtype=float) * len(vals)).astype(int), len(vals) - 1)
        return vals[idx]

    @property
    def mean(self):
        return float(np.mean(self.values))

    @property
    def variance(self):
        return float(np.var(self.values))


def as_distribution(value):
    """Let a plain number stand for a deterministic distribution."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"dist": "deterministic", "value": value}
    return value


_Kinds = Annotated[
    Deterministic | Exponential | Gamma | LogNormal | Triangular | Uniform | Beta | Empirical,
    Field(discriminator="dist"),
]
Distribution = Annotated[
    _Kinds,
    # A plain number is accepted too (a deterministic value); the schema says so for editors.
    BeforeValidator(as_distribution, json_schema_input_type=NonNegativeFinite | _Kinds),
]
