"""Uncertain parameters: a setting given as posterior draws, not one number (``docs/model.md``, Uncertain parameters).

A number in a scenario may be written as ``{draws: [x1, x2, ...]}``, or as a distribution
over its value, ``{uncertain: {dist: beta, a: 30, b: 70}}`` (lifted into the distribution's
quantiles, :func:`distribution_draws`); the scenario's
top-level ``uncertain`` mapping holds the same, by dotted path
(``qualification.p_qualify.low: [0.31, 0.29, ...]``). Reading a scenario lifts every
in-place ``{draws: ...}`` into ``uncertain`` (:func:`lift_draws`) and leaves the mean of
the draws in its place, so the scenario as read is its point estimate.
:func:`uncertain_problems` checks that each path names a number of the scenario and
that its smallest and largest draws, written in, give a valid scenario. Each replication
then runs one draw (:func:`drawn`): one uniform from the replication's own
``parameters`` stream picks row ``k = floor(u * n)`` of every list of ``n`` draws, so lists
of the same length are joint (row k of each belongs together) and the same replication
sees the same draw in every alternative (common random numbers).
"""

from __future__ import annotations

import math

__all__ = ["at_point", "distribution_draws", "drawn", "lift_draws", "uncertain_problems"]

KEY = "draws"
PRIOR = "uncertain"  # {uncertain: {dist: ...}}: a distribution over a number, lifted into QUANTILES draws
QUANTILES = 1000
AT_POINT = "at_point"  # the validation context of a scenario already at its point values


def _finite_numbers(values) -> bool:
    return (isinstance(values, list) and len(values) >= 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))


def lift_draws(data: dict) -> tuple[dict, list[tuple[str, str]]]:
    """A copy of ``data`` with every ``{draws: [...]}`` replaced by its mean and listed under ``uncertain``.

    Returns the new mapping and the problems found (a ``draws`` that is not at least two finite numbers).
    """
    found: dict[str, list[float]] = {}
    problems: list[tuple[str, str]] = []

    def walk(node, path):
        if isinstance(node, dict):
            if set(node) == {PRIOR} and path:
                draws, problem = distribution_draws(node[PRIOR], path)
                if problem:
                    problems.append((f"{path}.{PRIOR}", problem))
                    return 0.0
                found[path] = draws
                return sum(draws) / len(draws)
            if set(node) == {KEY}:
                values = node[KEY]
                if not _finite_numbers(values):
                    problems.append((f"{path}.{KEY}" if path else KEY,
                                     "expected a list of at least two finite numbers (posterior draws)"))
                    return 0.0
                found[path] = [float(v) for v in values]
                return sum(found[path]) / len(found[path])
            return {k: walk(v, f"{path}.{k}" if path else str(k)) if k != "uncertain" or path else v
                    for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(node)]
        return node

    out = walk(data, "")
    if found:
        written = out.get("uncertain")
        merged = dict(written) if isinstance(written, dict) else {}
        for path in found:
            if path in merged:
                problems.append((f"uncertain.{path}", "is also written in place as {draws: ...}: give it once"))
        out["uncertain"] = {**merged, **found}
    return out, problems


def distribution_draws(spec, path: str) -> tuple[list[float], str]:
    """The draws standing for a distribution over a number: its quantiles at (i + 1/2) / n, in an order of the path's.

    The quantiles make the draws the distribution exactly, up to a discretisation of
    :data:`QUANTILES` points (no sampling noise, nothing random in reading a file). They
    are put in a pseudo-random order keyed by the path (CRC-32, the same in every
    process), so that two settings given distributions of the same length are not joint:
    row ``k`` of one says nothing of row ``k`` of the other. Returns ``(draws, problem)``.
    """
    import zlib

    import numpy as np
    from pydantic import TypeAdapter, ValidationError

    from sim.scenario.distributions import Distribution

    if not isinstance(spec, dict) or "dist" not in spec:
        return [], ("expected a distribution over the number, such as {dist: beta, a: 30, b: 70} or "
                    "{dist: lognormal, mean: 20, cv: 0.1}")
    try:
        dist = TypeAdapter(Distribution).validate_python(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:])
        return [], f"{where + ': ' if where else ''}{first['msg']}"
    values = dist.ppf((np.arange(QUANTILES) + 0.5) / QUANTILES)
    order = np.random.default_rng(zlib.crc32(path.encode())).permutation(QUANTILES)
    draws = [float(v) for v in np.asarray(values, dtype=float)[order]]
    if not all(math.isfinite(v) for v in draws):
        return [], "the distribution has quantiles that are not finite numbers"
    return draws, ""


def _without_draws(scenario) -> dict:
    data = scenario.model_dump(mode="python", by_alias=True)
    data.pop("uncertain", None)
    return data


def uncertain_problems(scenario) -> list[tuple[str, str]]:
    """One line per uncertain path that names no number of ``scenario``, or whose extreme draws are not valid there."""
    from sim.scenario.messages import ScenarioError
    from sim.scenario.ranges import value_at
    from sim.scenario.schema import _set, validate_certain

    problems = []
    for path, draws in scenario.uncertain.items():
        field = f"uncertain.{path}"
        value = value_at(scenario, path)
        if value is None:
            problems.append((field, "names no setting of the scenario (a dotted path as `funnel schema` names it)"))
            continue
        if isinstance(value, bool) or (isinstance(value, int) and not isinstance(value, float)):
            problems.append((field, "is a whole number, which cannot be uncertain; give a number with a fraction"))
            continue
        # A curve ({low, high}), a distribution ({dist: ...}) and a schedule (a list of numbers) take one
        # number; any other block does not.
        schedule = isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
        if (isinstance(value, list) and not schedule) or (isinstance(value, dict) and "dist" not in value
                                                          and set(value) != {"low", "high"}):
            problems.append((field, "names a block, not a number: give the path of one number"))
            continue
        for end in sorted({min(draws), max(draws)}):
            data = _without_draws(scenario)
            _set(data, path, end)
            try:
                validate_certain(data)
            except ScenarioError as exc:
                problems += [(field, f"the draw {end:g} is not valid there: {where}: {message}")
                             for where, message in exc.problems[:1]]
    return problems


def at_point(scenario, context=None):
    """``scenario`` with each uncertain setting at the mean of its draws (validated again, under ``context``)."""
    from sim.scenario.schema import Scenario, _set

    data = scenario.model_dump(mode="python", by_alias=True)
    for path, draws in scenario.uncertain.items():
        _set(data, path, sum(draws) / len(draws))
    return Scenario.model_validate(data, context={**(context or {}), AT_POINT: True})


def drawn(scenario, rng):
    """``scenario`` with each uncertain setting at this replication's draw (itself when nothing is uncertain)."""
    if not scenario.uncertain:
        return scenario
    from sim.scenario.schema import _set, validate_certain

    u = float(rng.random())
    data = _without_draws(scenario)
    for path, draws in scenario.uncertain.items():
        _set(data, path, draws[min(int(u * len(draws)), len(draws) - 1)])
    return validate_certain(data)
