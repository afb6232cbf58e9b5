"""The notebooks run top to bottom (code cells executed in order, as a kernel would), and are kept small."""

import json

import matplotlib
import pytest
from paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path, kind):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(path.parent)
    namespace = {"__name__": "__notebook__"}
    try:
        for i, cell in enumerate(_cells(path, "code")):
            exec(compile("".join(cell["source"]), f"{path.name}[{i}]", "exec"), namespace)  # noqa: S102
    finally:
        plt.close("all")


def test_the_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} == {"funnel_tour", "budget_split", "plan_over_time", "explore_funnel"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_outputs_are_small_and_the_api_is_current(path):
    cells = json.loads(path.read_text())["cells"]
    outputs = sum(len(json.dumps(c.get("outputs", []))) for c in cells if c["cell_type"] == "code")
    assert outputs < 20_000, f"{path.name} keeps {outputs:,} characters of outputs; clear them before committing"
    code = "\n".join("".join(c["source"]) for c in _cells(path, "code"))
    assert "model_copy" not in code  # scenarios are edited with scenario.replace
    assert "from sim." not in code and "import sim." not in code  # notebooks use the public names of `sim`
