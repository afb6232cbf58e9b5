"""The library's parameter names as the command line's flags, and every problem reported at once.

The names a library error can carry are found in the package's source (the first
argument of the error classes, ``(name, message)`` problem tuples, ``{name}``
references in messages) and by asking the check functions with every setting wrong;
the table below (PASSED_BY and the sets after it) is the expectation. Each must be a flag of the commands
that pass it, as their ``--help`` shows, or one of the documented names that are not
flags. Through the command line, no problem is ever shown with a Python name, and a
command with several wrong options says so on one line each, before anything runs
or is written.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

import pytest
from cli_run import assert_one_line_per_option, in_process, in_subprocess, nonblank_lines, stamps
from paths import SIM, SMALL_FIRM, TEACHING

import sim
from sim.cli.flags import flag
from sim.errors import FunnelError

RUNNING = ("run", "compare", "sweep", "optimize")
JUDGING = ("compare", "sweep", "optimize")
SPLITS = ("compare", "sweep")

# The parameter names of the library's errors, with the commands that pass each.
PASSED_BY = {
    "reps": ("run", *SPLITS),
    "seed": RUNNING,
    "workers": RUNNING,
    "backend": RUNNING,
    "scheduler": RUNNING,
    "connect_timeout": RUNNING,
    "limits": RUNNING,
    "out": RUNNING,
    "precision": ("run",),
    "metric": ("run",),
    "precision_batch": ("run",),
    "chunk_size": ("run",),
    "trace": ("run",),
    "replication": ("run",),
    "objective": JUDGING,
    "risk": JUDGING,
    "tail": JUDGING,
    "target": JUDGING,
    "level": JUDGING,
    "budget": JUDGING,
    "baseline": SPLITS,
    "grid": SPLITS,
    "split": JUDGING,
    "marketing_share": SPLITS,
    "role_share.sdr": SPLITS,
    "role_share.<role>": SPLITS,
    "channel_share.<channel>": SPLITS,
    "fixed": ("optimize",),
    "min_fte": ("optimize",),
    "max_fte": ("optimize",),
    "bounds": ("optimize",),
    "contenders": ("optimize",),
    "initial_reps": ("optimize",),
    "race_batch": ("optimize",),
    "max_reps": ("optimize",),
    "fresh_reps": ("optimize",),
    "delta": ("optimize",),
    "channel_step": ("optimize",),
    "probability": ("optimize",),
    "budget_range": ("optimize",),
    "terminal": JUDGING,
    "period_months": ("optimize",),
    "runway": ("optimize",),
    "cash_probability": ("optimize",),
    "max_hires_month": ("optimize",),
    "max_change": ("optimize",),
    "spend_bounds": ("optimize",),
    "method": ("sensitivity",),
    "ranges": ("sensitivity",),
    "samples": ("sensitivity",),
    "export_day": ("export-crm",),
    "train_until": ("backtest", "calibrate"),
    "months": ("backtest",),
    "mapping": ("backtest",),
    # the scenario files themselves (FLAGS: "FILE")
    "start_date": ("export-crm",),
    "alternatives": ("compare",),
    "scenario": ("optimize",),
}
# smallest_budget's tolerance and the plan screen's step and evaluation limit have no flag: the command line leaves
# them at their defaults, so they are never wrong there.
NOT_PASSED = {"budget_tolerance", "spend_step", "max_evaluations"}
# Parameters no option of the command line reaches: the pure response curves' rate and lag_months (the scenario's
# schema checks those fields first), the record of a lead table, and what plots and exports are given (the command
# line gives them only what it made itself: a comparison, its own extra tables, the fan chart's monthly frames,
# labels and bands, a waterfall's replications, a sensitivity plot's result, what-if settings it built from --set,
# the numbers measures_table formats and where their measures are).
NOT_FROM_OPTIONS = {"rate", "lag_months", "record", "comparison", "against", "extra", "monthly", "label", "bands",
                    "settings", "replications", "result", "data", "measures", "actual", "deals"}
# Named by the writers of --out, --plots (and their folder checks) as `directory`: the command line words each
# writer's refusal with the option that gave that writer its folder (sim/cli/split.py, _write_outputs).
WORDED_BY_THE_WRITER = {"directory"}
# The names that are not flags, as flags.py words them.
NOT_FLAGS = {"grid", "split", "alternatives", "scenario", "start_date"}


def _library_modules():
    for info in pkgutil.walk_packages(sim.__path__, "sim."):
        if not info.name.startswith("sim.cli"):
            yield importlib.import_module(info.name)


def _error_classes() -> dict[str, type]:
    classes = {}
    for module in _library_modules():
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, FunnelError):
                classes[name] = value
    return classes


def _strings(node) -> list[str]:
    """The literal text of a message: a string, or an f-string's literal parts."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _source_names() -> tuple[set[str], set[str]]:
    """``(names, references)``: the parameter names the library's source gives its errors, and the
    ``{name}`` references in their messages."""
    classes = _error_classes()
    assert {"ExperimentError", "StoreError", "SplitError", "OptimizeError", "BudgetTooSmall"} <= set(classes)
    names, messages = set(), []
    if "StoreError" in classes:
        names.add("out")  # its parameter is always out; its first argument is the message
    files = [p for p in sorted(SIM.rglob("*.py")) if "cli" not in p.relative_to(SIM).parts]
    assert len(files) > 40
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if func == "StoreError":
                messages += node.args
            elif func in classes and func != "ScenarioError":  # a ScenarioError names its source and fields
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
                messages += node.args[1:2]
            elif func.endswith("_problem") and node.args and isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)  # _int_problem("reps", reps, 1)
            elif func in ("append", "insert") and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id.endswith("problems"):
                for arg in node.args:
                    if isinstance(arg, ast.Tuple) and len(arg.elts) == 2:
                        first = arg.elts[0]
                        if isinstance(first, ast.Constant) and isinstance(first.value, str):
                            names.add(first.value)
                        messages.append(arg.elts[1])
                    elif isinstance(arg, ast.JoinedStr | ast.Constant):
                        messages.append(arg)
    references = {m for node in messages for text in _strings(node)
                  for m in re.findall(r"\{([a-z_]+(?:\.[a-z_]+)*)\}", text)}
    return names, references


