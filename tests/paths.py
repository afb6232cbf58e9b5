"""Where the tests find the project's files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
REFERENCE = SCENARIOS / "b2b_saas_inbound.yaml"
TEACHING = SCENARIOS / "teaching_minimal.yaml"
SMALL_FIRM = SCENARIOS / "small_services_firm.yaml"
TESTS = ROOT / "tests"
BAD_DIR = TESTS / "bad_scenarios"
DATA = TESTS / "data"
DOCS = ROOT / "docs"
SIM = ROOT / "sim"
