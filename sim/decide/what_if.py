"""What-if over any setting: alternatives made by changing a scenario's fields, as `funnel schema` names them.

Labels name each path by its shortest unambiguous ending (:func:`short_names`:
``half_life_hours=4``); the alternatives' ``settings`` keep the whole paths.

A *setting* is either a budget-split setting (``marketing_share``,
``role_share.<role>``, ``channel_share.<channel>``: :mod:`sim.decide.split`) or a
dotted path into the scenario (``qualification.decay.half_life_hours``,
``roles.sdr.fte``, ``opportunities.stages.0.advance``, ``roles.sdr.hires.0.month``),
as :meth:`sim.Scenario.replace` takes it. :func:`alternatives_of` makes one
alternative per combination of values (the first setting varying slowest): the paths
are written into the scenario first and validated whole, then the split settings
(if any) set the budget. Every path and value is checked before anything runs, and a
wrong one is one problem naming the path.

Alternatives that come out the same scenario (a value equal to today's, a change the
validated scenario does not keep) are merged by :func:`sim.decide.compare.compare`,
which reports which labels were one, so nothing is compared with itself.
"""

from __future__ import annotations

import itertools
import math
from numbers import Real

from sim.decide.compare import Alternative, CompareError, setting_label, todays_split_at
from sim.decide.split import SplitError, split_alternatives, with_split
from sim.errors import FunnelError
from sim.scenario.ranges import value_at

__all__ = ["alternatives_of", "is_split_setting", "short_names", "value_at", "what_if_label"]


def is_split_setting(name: str) -> bool:
    """Whether ``name`` is a budget-split setting (rather than a path into the scenario)."""
    kind, _, rest = name.partition(".")
    return name == "marketing_share" or (kind in ("role_share", "channel_share") and bool(rest))


def _shown(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Real):
        return f"{value:g}"
    return str(value)


def short_names(paths) -> dict[str, str]:
    """Each path by its shortest ending that no other path shares (a list index keeps the name before it).

    ``qualification.decay.half_life_hours`` is ``half_life_hours``; ``roles.sdr.fte`` and
    ``roles.ae.fte`` together are ``sdr.fte`` and ``ae.fte``; ``opportunities.stages.0.advance``
    is ``advance``, ``stages.0.duration_days.mean`` is ``mean``, unless another ends so.
    """
    paths = list(paths)
    out = {}
    for path in paths:
        parts = path.split(".")
        for k in range(1, len(parts) + 1):
            end = parts[-k:]
            if end[0].isdigit() and k < len(parts):
                continue  # "0.advance" reads worse than "stages.0.advance"
            name = ".".join(end)
            if not any(other != path and (other == name or other.endswith("." + name)) for other in paths):
                out[path] = name
                break
        else:
            out[path] = path
    return out


def what_if_label(changes: dict, names: dict[str, str] | None = None) -> str:
    """A short label for changed paths: ``fte=6, mql_threshold=0.4`` (``names``: how to call each path)."""
    names = names or short_names(changes)
    return ", ".join(f"{names.get(path, path)}={_shown(v)}" for path, v in changes.items())


def _numeric(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def alternatives_of(scenario, settings: dict[str, list], *, budget: float | None = None,
                    today: bool = True) -> list[Alternative]:
    """Alternatives for every combination of ``settings``' values, plus ``today`` (the scenario as it is).

    Args:
        scenario: a validated scenario.
        settings: setting -> its values: split settings (shares from 0 to 1) and paths
            into the scenario (any value its field takes: numbers, words, true/false).
        budget: with split settings, replaces the total of today's split.
        today: put the scenario as it is first, labelled ``today`` (with split
            settings, today's split at ``budget``).

    Returns:
        A list of :class:`~sim.decide.compare.Alternative`; each one's ``settings``
        holds its numeric values by setting name (and its split's shares).

    Raises:
        CompareError: naming each path whose value the scenario refuses, and the message
            the scenario gives (every problem at once).
        SplitError: for split settings, as :func:`sim.decide.compare.split_alternatives_of`.
    """
    if not isinstance(settings, dict) or not settings:
        raise CompareError("settings", f"expected a mapping of settings to lists of values, got {settings!r}")
    problems = []
    for name, values in settings.items():
        if not isinstance(values, (list, tuple)) or not values:
            problems.append((name, f"expected a list of values, got {values!r}"))
    settings = {k: v for k, v in settings.items() if isinstance(v, (list, tuple)) and v}
    paths = {k: list(v) for k, v in settings.items() if not is_split_setting(k)}
    shares = {k: list(v) for k, v in settings.items() if is_split_setting(k)}
    for path, values in paths.items():  # each value alone, so that each wrong one is named once
        for value in values:
            try:
                scenario.replace({path: value})
            except FunnelError as exc:
                found = [f"{m}" if f == path else f"{f}: {m}" for f, m in exc.problems] or [exc.message]
                problems += [(path, f"{_shown(value)}: {m}") for m in found]
    base = todays_split_at(scenario, budget, problems) if shares else None
    if shares:
        try:
            split_alternatives(base, shares)
        except SplitError as exc:
            problems += exc.problems
    elif budget is not None:
        problems.append(("budget", "sets the total of a split; give a split setting (e.g. marketing_share) too"))
    if problems:
        raise CompareError(*problems[0], problems=problems)
    out = []
    if today:
        now = {k: v for k in paths if _numeric(v := value_at(scenario, k))}
        out.append(Alternative("today", with_split(scenario, base) if shares else scenario,
                               {**(base.shares() if shares else {}), **{k: float(v) for k, v in now.items()}}))
    names = list(settings)
    short = short_names(paths)
    problems = []
    for values in itertools.product(*(settings[n] for n in names)):
        chosen = dict(zip(names, values, strict=True))
        changes = {k: v for k, v in chosen.items() if k in paths}
        try:
            sc = scenario.replace(changes) if changes else scenario
        except FunnelError as exc:  # values fine alone, refused together (e.g. low above high)
            together = what_if_label(changes, {k: k for k in changes})
            problems += [(next(iter(changes)), f"with {together}: {f}: {m}") for f, m in exc.problems]
            continue
        label_parts = [what_if_label(changes, short)] if changes else []
        numbers = {k: float(v) for k, v in changes.items() if _numeric(v)}
        if shares:
            share_values = {k: v for k, v in chosen.items() if k in shares}
            ((_, split),) = split_alternatives(base, {k: [v] for k, v in share_values.items()})
            sc = with_split(sc, split)
            label_parts.insert(0, setting_label(share_values))
            numbers = {**split.shares(), **numbers}
        out.append(Alternative(", ".join(label_parts), sc, numbers))
    if problems:
        raise CompareError(*problems[0], problems=problems)
    return out
