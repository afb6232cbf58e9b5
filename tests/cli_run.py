"""Running the ``funnel`` command in tests: in this process (fast) or as a real process.

A real process costs about two seconds (the interpreter and the imports); keep those
for what only a real process shows (exit codes and no traceback through ``python -m
sim.cli``, signals, pipes, terminals) and call :func:`in_process` for the rest.
"""

import contextlib
import io
import json
import re
import subprocess
import sys
import warnings

from paths import ROOT, SCENARIOS, TEACHING

from sim.cli import main

__all__ = ["ROOT", "SCENARIOS", "TEACHING", "Terminal", "assert_one_line_per_option", "command", "in_process",
           "in_subprocess", "nonblank_lines", "shown_warnings", "stamps", "strict_json", "table_value"]

# What Python leaves out of stderr by default (unless raised in __main__); every other warning is printed.
QUIET_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal (as a pseudo-terminal would), for progress bars."""

    def isatty(self) -> bool:
        return True


def in_process(*args, terminal: bool = False) -> tuple[int, str, str]:
    """Run ``main(args)`` capturing stdout and stderr; argparse's SystemExit becomes the code.

    With ``terminal``, stderr claims to be a terminal (:class:`Terminal`).
    """
    out, err = io.StringIO(), Terminal() if terminal else io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def shown_warnings():
    """Collect the warnings a real process would print on stderr (in pytest they are kept from it).

    Use as ``with shown_warnings() as shown: ...`` then ``assert shown == []``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = []
        yield shown
    shown += [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, QUIET_BY_DEFAULT)]


def command(*args) -> list[str]:
    """The argv of ``python -m sim.cli ARGS`` (what the ``funnel`` script runs)."""
    return [sys.executable, "-m", "sim.cli", *map(str, args)]


def in_subprocess(*args, **kwargs) -> subprocess.CompletedProcess:
    """Run ``funnel ARGS`` as a real process from the project root."""
    return subprocess.run(command(*args), cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def strict_json(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity (not JSON)."""

    def reject(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def nonblank_lines(text: str) -> list[str]:
    """The non-blank lines of ``text``."""
    return [line for line in text.splitlines() if line.strip()]


def _about(line: str, option: str) -> bool:
    """Whether error ``line`` is about ``option``: it starts with it (``--role-share sdr: ...`` is about
    ``--role-share``; ``--metric: is needed with --precision`` is not about ``--precision``), or it is
    argparse's line about that argument (or, without an argument, mentions it: ``unrecognized arguments: --sed``)."""
    argparse_line = re.match(r"funnel [\w-]+: error: (.*)", line)
    if argparse_line:
        text = argparse_line.group(1)
        argument = re.match(r"argument (\S+?):", text)
        return argument.group(1) == option if argument else option in text
    about = line.split(": ", 1)[0]
    return about == option or about.startswith(option + " ")


def assert_one_line_per_option(code, out, err, named) -> list[str]:
    """Bad input: exit 2, nothing on stdout, no traceback, and one stderr line about each option in ``named``
    (an option named twice: two lines about it).

    A line is about the option it starts with (``--metric: is needed with --precision`` is about
    ``--metric``, not ``--precision``); argparse's lines are about the argument they name.
    """
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert out == ""
    lines = nonblank_lines(err)
    assert len(lines) == len(named), lines
    for option in named:
        assert sum(_about(line, option) for line in lines) == named.count(option), (option, lines)
    return lines


def stamps(paths) -> dict:
    """Inode, modification time and size of each path and everything under it (to show files were kept)."""
    found = {}
    for path in paths:
        for p in [path, *sorted(path.rglob("*"))]:
            st = p.stat()
            found[str(p)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def table_value(text: str, label: str) -> str:
    """The value cell of the table row labelled ``label`` in rich's output (``│ label │ value │``)."""
    rows = [line for line in text.splitlines() if re.match(rf"\s*│\s*{re.escape(label)}\s*│", line)]
    assert len(rows) == 1, (label, rows)
    cells = [cell.strip() for cell in rows[0].strip().strip("│").split("│")]
    return cells[1]
