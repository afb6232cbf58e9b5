"""Settings varied over a range, as sensitivity analysis takes them: each end checked by writing it into the scenario.

A setting is a dotted path into the scenario, as :meth:`~sim.scenario.schema.Scenario.replace`
and ``funnel schema`` name it (``qualification.decay.half_life_hours``), with a range
``(low, high)``. :func:`range_problems` checks the ranges before anything runs: a range
is two finite numbers with ``low < high``, and each end, written into the scenario,
must give a valid scenario (a whole number where the field holds one: :func:`typed`).
``funnel sensitivity --vary``, :func:`sim.sensitivity` and the scenario's own
``sensitivity:`` block (checked as the scenario is read) all use it, so they say the
same about the same range.
"""

from __future__ import annotations

import math

from sim.errors import FunnelError

__all__ = ["range_problems", "typed", "value_at"]


def value_at(scenario, path: str):
    """The value at a dotted path of the scenario as written (None where there is none).

    A scenario that is not the schema's (a test's model of its own) is read by its attributes.
    """
    if not hasattr(scenario, "model_dump"):
        node = scenario
        for part in path.split("."):
            node = getattr(node, part, None)
        return node
    node = scenario.model_dump(mode="python", by_alias=True)
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def typed(scenario, path: str, value: float):
    """``value`` as the field at ``path`` takes it: a whole number for a field that holds one today."""
    now = value_at(scenario, path)
    return int(round(value)) if isinstance(now, int) and not isinstance(now, bool) else float(value)


def _is_pair(pair) -> bool:
    return (isinstance(pair, (tuple, list)) and len(pair) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in pair)
            and pair[0] < pair[1])


def range_problems(scenario, ranges) -> list[tuple[str, str]]:
    """What is wrong with each setting's range, as ``(path, message)`` (nothing runs).

    Args:
        scenario: a validated scenario (or anything with ``replace(changes)``).
        ranges: setting path -> ``(low, high)``.

    Returns:
        One problem per range that is not two finite numbers with low < high; for each
        end the scenario refuses, its problems (``"8: must be ..."``), said once without
        the value where both ends get the same (an unknown path).
    """
    problems = []
    not_simulated = getattr(type(scenario), "NOT_SIMULATED", frozenset())
    for path, pair in ranges.items():
        if not _is_pair(pair):
            problems.append((path, f"expected (low, high) with low < high, got {pair!r}"))
            continue
        if str(path).split(".")[0] in not_simulated:
            problems.append((path, "is not simulated (it says how to analyse the scenario): expected a setting "
                                   "the model reads"))
            continue
        found = {}  # each end -> its problems, as (field, message)
        for x in pair:
            try:
                scenario.replace({path: typed(scenario, path, x)})
            except FunnelError as exc:
                found[x] = [(f, m) for f, m in exc.problems]
        ends = list(found.values())
        if len(ends) == 2 and ends[0] == ends[1]:  # the same whatever the value: one problem, not one per end
            problems += [(path, m if f == path else f"{f}: {m}") for f, m in ends[0]]
            continue
        for x, listed in found.items():
            problems += [(path, f"{x:g}: {m}" if f == path else f"{x:g}: {f}: {m}") for f, m in listed]
    return problems
