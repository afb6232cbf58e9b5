"""``sim.calibrate``: CRM tables and a mapping in, a calibrated scenario with its provenance out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.calibrate.assemble import estimate_all
from sim.calibrate.capacity import DECAY_TEST_LEVEL, bound_reason
from sim.calibrate.errors import CalibrateError
from sim.calibrate.estimate import LEVEL
from sim.calibrate.mapping import Mapping, load_mapping
from sim.calibrate.tables import read_tables
from sim.calibrate.writer import scenario_text, validate

__all__ = ["Calibration", "calibrate"]


@dataclass(repr=False)
class Calibration:
    """What :func:`calibrate` found.

    ``scenario_text`` (YAML with provenance), ``scenario`` (validated at the draws' means),
    ``report`` (estimated / not identified / warnings; ``lead_schedules``: each channel's fitted and
    forecast mean a month where a trend or seasonality was found; ``diagnostics``: the headcount by
    role and month and the deals per rep, which are not scenario settings, and the response-time decay and the
    qualifiers' work hours, with whether each was written)
    and ``estimates`` (a DataFrame).
    """

    scenario_text: str
    scenario: object
    report: dict
    estimates: pd.DataFrame

    def __repr__(self) -> str:
        return (f"Calibration(estimated={len(self.estimates)}, not_identified={len(self.report['not_identified'])}, "
                f"warnings={len(self.report['warnings'])})")


def _finite(values: dict) -> dict:
    """JSON has no infinity: a float that is not finite (a bound not found) is null."""
    return {k: (float(v) if math.isfinite(v) else None) if isinstance(v, float) else v for k, v in values.items()}


def _diagnostics(found: dict) -> dict:
    """The response-time decay and the qualifiers' work hours (simulated moments): what was found, and if written."""
    out = {}
    decay = found.get("decay")
    if decay is not None:
        paths = {e.path for e in found["estimates"]}
        written = "qualification.decay.half_life_hours" in paths
        if written:
            factor = found["decay_factor"]
            why = (f"written (qualification.decay, shape 1), as its test rejects no decay at 5%; p_qualify is "
                   f"written as the chance at no wait: the share estimated divided by {factor['factor']:.3g}, "
                   f"the mean decay factor of {factor['waits']}")
        elif decay["p_value"] >= DECAY_TEST_LEVEL or not math.isfinite(decay["half_life_hours"]):
            why = "not written: its test does not reject no decay at 5%"
        else:
            why = f"not written: {found.get('decay_unwritten', 'its interval is not finite')}"
        out["qualification.decay"] = {**_finite(decay), "written": written, "why": why}
    capacity = found.get("capacity")
    if capacity is not None:
        misshapen = bool(capacity.get("misshapen"))
        why = ("not written: the waits do not have the shape of a first-in-first-out queue at constant work (the "
               "medians differ; see the warnings)" if misshapen else
               "written: the method of simulated moments" if capacity["identified"] else
               f"written as an upper bound, flagged: {bound_reason(capacity)}" if math.isfinite(capacity["high"])
               else capacity.get("why_not") or "not written: no upper bound was found")
        out["qualification.work_hours"] = {**_finite(capacity), "written": math.isfinite(capacity["high"])
                                           and not misshapen, "why": why}
    slots = found.get("ae_capacity")
    if slots is not None:
        out["roles.ae.max_open_opportunities"] = {**slots, "written": True}
    return out


def _schedules(found: dict) -> dict:
    """Each channel with a trend or seasonality: its model, tests and mean a month with the interval, by month."""
    out = {}
    for e in found["estimates"]:
        schedule = getattr(e, "schedule", None)
        if schedule is None:
            continue
        fit = schedule.fit
        out[e.path.split(".")[1]] = {
            "model": fit.model, "tests": {k: {"statistic": v[0], "df": v[1], "p": v[2]} for k, v in fit.tests.items()},
            "change_a_month": fit.slope(LEVEL)[0] if fit.trend else None, "training_months": schedule.training,
            "months": [{"month": f"{m:%Y-%m}", "estimate": float(a), "low": float(lo), "high": float(hi),
                        "forecast": k >= schedule.training}
                       for k, (m, a, lo, hi) in enumerate(zip(schedule.months, schedule.mean, schedule.low,
                                                              schedule.high, strict=True))]}
    return out


def calibrate(tables_or_paths, mapping, train_until=None) -> Calibration:
    """Calibrate a scenario from CRM data.

    Args:
        tables_or_paths: a folder holding the mapped files, or table name -> DataFrame or path.
        mapping: a mapping file's path, or a :class:`~sim.calibrate.mapping.Mapping`.
        train_until: a date; rows created after it are left out, deals closed after it are open.

    Raises:
        CalibrateError: the mapping or the data cannot be used, one line per problem.
    """
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    read = read_tables(tables_or_paths if isinstance(tables_or_paths, dict) else Path(tables_or_paths), mapping,
                       train_until)
    deals = read.tables["deals"]
    if not (deals["won"] | deals["lost"]).any():
        raise CalibrateError(deals.attrs["file"], f"no deal is won or lost by {read.cutoff.date()} ({len(deals)} "
                                                  "open): the win chance and the time to close cannot be estimated; "
                                                  "expected closed deals (check the mapping's won and lost stages)")
    found = estimate_all(read)
    text = scenario_text(found, f"calibrated_{mapping.name}")
    scenario = validate(text)
    frame = pd.DataFrame([{"path": e.path, "estimate": e.estimate, "low": e.low, "high": e.high, "n": e.n,
                           "window": e.window, "method": e.method} for e in found["estimates"]
                          if e.path not in found.get("placeholders", ())])
    report = {"cutoff": str(read.cutoff), "estimated": frame.to_dict("records"),
              "not_identified": [{"path": p, "why": w} for p, w in found["not_identified"]],
              "warnings": found["warnings"], "unusable_rows": read.dropped,
              "lead_schedules": _schedules(found),
              "diagnostics": {**found.get("diagnostics", {}), **_diagnostics(found)}}
    return Calibration(text, scenario, report, frame)

