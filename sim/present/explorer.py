"""The student explorer: sliders over a scenario, each move rerunning a few replications with the same seed.

:class:`Explorer` keeps the scenario as it was loaded (*start*) and the one the sliders
make (*now*). Every move reruns *now* with ``reps`` replications from the same root
seed, so replication ``i`` of both sees the same world (common random numbers) and
the change it shows is the change the move made, with a paired 95% confidence
interval; it is not noise from a new draw. The last :data:`RUNS_KEPT` runs are kept, so
moving a slider back answers at once. The widgets (ipywidgets) are made only when
asked for (:attr:`Explorer.widgets`, or when a notebook displays the explorer); moving
a slider and calling :meth:`Explorer.set` are the same thing, so a notebook's lessons
can be run by hand or by code.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.decide.objectives import mean as _mean_risk
from sim.decide.paired import paired_difference
from sim.errors import FunnelError
from sim.present.errors import PresentError
from sim.present.fan import _fan_chart
from sim.present.plots import Figure, _number
from sim.present.tables import measure_unit, shown

__all__ = ["CAMPAIGN_MONTHS", "Control", "Explorer", "KEY_MEASURES", "RUNS_KEPT"]

# The months (0-based) a campaign adds its spend to: a pulse, so that a student sees when its leads
# and its wins arrive.
CAMPAIGN_MONTHS = (3, 4, 5)

_MEAN = _mean_risk()  # the changes are of means: a t interval of the paired differences

# How many runs an explorer keeps, so that moving a slider back to where it was answers at once.
RUNS_KEPT = 16

# The measures an explorer shows, and what it calls them (shorter than the workbook's words, for a
# slider's table); their units come from the one table of names (sim.present.measure_names).
KEY_MEASURES = (
    ("leads", "leads"), ("mqls", "MQLs (handed to sales)"), ("mql_to_sql", "MQL to SQL (of those contacted)"),
    ("sqls", "SQLs"), ("wins", "wins"), ("wins_lost.total", "wins lost to waiting (expected)"),
    ("losses.cold_leads", "leads lost cold"), ("response_time_median_hours", "response time, median"),
    ("sla_share", "contacted within the SLA"), ("qualifier_utilisation", "qualifying reps busy"),
    ("ae_slot_utilisation", "AE deal slots in use"), ("contribution", "contribution"),
)


@dataclass(frozen=True)
class Control:
    """One slider (or menu) of an explorer: what it is called, its range, and the scenario setting it moves.

    Attributes:
        name: the keyword of :meth:`Explorer.set` (``sdrs``, ``spend``, ...).
        label: the slider's description.
        kind: ``int``, ``float``, ``log`` (a float slider in powers of ten) or ``choice``.
        options: ``(low, high, step)`` for a slider; the choices for ``choice``.
        read: the control's value in a scenario.
        write: the scenario settings (``{path: value}`` for ``scenario.replace``) for a value,
            given every control's value (spend and campaign write one schedule together).
    """

    name: str
    label: str
    kind: str
    options: tuple
    read: Callable
    write: Callable


def _spend_schedule(values: dict) -> list[float] | float:
    spend, extra = float(values["spend"]), float(values.get("campaign", 0.0))
    if not extra:
        return spend
    return [spend + (extra if m in CAMPAIGN_MONTHS else 0.0) for m in range(max(CAMPAIGN_MONTHS) + 2)]


def controls_for(scenario) -> list[Control]:
    """The controls that make sense for a scenario: its first channel's spend and campaign, the team, the queue."""
    out = []
    channels = list(scenario.channels)
    if channels:
        ch = channels[0]
        path = f"channels.{ch}"
        spend = scenario.channels[ch].spend
        now = float(spend[0] if isinstance(spend, list) else spend)
        top = max(4 * now, 1000.0)
        step = float(10 ** math.floor(math.log10(top / 40)))
        out += [
            Control("spend", f"{ch} spend a month", "float", (0.0, top, step),
                    lambda sc, p=path: float(_schedule_of(sc, p)[0]),
                    lambda v, p=path: {f"{p}.spend": _spend_schedule(v)}),
            Control("campaign", f"extra in months {CAMPAIGN_MONTHS[0] + 1}-{CAMPAIGN_MONTHS[-1] + 1}", "float",
                    (0.0, top, step), lambda sc: 0.0, lambda v, p=path: {f"{p}.spend": _spend_schedule(v)}),
            Control("carryover", "ad carryover", "float", (0.0, 0.9, 0.1),
                    lambda sc, ch=ch: float(sc.channels[ch].carryover),
                    lambda v, p=path: {f"{p}.carryover": float(v["carryover"])}),
        ]
    roles = scenario.roles
    if roles.sdr is not None:
        out.append(Control("sdrs", "SDRs", "int", (1, 12, 1), lambda sc: int(sc.plan.roles["sdr"].fte),
                           lambda v: {"roles.sdr.fte": int(v["sdrs"])}))
    out.append(Control("aes", "AEs", "int", (1, 12, 1), lambda sc: int(sc.plan.roles["ae"].fte),
                       lambda v: {"roles.ae.fte": int(v["aes"])}))
    if scenario.scoring.by_activities:  # points for activities: the threshold is in points
        most = sum(a.points for a in scenario.scoring.activities.values())
        out.append(Control("threshold", "MQL points", "float", (0.0, max(3 * most, 1.0), 5.0),
                           lambda sc: float(sc.scoring.mql_points),
                           lambda v: {"scoring.mql_points": float(v["threshold"])}))
    else:
        out.append(Control("threshold", "MQL threshold", "float", (-0.2, 1.0, 0.05),
                           lambda sc: float(sc.scoring.mql_threshold),
                           lambda v: {"scoring.mql_threshold": round(float(v["threshold"]), 6)}))
    q = scenario.qualification
    if q.decay is not None:
        out.append(Control("half_life_hours", "decay half-life (h)", "log", (-1.0, 2.5, 0.1),
                           lambda sc: float(sc.qualification.decay.half_life_hours),
                           lambda v: {"qualification.decay.half_life_hours": float(v["half_life_hours"])}))
    out.append(Control("discipline", "queue order", "choice", ("fifo", "lifo", "score", "sla"),
                       lambda sc: sc.qualification.discipline,
                       lambda v: {"qualification.discipline": v["discipline"]}))
    out.append(Control("sla_hours", "SLA (hours)", "float", (0.5, 48.0, 0.5),
                       lambda sc: float(sc.qualification.sla_hours),
                       lambda v: {"qualification.sla_hours": float(v["sla_hours"])}))
    return out


