"""The README's examples run, so the README cannot rot."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_example_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    for code in _blocks("python"):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README


def test_validate_example_prints_what_the_readme_shows():
    text = _blocks("text")[0]
    shown = [line for line in text.splitlines() if line.startswith("broken.yaml:")]
    done = subprocess.run([sys.executable, "-m", "sim.cli", "validate", "broken.yaml"], cwd=ROOT / "tests" / "data",
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == shown


def test_seed_error_example_matches():
    text = _blocks("text")[0]
    shown = [line for line in text.splitlines() if line.startswith("funnel run:")]
    done = subprocess.run([sys.executable, "-m", "sim.cli", "run", "broken.yaml", "--seed", "x"],
                          cwd=ROOT / "tests" / "data", capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == shown


def test_anatomy_example_is_a_valid_scenario():
    import yaml

    import sim

    anatomy = next(b for b in _blocks("yaml") if "horizon_months" in b)
    sc = sim.parse_scenario(yaml.safe_load(anatomy))
    r = sim.simulate(sc, seed=0)
    acc = r.metrics["lead_accounting"]
    assert acc["arrived"] == sum(v for k, v in acc.items() if k != "arrived")


def test_quick_start_is_exactly_two_commands_and_ci_runs_them():
    block = README.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0]
    commands = [line for line in _blocks_in(block) if line.strip()]
    assert len(commands) == 2
    assert "funnel run scenarios/b2b_saas_inbound.yaml" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:  # CI runs exactly what the README says
        assert f"'{command}'" in ci


def _blocks_in(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)[0].splitlines()
