import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "sim", "tests", "tools"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_two_test_modules_share_a_name():
    """The tests are not packages, so pytest refuses to collect two modules of one name (tests/a/x.py, tests/b/x.py)."""
    names = {}
    for path in sorted(Path(__file__).parent.rglob("test_*.py")):
        names.setdefault(path.name, []).append(str(path.relative_to(Path(__file__).parent)))
    assert not {n: p for n, p in names.items() if len(p) > 1}
