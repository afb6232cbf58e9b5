"""Plots of a sensitivity analysis: a tornado of the one-at-a-time swings, bars of Morris or Sobol indices.

Both take a :class:`sim.decide.sensitivity.Sensitivity` and return a Figure without
touching pyplot, like :mod:`sim.present.plots`, whose helpers they use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.present.errors import PresentError
from sim.present.plots import Axes, Figure, _axes, _number

__all__ = ["indices_plot", "tornado_plot", "write_sensitivity_plots"]


def tornado_plot(result, ax: Axes | None = None, currency: str = "") -> Figure:
    """Each setting's effect at its low and its high value against today, largest swing on top, with CIs.

    Raises:
        PresentError: for a result that is not a tornado.
    """
    if result.method != "tornado":
        raise PresentError("result", f"tornado_plot draws a tornado, this is {result.method}; use indices_plot")
    t = result.table.iloc[::-1].reset_index(drop=True)  # the largest swing on top
    fig, ax = _axes(ax, (8, 1.2 + 0.55 * len(t)))
    y = np.arange(len(t))
    for end, colour in (("low", "C0"), ("high", "C3")):
        value = t[f"at_{end}"].to_numpy()
        err = np.vstack([value - t[f"at_{end}_ci_low"], t[f"at_{end}_ci_high"] - value])
        ax.barh(y + (0.18 if end == "high" else -0.18), value, height=0.34, color=colour, alpha=0.8,
                xerr=err, capsize=3, label=f"at its {end} value")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [f"{s}\n{lo:g} to {hi:g}" for s, lo, hi in zip(t["setting"], t["low"], t["high"], strict=True)],
                  fontsize=8)
    unit = f" ({currency})" if currency else ""
    ax.set_xlabel(f"{result.objective.label}, difference to today{unit}; bars: {result.level:.0%} CI")
    ax.xaxis.set_major_formatter(lambda v, _: _number(v))
    ax.set_title(f"Tornado: one setting at a time\n{result.reps} replications each, common random numbers")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def indices_plot(result, ax: Axes | None = None) -> Figure:
    """Morris' mu* or Sobol's first-order and total indices per setting, with CIs and the noise floor.

    Raises:
        PresentError: for a tornado (draw it with :func:`tornado_plot`).
    """
    if result.method == "tornado":
        raise PresentError("result", "indices_plot draws Morris or Sobol indices; use tornado_plot")
    t = result.table
    fig, ax = _axes(ax, (8, 1.2 + 0.55 * len(t)))
    y = np.arange(len(t))[::-1]
    keys = ("S1", "ST") if result.method == "sobol" else ("mu_star",)
    names = {"S1": "first order S1", "ST": "total ST", "mu_star": "mu*"}
    width = 0.8 / len(keys)
    for k, key in enumerate(keys):
        offset = (k - (len(keys) - 1) / 2) * width
        ax.barh(y - offset, t[key], height=width * 0.9, xerr=t[f"{key}_conf"], capsize=3, color=f"C{k}",
                alpha=0.85, label=names[key])
    ax.axvline(result.noise_floor, color="C3", linestyle="--", linewidth=1,
               label=f"noise floor ({names[keys[-1]]}: {result.noise_floor:.3g})")
    ax.set_yticks(y, [f"{s}{'' if shown else ' (not shown)'}" for s, shown in zip(t["setting"], t["shown"],
                                                                                    strict=True)], fontsize=8)
    what = "Sobol indices" if result.method == "sobol" else "Morris screening"
    ax.set_title(f"{what}: {result.points} points x {result.reps} replications; bars: {result.level:.0%} CI")
    ax.set_xlabel("share of the variance" if result.method == "sobol" else
                  f"mu*: mean absolute elementary effect on {result.objective.label}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def write_sensitivity_plots(result, directory, currency: str = "") -> list[Path]:
    """Save ``tornado.png`` (a tornado) or ``indices.png`` (Morris, Sobol) in ``directory`` (made if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if result.method == "tornado":
        path, fig = directory / "tornado.png", tornado_plot(result, currency=currency)
    else:
        path, fig = directory / "indices.png", indices_plot(result)
    fig.savefig(path, dpi=100)
    return [path]
