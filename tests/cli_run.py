"""Running the ``funnel`` command in tests: in this process (fast) or as a real process."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

from sim.cli import main

ROOT = Path(__file__).parent.parent
SCENARIOS = ROOT / "scenarios"
TEACHING = SCENARIOS / "teaching_minimal.yaml"


def in_process(*args) -> tuple[int, str, str]:
    """Run ``main(args)`` capturing stdout and stderr; argparse's SystemExit becomes the code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


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


def assert_one_line_per_option(code, out, err, named) -> list[str]:
    """Bad input: exit 2, nothing on stdout, no traceback, one stderr line naming each option in ``named``."""
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert out == ""
    lines = nonblank_lines(err)
    assert len(lines) == len(named), lines
    for option in named:
        assert sum(option in line for line in lines) == 1, (option, lines)
    return lines


def stamps(paths) -> dict:
    """Inode, modification time and size of each path and everything under it (to show files were kept)."""
    found = {}
    for path in paths:
        for p in [path, *sorted(path.rglob("*"))]:
            st = p.stat()
            found[str(p)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found
