"""The notebooks run top to bottom (code cells executed in order, as a kernel would), and are kept small."""

import ast
import json

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure
from paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path, kind):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]


# Notebooks held to the presentation rules: every table shown readable (no scientific notation), every
# figure with a title and axis labels, and a markdown cell after it saying what to notice.
TIDY = {"funnel_tour", "calibrate_and_backtest"}


def _run_cell(source, name, namespace):
    """Run a cell as a kernel does; returns the value of its last line if that is an expression (what it shows)."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, "exec"), namespace)  # noqa: S102
    if last is None:
        return None
    value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)  # noqa: S307
    return None if source.rstrip().endswith(";") else value  # a trailing ";" runs the line and shows nothing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(path.parent)
    namespace = {"__name__": "__notebook__"}
    cells = json.loads(path.read_text())["cells"]
    shown, figures = [], []  # (cell index, value shown); (cell index, figure drawn)
    try:
        code = [k for k, c in enumerate(cells) if c["cell_type"] == "code"]
        for i, k in enumerate(code):
            before = set(plt.get_fignums())
            value = _run_cell("".join(cells[k]["source"]), f"{path.name}[{i}]", namespace)
            shown.append((k, value))
            figures += [(k, plt.figure(n)) for n in plt.get_fignums() if n not in before]
            if isinstance(value, Figure):
                figures.append((k, value))
        if path.stem in TIDY:
            _check_tidy(path, cells, shown, figures)
    finally:
        plt.close("all")


def _check_tidy(path, cells, shown, figures):
    tables = [v for _, v in shown if isinstance(v, pd.DataFrame | pd.Series)]
    assert tables, f"{path.name} shows no table"
    for table in tables:
        frame = table.to_frame() if isinstance(table, pd.Series) else table  # Jupyter shows a Series as text
        for text in (table.to_string(), frame.to_html()):
            assert "e+" not in text and "e-0" not in text, f"{path.name} shows a number in scientific notation:\n{text}"
    assert figures, f"{path.name} draws no figure"
    for k, fig in figures:
        axes = [ax for ax in fig.axes if ax.has_data()]
        assert axes, f"{path.name}, cell {k}: a figure with nothing drawn"
        assert fig.get_suptitle() or all(ax.get_title() for ax in axes), f"{path.name}, cell {k}: a figure, no title"
        assert all(ax.get_ylabel() for ax in axes), f"{path.name}, cell {k}: an axis without label"
        assert fig.get_supxlabel() or any(ax.get_xlabel() for ax in axes), f"{path.name}, cell {k}: no x label"
        assert cells[k + 1]["cell_type"] == "markdown", f"{path.name}, cell {k}: say what to notice in the figure"


def test_the_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} == {"funnel_tour", "budget_split", "plan_over_time", "explore_funnel",
                                          "calibrate_and_backtest"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_outputs_are_small_and_the_api_is_current(path):
    cells = json.loads(path.read_text())["cells"]
    outputs = sum(len(json.dumps(c.get("outputs", []))) for c in cells if c["cell_type"] == "code")
    assert outputs < 20_000, f"{path.name} keeps {outputs:,} characters of outputs; clear them before committing"
    code = "\n".join("".join(c["source"]) for c in _cells(path, "code"))
    assert "model_copy" not in code  # scenarios are edited with scenario.replace
    assert "from sim." not in code and "import sim." not in code  # notebooks use the public names of `sim`
