"""The package's layers: imports run one way, and each third-party library stays in its room.

An AST walk over every module of sim/, imports at module level and inside functions
alike. A layer may import itself and the layers below it:

    errors, seeds, version  <-  scenario  <-  model      <-  decide  <-  present  <-  cli
                                          <-  montecarlo <-

``model`` and ``montecarlo`` are side by side: the Monte Carlo layer runs any model
function and imports nothing of the model. ``sim/__init__.py`` is the public facade
over everything and is imported by no module of the package.
"""

import ast
import functools

import pytest
from paths import SIM

FOUNDATION = {"sim.errors", "sim.seeds", "sim.version"}
BELOW = {
    "foundation": set(),
    "scenario": {"foundation"},
    "model": {"foundation", "scenario"},
    "montecarlo": {"foundation", "scenario"},
    "decide": {"foundation", "scenario", "model", "montecarlo"},
    "calibrate": {"foundation", "scenario", "model", "montecarlo", "decide"},
    "present": {"foundation", "scenario", "model", "montecarlo", "decide", "calibrate"},
    "cli": {"foundation", "scenario", "model", "montecarlo", "decide", "calibrate", "present"},
}
# The one way up: a result object's to_excel hands itself to the presentation layer, which
# knows it only by its attributes; the import is inside that method, made only when it is called.
UP_ON_PURPOSE = {
    ("sim/montecarlo/experiment.py", "sim.present.workbook", "to_excel"),
    ("sim/decide/compare.py", "sim.present.workbook", "to_excel"),
}
# Third-party libraries and the only rooms that may import them.
ROOMS = {
    "simpy": {"model"},
    "rich": {"present"},
    "matplotlib": {"present"},
    "openpyxl": {"present"},
    "argparse": {"cli"},
    "distributed": {"montecarlo/backends.py"},
    "pydantic": {"scenario"},
    "yaml": {"scenario", "calibrate"},
    "lifelines": {"calibrate"},
}

MODULES = sorted(p for p in SIM.rglob("*.py"))


def _room(path) -> str:
    rel = path.relative_to(SIM.parent).as_posix()
    if rel == "sim/__init__.py":
        return "facade"
    parts = rel.split("/")
    if len(parts) == 2:
        return "foundation"
    return parts[1]


@functools.cache  # read and walked once, for every check that looks at the module
def _imports(path):
    """Every import in a module: ``(imported module, enclosing function or None, line)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Import):
                found.extend((a.name, function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, function, child.lineno))
                found.extend((f"{child.module}.{a.name}", function, child.lineno) for a in child.names)
            visit(child, inner)

    visit(tree, None)
    return tuple(found)


def _layer_of(module: str) -> str | None:
    if module in FOUNDATION:
        return "foundation"
    if module == "sim":
        return "facade"
    parts = module.split(".")
    if parts[0] != "sim" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in BELOW else None  # "sim.x.name" where name is not a module: its module decides


def test_every_module_of_the_package_is_in_a_room():
    rooms = {_room(p) for p in MODULES}
    assert rooms <= {*BELOW, "facade"}, rooms - {*BELOW, "facade"}
    assert all(p.stem != "__init__" or _room(p) != "foundation" or p.parent == SIM for p in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(SIM.parent).as_posix())
def test_imports_run_one_way(path):
    rel = path.relative_to(SIM.parent).as_posix()
    room = _room(path)
    if room == "facade":
        return  # the public facade may name anything
    wrong = []
    for module, function, line in _imports(path):
        target = _layer_of(module)
        if target is None or target == room:
            continue
        if target == "facade":
            wrong.append(f"line {line}: imports the facade `sim` (import the module that defines the name)")
        elif target not in BELOW[room] and (rel, ".".join(module.split(".")[:3]), function) not in UP_ON_PURPOSE:
            wrong.append(f"line {line}: {room} imports {module}, a layer above it or beside it")
    assert not wrong, f"{rel}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("library", sorted(ROOMS))
def test_third_party_libraries_stay_in_their_rooms(library):
    outside = []
    for path in MODULES:
        rel = path.relative_to(SIM).as_posix()
        room = _room(path)
        allowed = any(rel == r or rel.startswith(r + "/") or room == r for r in ROOMS[library])
        for module, _, line in _imports(path):
            if (module == library or module.startswith(library + ".")) and not allowed:
                outside.append(f"sim/{rel}:{line} imports {module}")
    assert not outside, "\n".join(outside)


def test_the_checks_would_catch_a_violation(tmp_path):
    # The walk sees imports inside functions too, and a model module importing the Monte Carlo layer is caught.
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy\n\ndef f():\n    from sim.montecarlo import run_many\n    import simpy\n")
    found = _imports(probe)
    assert ("sim.montecarlo", "f", 4) in found and ("simpy", "f", 5) in found
    assert _layer_of("sim.montecarlo.run_many") == "montecarlo" and "montecarlo" not in BELOW["model"]
    assert "model" not in BELOW["montecarlo"]


def test_importing_sim_is_light():
    # The facade loads names when first used: `import sim` brings neither SimPy, matplotlib, rich nor pandas.
    import subprocess
    import sys

    code = ("import sys, sim; heavy = [m for m in ('simpy', 'matplotlib', 'rich', 'pandas', 'openpyxl') "
            "if m in sys.modules]; print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
