"""Which inputs matter: a one-at-a-time tornado, Morris screening and Sobol indices over scenario settings.

Each setting is a path into the scenario (as :mod:`sim.decide.what_if` takes it) with
a range ``(low, high)``. Every point is run with the same replication seeds (common
random numbers), so the differences between points are the settings', not luck's.

- **Tornado** (:func:`sensitivity` with ``method="tornado"``): today's scenario, and
  each setting alone at its low and its high value; the paired differences to today
  with their CIs, and the swing (high minus low) with its paired CI, ranked by the
  objective's range over the low value, today and the high value.
- **Morris** (``"morris"``) and **Sobol** (``"sobol"``) through SALib: its sample of
  the ranges (a setting whose field is a whole number is rounded to one), each point's
  mean objective over ``reps`` replications, and SALib's analysis with its
  bootstrap confidence intervals (Morris' ``mu_star`` and ``sigma``; Sobol's first
  order ``S1`` and total ``ST``).

**The noise floor.** With common random numbers, the luck every point shares moves
all the points' means alike and leaves the indices alone; what is left is each point's
own noise (the replications of two points differ by more than their settings). Its
variance is estimated from neighbouring points of the sample: the variance over the
replications of their difference, halved. An index computed from noise alone is not
zero: Sobol's total index of a setting that does nothing is about the own noise's
share of the variance of the points' means, ``own / (reps * var)``, and Morris' mu* of
such a setting about ``sqrt(2 * own / reps) * sqrt(2 / pi) / delta`` (``delta`` the
step, 2/3 on four levels). That is the **noise floor**: a setting is *shown* to matter
when its index less SALib's CI half-width is above it. The own noise's share of the
variance of the means is reported; a setting that does not enter the model at all gets
an index within the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.decide.compare import Alternative, CompareError, compare
from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, mean
from sim.decide.paired import bootstrap_rows, paired_difference
from sim.decide.what_if import short_names
from sim.scenario.ranges import range_problems, typed

__all__ = ["DEFAULT_SAMPLES", "METHODS", "Sensitivity", "sensitivity", "sensitivity_problems", "settings_of"]

METHODS = ("tornado", "morris", "sobol")
DEFAULT_SAMPLES = {"morris": 16, "sobol": 64}  # Morris' trajectories and Sobol's base sample, when none is given


@dataclass
class Sensitivity:
    """What :func:`sensitivity` found.

    Attributes:
        method: ``tornado``, ``morris`` or ``sobol``.
        objective: what each replication was judged by.
        table: one row per setting, ranked (largest effect first): for the tornado,
            ``low``, ``high``, ``at_low`` / ``at_high`` (difference to today, with
            ``_ci_low`` / ``_ci_high``), ``swing`` (high minus low, with its CI) and
            ``width`` (the objective's range over low, today and high: the rank); for
            Morris, ``mu_star``, ``mu_star_conf``, ``sigma``; for Sobol, ``S1``,
            ``S1_conf``, ``ST``, ``ST_conf``; and ``shown``: the effect is resolved (a
            tornado swing whose CI excludes 0; an index less its CI half-width above the
            noise floor).
        noise_floor: Morris and Sobol: what a setting that does nothing gets from the
            simulation noise, in ``mu_star`` or ``ST`` (see the module docstring).
        noise_share: the share of the variance of the points' means that is each point's
            own simulation noise (Morris, Sobol), or None.
        points, reps: points run, and replications per point.
        level: the confidence of every interval.
        statements: what was checked, in words.
        samples: Morris and Sobol: every point's settings, mean objective and the
            variance of its replications.
    """

    method: str
    objective: Objective
    table: pd.DataFrame
    noise_floor: dict | None
    noise_share: float | None
    points: int
    reps: int
    level: float
    statements: list[str] = field(default_factory=list)
    samples: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def sensitivity_problems(scenario, ranges, *, method="tornado", reps=20, samples=64, level=0.95) -> list:
    """What is wrong with the settings of :func:`sensitivity`, as ``(parameter, message)`` (nothing runs).

    Each range is checked by :func:`sim.scenario.ranges.range_problems` (both ends written
    into the scenario), as the scenario's ``sensitivity:`` block is when it is read.
    """
    problems = []
    if method not in METHODS:
        problems.append(("method", f"expected one of {', '.join(METHODS)}, got {method!r}"))
    for name, value, lowest in (("reps", reps, 2), ("samples", samples, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
            problems.append((name, f"expected an integer of at least {lowest}, got {value!r}"))
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        problems.append(("level", f"expected a confidence level between 0 and 1 (e.g. 0.95), got {level!r}"))
    if not isinstance(ranges, dict) or not ranges:
        problems.append(("ranges", f"expected a mapping of settings to (low, high), got {ranges!r}"))
        return problems
    return problems + range_problems(scenario, ranges)


def settings_of(scenario, ranges=None, method=None, samples=None):
    """What :func:`sensitivity` runs: each of ``ranges``, ``method`` and ``samples`` as given, else the scenario's.

    The scenario's ``sensitivity:`` block (:class:`sim.scenario.schema.SensitivityBlock`)
    stands in for each one not given (None); without either, the method is ``tornado`` and
    the samples :data:`DEFAULT_SAMPLES` of the method.

    Returns:
        ``(ranges, method, samples, from_block)``: ``ranges`` None when neither gives them,
        ``from_block`` whether they are the block's.
    """
    block = getattr(scenario, "sensitivity", None)
    from_block = ranges is None and block is not None
    if from_block:
        ranges = dict(block.vary)
    if method is None:
        method = block.method if block is not None else "tornado"
    if samples is None:
        samples = block.samples if block is not None and block.samples is not None else DEFAULT_SAMPLES.get(method, 64)
    return ranges, method, samples, from_block


def sensitivity(scenario, ranges: dict[str, tuple[float, float]] | None = None, *, method: str | None = None,
                reps: int = 20, samples: int | None = None, seed=0, objective: Objective | None = None,
                level: float = 0.95, model=None, workers: int = 1, backend: str = "local", scheduler: str | None = None,
                out=None, progress=None) -> Sensitivity:
    """How much each setting moves the objective, by ``method`` (see the module docstring).

    Args:
        scenario: a validated scenario (or anything with ``replace(changes)`` that ``model`` runs).
        ranges: setting path -> ``(low, high)``; omitted (None), the ``vary`` of the
            scenario's ``sensitivity:`` block.
        method: ``tornado``, ``morris`` or ``sobol``; omitted, the block's (else ``tornado``).
        reps: replications per point (the same seeds at every point).
        samples: Morris: trajectories; Sobol: the base sample (``samples * (k + 3)`` points
            for ``k`` settings and the noise floor; a power of 2 is best); omitted, the
            block's, else 16 for Morris and 64 for Sobol (:data:`DEFAULT_SAMPLES`).
        seed: the root seed.
        objective: what each replication is judged by (default: contribution).
        level: the confidence of every interval.
        model: the model function (default: the funnel's).
        workers: processes (or Dask workers) to run on.
        backend: ``"local"`` or ``"dask"``.
        scheduler: with ``backend="dask"``, an existing scheduler's address.
        out: a directory to keep the points' replications in; running again resumes.
        progress: called as ``progress(done, total)`` while replications run.

    Raises:
        CompareError: naming each setting or option at fault, before anything runs (a
            setting of the block as ``sensitivity.vary.<path>``).
    """
    ranges, method, samples, from_block = settings_of(scenario, ranges, method, samples)
    if ranges is None:
        raise CompareError("ranges", "expected a mapping of settings to (low, high), or a `sensitivity:` block with "
                                     "`vary:` in the scenario; neither was given")
    problems = sensitivity_problems(scenario, ranges, method=method, reps=reps, samples=samples, level=level)
    if from_block:
        problems = [(f"sensitivity.vary.{name}" if name in ranges else name, message) for name, message in problems]
    if problems:
        raise CompareError(*problems[0], problems=problems)
    objective = objective or Objective()
    running = dict(workers=workers, backend=backend, scheduler=scheduler, out=out, progress=progress)
    if method == "tornado":
        return _tornado(scenario, ranges, reps, seed, objective, level, model, running)
    return _salib(scenario, ranges, method, reps, samples, seed, objective, level, model, running)


def _tornado(scenario, ranges, reps, seed, objective, level, model, running) -> Sensitivity:
    names = short_names(ranges)
    alternatives = [Alternative("today", scenario, {})]
    for path, (low, high) in ranges.items():
        for x in (low, high):
            value = typed(scenario, path, x)
            alternatives.append(Alternative(f"{names[path]}={value:g}", scenario.replace({path: value}), {}))
    extra = {} if model is None else {"model": model}
    if extra:  # compare runs the funnel; a model of one's own runs through an evaluator
        comparison = _compare_with(alternatives, reps, seed, objective, level, extra["model"], running)
    else:
        comparison = compare(alternatives, reps, seed, objective=objective, risk=mean(), baseline="today",
                             level=level, **running)
    merged = {label: kept for kept, same in comparison.merged.items() for label in same}
    values = comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    rows_b = bootstrap_rows(len(values), seed)
    table = comparison.alternatives
    rows = []
    for k, (path, (low, high)) in enumerate(ranges.items()):
        lo_label, hi_label = (merged.get(a.label, a.label) for a in alternatives[1 + 2 * k: 3 + 2 * k])
        swing = paired_difference(values[hi_label].to_numpy(), values[lo_label].to_numpy(), mean(), level, rows_b)
        row = {"setting": path, "low": typed(scenario, path, low), "high": typed(scenario, path, high)}
        for end, label in (("low", lo_label), ("high", hi_label)):
            row.update({f"at_{end}": float(table.loc[label, "vs_baseline"]),
                        f"at_{end}_ci_low": float(table.loc[label, "vs_baseline_ci_low"]),
                        f"at_{end}_ci_high": float(table.loc[label, "vs_baseline_ci_high"])})
        row.update(swing=float(swing[0]), swing_ci_low=float(swing[1]), swing_ci_high=float(swing[2]))
        # The bar's width: the objective's range over low, today and high (a setting at its best today moves
        # the objective down both ways, and its swing alone would hide that).
        ends = (0.0, row["at_low"], row["at_high"])
        row["width"] = max(ends) - min(ends)
        resolved = [swing[1] > 0 or swing[2] < 0] + [row[f"at_{e}_ci_low"] > 0 or row[f"at_{e}_ci_high"] < 0
                                                     for e in ("low", "high")]
        row["shown"] = bool(any(resolved))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.sort_values("width", ascending=False, kind="mergesort").reset_index(drop=True)
    statements = [f"each setting alone at its low and high value against today, {reps} replications each with "
                  f"common random numbers; swings are paired differences with {level:.0%} CIs (Student's t)",
                  "one at a time: interactions between settings are not seen (Morris or Sobol see them)"]
    unresolved = list(frame.loc[~frame["shown"], "setting"])
    if unresolved:
        statements.append(f"not shown to matter at {level:.0%} (the CIs of both ends and of the swing include 0): "
                          f"{', '.join(unresolved)}")
    return Sensitivity("tornado", objective, frame, None, None, len(alternatives), reps, level, statements)


def _compare_with(alternatives, reps, seed, objective, level, model, running):
    from sim.decide.compare import analyse, merge_identical

    kept, merged = merge_identical(alternatives)
    with Evaluator(seed, model=model, **running) as evaluator:
        evaluator.run([a.scenario for a in kept], reps)
        runs = {a.label: evaluator.replications(a.scenario, reps) for a in kept}
    comparison = analyse(kept, runs, objective=objective, risk=mean(), baseline="today", level=level, seed=seed,
                         reps=reps)
    comparison.merged = merged
    return comparison


def _salib(scenario, ranges, method, reps, samples, seed, objective, level, model, running) -> Sensitivity:
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    paths = list(ranges)
    problem = {"num_vars": len(paths), "names": paths, "bounds": [list(map(float, ranges[p])) for p in paths]}
    salib_seed = int(np.random.SeedSequence(seed if isinstance(seed, int) else 0).generate_state(1)[0] % (2**31))
    if method == "sobol":
        x = sobol_sample.sample(problem, samples, calc_second_order=False, seed=salib_seed)
    else:
        x = morris_sample.sample(problem, samples, num_levels=4, seed=salib_seed)
    points = [{p: typed(scenario, p, v) for p, v in zip(paths, row, strict=True)} for row in x]
    scenarios = [scenario.replace(changes) for changes in points]
    extra = {} if model is None else {"model": model}
    with Evaluator(seed, **extra, **running) as evaluator:
        evaluator.run(scenarios, reps)
        frames = [evaluator.replications(sc, reps) for sc in scenarios]
        evaluator.finish()
    if any(len(f) < reps for f in frames):
        raise CompareError("reps", "replications failed at some points; run one alone (sim.simulate) to see why")
    values = np.array([objective.values(f, sc) for f, sc in zip(frames, scenarios, strict=True)])  # points x reps
    y = values.mean(axis=1)
    total = float(y.var(ddof=1))
    own = _own_variance(values, points)
    noise_share = float(own / reps / total) if total > 0 else math.inf
    x_used = np.array([[pt[p] for p in paths] for pt in points], dtype=float)  # rounded where the field is whole
    if method == "sobol":
        found = sobol_analyze.analyze(problem, y, calc_second_order=False, conf_level=level, seed=salib_seed)
        cols = {"S1": found["S1"], "S1_conf": found["S1_conf"], "ST": found["ST"], "ST_conf": found["ST_conf"]}
        key, floor = "ST", noise_share
    else:
        found = morris_analyze.analyze(problem, x_used, y, conf_level=level, num_levels=4, seed=salib_seed)
        cols = {"mu_star": found["mu_star"], "mu_star_conf": found["mu_star_conf"], "sigma": found["sigma"]}
        delta = 4 / (2 * (4 - 1))
        key, floor = "mu_star", math.sqrt(2 * own / reps) * math.sqrt(2 / math.pi) / delta
    table = pd.DataFrame({"setting": paths, **{k: np.nan_to_num(np.asarray(v, dtype=float)) for k, v in cols.items()}})
    table["shown"] = table[key] - table[f"{key}_conf"] > floor
    table = table.sort_values(key, ascending=False).reset_index(drop=True)
    samples_frame = pd.DataFrame(points).assign(objective=y, variance=values.var(axis=1, ddof=1))
    name = "Sobol indices (first order S1, total ST)" if method == "sobol" else "Morris elementary effects (mu*)"
    shown_key = "mu*" if key == "mu_star" else key
    statements = [f"{name} from SALib on {len(points)} points, each the mean of {reps} replications with common "
                  f"random numbers; {level:.0%} bootstrap CIs over the points",
                  f"noise floor: {shown_key} {floor:,.3g}, what a setting that does nothing gets from each point's "
                  f"own simulation noise ({noise_share:.1%} of the variance of the points' means); a setting is "
                  f"shown to matter when its {shown_key} less its CI half-width is above it"]
    unresolved = list(table.loc[~table["shown"], "setting"])
    if unresolved:
        statements.append(f"not shown to matter: {', '.join(unresolved)}")
    return Sensitivity(method, objective, table, floor, noise_share, len(points), reps, level, statements,
                       samples_frame)


def _own_variance(values: np.ndarray, points: list[dict]) -> float:
    """Each point's own noise variance (per replication), from neighbouring points of the sample.

    Two points run with the same seeds share their luck; the variance over the
    replications of their difference is twice the own noise's (their settings' effect
    is the same in every replication). Pairs of identical points are skipped.
    """
    halves = [np.var(values[k + 1] - values[k], ddof=1) / 2 for k in range(len(points) - 1)
              if points[k + 1] != points[k]]
    return float(np.mean(halves)) if halves else 0.0