def _asked_names() -> set[str]:
    """The names the library's own checks give, with every setting they check wrong."""
    from sim.decide.compare import comparison_problems, split_alternatives_of
    from sim.decide.objectives import make_risk
    from sim.decide.optimize import budget_search_problems, race_problems
    from sim.decide.search_space import search_space
    from sim.decide.sensitivity import sensitivity_problems
    from sim.montecarlo.experiment import check_settings

    found = race_problems(contenders=0, initial_reps=0, race_batch=0, max_reps=0, fresh_reps=0, level=2, delta=-1,
                          channel_step=2)
    found += check_settings(reps=0, workers=0, backend="nosuch", scheduler="x", precision=-1, metric=None,
                            precision_batch=0, chunk_size=0, trace=-1)
    found += budget_search_problems(probability=2, budget_range=(5, 1), budget_tolerance=2)
    found += comparison_problems(reps=1, level=2)
    found += sensitivity_problems(None, None, method="nope", reps=0, samples=0, level=2)
    scenario, small = sim.load_scenario(TEACHING), sim.load_scenario(SMALL_FIRM)
    for attempt in (lambda: make_risk("var"), lambda: make_risk("mean", tail=0.1, target=3),
                    lambda: search_space(small, fixed=["nosuch"], min_fte={"nosuch": 1}, max_fte={"ae": -1},
                                         bounds={"marketing_share": (0.8, 0.2)}),
                    lambda: split_alternatives_of(scenario, {"marketing_share": [2.0], "role_share.sdr": [0.5],
                                                             "role_share.nosuch": [0.5],
                                                             "channel_share.nosuch": [0.5]})):
        with pytest.raises(FunnelError) as caught:
            attempt()
        found += caught.value.problems
    return {name for name, _ in found}


def _general(name: str) -> str:
    """A split setting of one role or channel stands for all of them."""
    kind, _, which = name.partition(".")
    if kind == "channel_share" and which:
        return "channel_share.<channel>"
    if kind == "role_share" and which and which != "sdr":
        return "role_share.<role>"
    return name


@pytest.fixture(scope="module")
def library_names():
    names, references = _source_names()
    return {_general(n) for n in names | _asked_names()}, references


def _help(command: str) -> str:
    code, out, err = in_process(command, "--help")
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return {command: _help(command) for command in (*RUNNING, "validate", "schema", "bench", "sensitivity",
                                                                 "export-crm", "backtest", "calibrate")}