def _schedule_of(scenario, path: str) -> list[float]:
    spend = scenario.channels[path.split(".", 1)[1]].spend
    return list(spend) if isinstance(spend, list) else [float(spend)]


class Explorer:
    """Sliders over a scenario for students: each move reruns it and shows the funnel, fans and key measures.

    Args:
        scenario: a validated scenario (e.g. ``scenarios/student_explorer.yaml``).
        reps: replications per move (20 runs the shipped explorer scenario in about a
            second); the paired intervals are over them.
        seed: the root seed of every run: the same for *start* and *now* (common random numbers).

    Raises:
        PresentError: for ``reps`` below 2 (a paired interval needs two replications).

    Example::

        explorer = sim.Explorer(sim.load_scenario("scenarios/student_explorer.yaml"))
        explorer            # in a notebook: the sliders, the figure and the table
        explorer.set(sdrs=1)
        explorer.table(["wins", "wins_lost.total"])
    """

    def __init__(self, scenario, *, reps: int = 20, seed: int = 1):
        if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 2:
            raise PresentError("reps", f"expected a whole number of replications of at least 2, got {reps!r}")
        self.start = scenario
        self.reps = int(reps)
        self.seed = seed
        self.controls = {c.name: c for c in controls_for(scenario)}
        self.values = {name: c.read(scenario) for name, c in self.controls.items()}
        self._start_values = dict(self.values)
        self._runs: dict[str, object] = {}  # the last few runs by scenario, so going back costs nothing
        self.start_run = self._run(scenario)
        self.scenario = scenario
        self.now_run = self.start_run
        self._widgets = None
        self._syncing = False

    def _run(self, scenario):
        from sim.model import replicate
        from sim.montecarlo.experiment import run_many

        key = scenario.model_dump_json()
        if key not in self._runs:
            if len(self._runs) >= RUNS_KEPT:
                del self._runs[next(iter(self._runs))]
            self._runs[key] = run_many(scenario, reps=self.reps, seed=self.seed, model=replicate)
        return self._runs[key]

    # -- moving ----------------------------------------------------------------------------

    def set(self, **values) -> Explorer:
        """Move controls (``explorer.set(sdrs=1, discipline="lifo")``), rerun, and redraw the widgets.

        Raises:
            PresentError: for a control the explorer does not have, or a value its
                scenario refuses (the scenario's own message, naming the setting).
        """
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise PresentError(unknown[0], f"expected one of the explorer's controls "
                                           f"({', '.join(self.controls)}), got {unknown[0]!r}")
        merged = {**self.values, **values}
        changes = {}
        for name in self.controls:
            if merged[name] != self._start_values[name]:
                changes.update(self.controls[name].write(merged))
        try:
            scenario = self.start.replace(changes) if changes else self.start
        except FunnelError as error:
            raise PresentError(error.parameter, error.problems[0][1]) from error
        self.values = merged
        self.scenario = scenario
        self.now_run = self._run(scenario)
        if self._widgets is not None:
            self._sync_widgets()
            self._redraw()
        return self

    def reset(self) -> Explorer:
        """Back to the scenario as it was loaded."""
        return self.set(**self._start_values)

    # -- what it shows ---------------------------------------------------------------------

    def measures(self) -> pd.DataFrame:
        """The key measures at *start* and *now* (means), and the change with its paired 95% CI.

        Columns ``measure`` (in words), ``unit``, ``start``, ``now``, ``change``, ``ci_low``,
        ``ci_high``; the index is the measure's name in the model (``docs/model.md``, 8).
        A replication where a ratio has nothing to divide by (NaN) is left out of its row.
        """
        a, b = self.start_run.replications, self.now_run.replications
        rows = {}
        for key, label in KEY_MEASURES:
            x, y = a[key].to_numpy(dtype=float), b[key].to_numpy(dtype=float)
            both = np.isfinite(x) & np.isfinite(y)
            change, low, high = paired_difference(y[both], x[both], _MEAN, 0.95, None) if both.any() \
                else (math.nan, math.nan, math.nan)
            rows[key] = {"measure": label, "unit": measure_unit(key, self.start.currency),
                         "start": float(np.nanmean(x)) if np.isfinite(x).any() else math.nan,
                         "now": float(np.nanmean(y)) if np.isfinite(y).any() else math.nan,
                         "change": change, "ci_low": low, "ci_high": high}
        return pd.DataFrame.from_dict(rows, orient="index")

    def table(self, measures=None) -> pd.DataFrame:
        """:meth:`measures` written for reading: the measure in words, start, now and the change with its CI.

        Args:
            measures: the measures to show, by their names in the model (default: all of
                :data:`KEY_MEASURES`), e.g. ``["wins", "wins_lost.total"]``.

        Raises:
            PresentError: for a measure the explorer does not show.
        """
        full = self.measures()
        keys = list(full.index) if measures is None else list(measures)
        unknown = [k for k in keys if k not in full.index]
        if unknown:
            raise PresentError("measures", f"expected measures among {', '.join(full.index)}, got {unknown[0]!r}")
        rows = []
        for key in keys:
            row = full.loc[key]
            unit = row["unit"]
            change = "" if not math.isfinite(row["change"]) else (
                f"{_signed(row['change'], unit)} [{_signed(row['ci_low'], unit)}, {_signed(row['ci_high'], unit)}]")
            label = row["measure"] + ("" if unit in ("count", "%") else f" ({unit})")
            rows.append({"measure": label, "start": shown(row["start"], unit), "now": shown(row["now"], unit),
                         f"change [95% CI, {self.reps} paired replications]": change})
        return pd.DataFrame(rows, index=keys)

    def table_html(self) -> str:
        """:meth:`table` of every key measure as an HTML table (what the widget shows)."""
        return self.table().to_html(index=False, justify="left")

    def figure(self) -> Figure:
        """The funnel (start and now, means), and fans of leads, wins and MQLs waiting, month by month."""
        fig = Figure(figsize=(11.0, 6.4), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        self._funnel_bars(axes[0])
        frames = {"start": self.start_run.monthly, "now": self.now_run.monthly}
        entries = []
        for ax, (column, title) in zip(axes[1:], (("leads", "Leads a month"), ("wins", "Wins a month"),
                                                  ("queue_mqls", "MQLs waiting for a call (mean in month)")),
                                       strict=True):
            _, _, entries = _fan_chart(frames, column, cumulative=False, label=None, bands=(0.1, 0.5, 0.9), ax=ax,
                                       currency=self.start.currency, title=title, money=False)
            ax.set_ylabel("")
        handles, labels = zip(*entries, strict=True)
        fig.legend(handles, labels, loc="outside lower center", fontsize=8, frameon=False, ncols=2)
        fig.suptitle(f"{self.start.name}: start and now, {self.reps} replications each, the same seed")
        return fig

    def _funnel_bars(self, ax) -> None:
        steps = (("leads", "leads"), ("mqls", "MQLs"), ("contacted", "contacted"), ("sqls", "SQLs"),
                 ("opportunities", "deals"), ("wins", "wins"))
        x = np.arange(len(steps))
        for k, (name, run) in enumerate((("start", self.start_run), ("now", self.now_run))):
            summary = run.summary().loc[[s for s, _ in steps]]  # the means and their 95% CIs, as everywhere
            means = summary["mean"].to_numpy()
            half = (summary["ci_high"] - summary["mean"]).to_numpy()
            bars = ax.bar(x + (k - 0.5) * 0.38, means, width=0.38, color=f"C{k}", label=name, yerr=half,
                          capsize=2, error_kw={"linewidth": 0.8})
            for bar, value in zip(bars, means, strict=True):
                ax.annotate(_number(value), (bar.get_x() + bar.get_width() / 2, value), ha="center",
                            va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(x, [label for _, label in steps])
        ax.set_ylabel("over the horizon (mean)")
        ax.set_title("The funnel (bars: 95% CI of the mean)")
        ax.yaxis.set_major_formatter(lambda v, _: _number(v))
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)

    # -- widgets ---------------------------------------------------------------------------

    @property
    def widgets(self) -> dict:
        """The controls' widgets by name (made on first use; needs ipywidgets); setting a value moves it."""
        if self._widgets is None:
            self._build()
        return self._widgets["controls"]

    def ui(self):
        """The whole explorer as one ipywidgets box: the controls above, the figure and the table below."""
        if self._widgets is None:
            self._build()
        return self._widgets["box"]

    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui())

    def _build(self) -> None:
        import ipywidgets as w

        made = {}
        for name, c in self.controls.items():
            value = self.values[name]
            style = {"description_width": "150px"}
            layout = w.Layout(width="420px")
            if c.kind == "choice":
                widget = w.Dropdown(options=list(c.options), value=value, description=c.label, style=style)
            elif c.kind == "int":
                widget = w.IntSlider(value=value, min=c.options[0], max=c.options[1], step=c.options[2],
                                     description=c.label, continuous_update=False, style=style, layout=layout)
            elif c.kind == "log":
                widget = w.FloatLogSlider(value=value, base=10, min=c.options[0], max=c.options[1],
                                          step=c.options[2], description=c.label, continuous_update=False,
                                          style=style, layout=layout)
            else:
                widget = w.FloatSlider(value=value, min=c.options[0], max=c.options[1], step=c.options[2],
                                       description=c.label, continuous_update=False, style=style, layout=layout)
            widget.observe(lambda change, name=name: self._moved(name, change["new"]), names="value")
            made[name] = widget
        image = w.Image(format="png")
        table = w.HTML()
        reset = w.Button(description="back to start")
        reset.on_click(lambda _b: self.reset())
        controls = list(made.values())
        half = (len(controls) + 1) // 2
        box = w.VBox([w.HBox([w.VBox(controls[:half]), w.VBox(controls[half:])]), reset, image, table])
        self._widgets = {"controls": made, "image": image, "table": table, "box": box}
        self._redraw()

    def _moved(self, name, value) -> None:
        if not self._syncing:
            self.set(**{name: value})

    def _sync_widgets(self) -> None:
        self._syncing = True
        try:
            for name, widget in self._widgets["controls"].items():
                if widget.value != self.values[name]:
                    widget.value = self.values[name]
        finally:
            self._syncing = False

    def _redraw(self) -> None:
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png", dpi=72)
        self._widgets["image"].value = buffer.getvalue()
        self._widgets["table"].value = self.table_html()


def _signed(value: float, unit: str) -> str:
    """A change in its unit, with its sign: ``+12.5``, ``-3.1%``, ``0``."""
    text = shown(value, unit)
    return text if text.startswith("-") or value == 0 else f"+{text}"