def _offers(help_text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


# ---------------------------------------------------------------------------------
# The table


def test_the_library_gives_its_errors_exactly_the_documented_names(library_names):
    names, _ = library_names
    # A name found here and not documented (or the reverse) is a parameter the table below must learn.
    assert names == set(PASSED_BY) | NOT_PASSED | NOT_FROM_OPTIONS | WORDED_BY_THE_WRITER


def test_every_name_is_a_flag_of_the_commands_that_pass_it(helps):
    for name, commands in PASSED_BY.items():
        example = name.replace("<role>", "ae").replace("<channel>", "ads")
        worded = flag(example)
        assert worded != example or name in NOT_FLAGS, f"{name} is shown as the Python name {worded!r}"
        for command in commands:
            text = helps[command]
            if worded == "FILE":
                assert name in NOT_FLAGS
                assert re.search(rf"usage: funnel {command} .*FILE", text, re.DOTALL), command
            elif worded.startswith("--"):
                option = worded.split()[0]  # "--channel-share ads": the option, then the channel
                assert _offers(text, option), f"{name} -> {option} is not an option of funnel {command}"
            else:  # the split options, named in a sentence
                assert name in NOT_FLAGS
                options = re.findall(r"--[a-z][a-z-]*", worded)
                assert options, worded
                for option in options:
                    assert _offers(text, option), f"{name} -> {option} is not an option of funnel {command}"
        for command in set(RUNNING) - set(commands):  # and the commands that do not pass it do not offer it
            if worded.startswith("--") and name not in ("race_batch", "precision_batch"):  # --batch means both
                assert not _offers(helps[command], worded.split()[0]), (name, command)


def test_a_split_setting_is_worded_as_its_option():
    assert flag("marketing_share") == "--marketing-share"
    assert flag("role_share.sdr") == "--sdr-share (or --role-share sdr)"  # either may have set it
    assert flag("role_share.customer_success") == "--role-share customer_success"
    assert flag("channel_share.paid_search") == "--channel-share paid_search"


def test_the_names_without_a_flag_are_never_passed_by_the_command_line(helps):
    cli_source = "\n".join(p.read_text(encoding="utf-8") for p in sorted((SIM / "cli").glob("*.py")))
    for name in NOT_PASSED:
        assert name not in cli_source  # so the library's default holds, and the name cannot come back
        assert not any(_offers(text, "--" + name.replace("_", "-")) for text in helps.values())


def test_every_name_a_message_refers_to_is_a_flag(library_names):
    names, references = library_names
    assert {"initial_reps", "precision", "metric", "seed", "risk", "budget", "min_fte"} <= references
    for name in references:
        assert name in names, name
        assert flag(name).startswith("--"), (name, flag(name))


# ---------------------------------------------------------------------------------
# Through the command line: never a Python name


T, S = TEACHING, SMALL_FIRM
WRONG = [
    pytest.param(["run", T, "--reps", 0, "--chunk-size", 0, "--trace", -1, "--out", "OUT"], id="run-ints"),
    pytest.param(["run", T, "--reps", 5, "--metric", "wins", "--precision", 0.1, "--batch", 1], id="run-batch"),
    pytest.param(["run", T, "--reps", 5, "--precision", 0.1], id="run-precision-alone"),
    pytest.param(["run", T, "--reps", 5, "--metric", "wins"], id="run-metric-alone"),
    pytest.param(["run", T, "--reps", 5, "--scheduler", "x", "--backend", "local"], id="run-scheduler"),
    pytest.param(["run", T, "--replication", -1], id="run-replication"),
    pytest.param(["run", T, "--seed", -2], id="run-seed"),
    pytest.param(["optimize", S, "--candidates", 0, "--initial-reps", 1, "--batch", 0, "--max-reps", 1,
                  "--fresh-reps", 1, "--delta", -5, "--channel-step", 0.9, "--confidence", 2], id="optimize-race"),
    pytest.param(["optimize", S, "--initial-reps", 5, "--max-reps", 3], id="optimize-max-reps"),
    pytest.param(["optimize", S, "--bounds", "marketing_share=0.2:1.5", "--fixed", "nosuch", "--min-fte", "nosuch=1",
                  "--max-fte", "ae=-1"], id="optimize-limits"),
    pytest.param(["optimize", S, "--min-fte", "ae=9", "--max-fte", "ae=2"], id="optimize-min-above-max"),
    pytest.param(["optimize", S, "--min-fte", "ae=50"], id="optimize-min-above-budget"),
    pytest.param(["optimize", S, "--budget", 1], id="optimize-budget-too-small"),
    pytest.param(["optimize", S, "--smallest-budget", "--target", 5, "--probability", 2, "--budget-range", "5:1"],
                 id="optimize-smallest-budget"),
    pytest.param(["compare", T, "--marketing-share", "1.5", "--risk", "cvar", "--confidence", 2, "--reps", 1],
                 id="compare-settings"),
    pytest.param(["compare", T, "--marketing-share", "0.3", "--risk", "probability"], id="compare-no-target"),
    pytest.param(["compare", T, "--marketing-share", "0.3", "--risk", "mean", "--risk-level", 0.1, "--target", 3],
                 id="compare-unused-risk-options"),
    pytest.param(["compare", T, "--marketing-share", "0.3", "--baseline", "nosuch", "--reps", 2],
                 id="compare-baseline"),
    pytest.param(["compare", T, "--marketing-share", "0.3", "--budget", -1], id="compare-budget"),
    pytest.param(["sweep", S, "--channel-share", "nosuch=0.5", "--role-share", "nosuch=0.2"], id="sweep-unknown"),
    pytest.param(["sweep", S, "--sdr-share", "0.5"], id="sweep-no-sdr"),
]
# What the library calls its parameters and a user never types (a split setting, such as marketing_share,
# is typed in --bounds marketing_share=LOW:HIGH, so it may be echoed back).
PYTHON_ONLY = sorted(n for n in {*PASSED_BY, *NOT_PASSED} if "_" in n and not n.startswith(("marketing_share",
                                                                                               "role_share",
                                                                                               "channel_share")))


@pytest.mark.parametrize("argv", WRONG)
def test_a_library_problem_is_shown_with_the_flags(argv, helps, tmp_path):
    out_dir = tmp_path / "never"
    command = argv[0]
    code, out, err = in_process(*[out_dir if a == "OUT" else a for a in argv], "--quiet")
    assert code == 2, (out, err)
    assert out == "" and "Traceback" not in err
    lines = nonblank_lines(err)
    assert lines
    for line in lines:
        about = line.split(": ", 1)[0]
        option = about.split()[0]  # "--channel-share nosuch: ..." is about --channel-share
        assert about == "FILE" or (option.startswith("--") and _offers(helps[command], option)), line
        for name in PYTHON_ONLY:
            assert not re.search(rf"(?<![\w.]){name}(?![\w])", line), (name, line)
        assert "{" not in line and "}" not in line, line  # every {reference} was filled
    assert not out_dir.exists()


def test_max_reps_below_initial_reps_names_both_flags():
    code, out, err = in_process("optimize", TEACHING, "--initial-reps", 5, "--max-reps", 3)
    assert (code, out) == (2, "")
    assert nonblank_lines(err) == ["--max-reps: must be at least --initial-reps (5), got 3"]


def test_resuming_with_another_seed_names_the_flags(tmp_path):
    out_dir = tmp_path / "exp"
    code, _, err = in_process("run", TEACHING, "--reps", 5, "--out", out_dir, "--seed", 1, "--json")
    assert code == 0, err
    code, out, err = in_process("run", TEACHING, "--reps", 5, "--out", out_dir, "--seed", 2, "--json")
    assert (code, out) == (2, "")
    assert nonblank_lines(err) == [
        f"--out: {out_dir}: cannot resume: it was run with --seed 1, not 2; use a new --out directory"]


# ---------------------------------------------------------------------------------
# Every problem at once, before anything runs or is written


@pytest.fixture
def outputs(tmp_path):
    """Files and folders in the way of a command's outputs, with what they hold."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "old.xlsx.txt").write_text("a workbook's name without .xlsx\n", encoding="utf-8")
    (kept / "plots").write_text("a file where --plots wants a folder\n", encoding="utf-8")
    (kept / "tables").write_text("a file where --out wants a folder\n", encoding="utf-8")
    results = kept / "results"  # an earlier run's folder, which a refused command must leave alone
    results.mkdir()
    (results / "about.json").write_text("{}\n", encoding="utf-8")
    return kept


def test_optimize_with_several_wrong_options_says_each_and_writes_nothing(outputs):
    before = stamps([outputs])
    code, out, err = in_process(
        "optimize", SMALL_FIRM, "--excel", outputs / "old.xlsx.txt", "--plots", outputs / "plots",
        "--out", outputs / "tables", "--initial-reps", 5, "--max-reps", 3, "--bounds", "marketing_share=0.3:1.2",
        "--risk", "mean", "--risk-level", 0.1, "--quiet")
    lines = assert_one_line_per_option(code, out, err, ["--excel", "--plots", "--out", "--max-reps", "--bounds",
                                                        "--risk-level"])
    assert "--max-reps: must be at least --initial-reps (5), got 3" in lines
    assert "--risk-level: is only used with --risk var or cvar" in lines
    assert stamps([outputs]) == before  # every file and folder kept as it was, nothing added


def test_compare_with_several_wrong_options_says_each_and_writes_nothing(outputs):
    before = stamps([outputs])
    code, out, err = in_process(
        "compare", TEACHING, "--marketing-share", "0.2,1.5", "--excel", outputs / "old.xlsx.txt",
        "--plots", outputs / "plots", "--out", outputs / "results", "--risk", "var", "--confidence", 2,
        "--reps", 1, "--quiet")
    lines = assert_one_line_per_option(code, out, err, ["--marketing-share", "--excel", "--plots", "--risk-level",
                                                        "--confidence", "--reps"])
    assert "--marketing-share: expected a share between 0 and 1, got 1.5" in lines
    assert "--risk-level: is needed with --risk var (e.g. 0.1 for the worst 10%)" in lines
    assert stamps([outputs]) == before


def test_run_with_several_wrong_options_says_each_and_writes_nothing(outputs):
    before = stamps([outputs])
    code, out, err = in_process(
        "run", TEACHING, "--reps", 0, "--chunk-size", 0, "--trace", 1, "--monthly", outputs / "missing" / "m.csv",
        "--scheduler", "x", "--json")
    assert_one_line_per_option(code, out, err, ["--reps", "--chunk-size", "--trace", "--monthly", "--scheduler"])
    assert stamps([outputs]) == before


@pytest.mark.parametrize("argv, named", [
    pytest.param(["run", T, "--reps", 0, "--seed", -3], ["--reps", "--seed"], id="run-seed"),
    pytest.param(["run", T, "--replication", -1, "--seed", -3], ["--replication", "--seed"], id="replication-seed"),
    pytest.param(["compare", T, "--marketing-share", "0.2", "--reps", 1, "--seed", -1], ["--reps", "--seed"],
                 id="compare-seed"),
    pytest.param(["optimize", S, "--candidates", 0, "--seed", -1], ["--candidates", "--seed"], id="optimize-seed"),
    pytest.param(["optimize", S, "--candidates", 0, "--initial-reps", 5, "--max-reps", 3],
                 ["--candidates", "--max-reps"], id="race-settings"),
    pytest.param(["compare", T, "--marketing-share", "1.5", "--budget", -1], ["--marketing-share", "--budget"],
                 id="share-and-budget"),
])
def test_the_seed_the_budget_and_the_race_are_reported_with_the_other_problems(argv, named, tmp_path):
    out_dir = tmp_path / "never"
    code, out, err = in_process(*argv, "--out", out_dir, "--quiet") if argv[0] != "run" or "--reps" in argv \
        else in_process(*argv)
    assert_one_line_per_option(code, out, err, named)
    assert not out_dir.exists()


def test_several_wrong_options_in_a_real_process(outputs):
    # What a script sees: exit 2, one line each, no traceback, the same lines as in this process.
    args = ("sweep", SMALL_FIRM, "--marketing-share", "0:1.5:0.5", "--channel-share", "nosuch=0.5",
            "--excel", outputs / "old.xlsx.txt", "--risk", "probability", "--reps", 1, "--quiet")
    before = stamps([outputs])
    proc = in_subprocess(*args)
    assert_one_line_per_option(proc.returncode, proc.stdout, proc.stderr,
                               ["--marketing-share", "--channel-share", "--excel", "--target", "--reps"])
    assert nonblank_lines(proc.stderr) == nonblank_lines(in_process(*args)[2])
    assert stamps([outputs]) == before

