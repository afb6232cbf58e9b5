"""The README's and the docs' examples run and say what the code does, so the docs cannot rot.

- Every ```python block of README.md and of docs/ runs (one namespace per file, blocks in
  order, from the project root).
- Every ```text block that starts with ``$ funnel`` is a transcript of errors: each command
  is run (in this process) and must print exactly the lines shown, with exit code 2.
- Every ``funnel`` command of a ```bash block parses with the real argument parser.
- Every relative link points to a file that exists (and to a heading that exists).
- docs/api.md lists every name of ``sim.__all__`` with the parameters it really has, and
  docs/model.md names every measure a run produces.
"""

import inspect
import re
import shlex

import pytest
import yaml
from cli_run import in_process
from paths import DOCS, ROOT, SIM

README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md")), *sorted((DOCS / "guide").glob("*.md"))]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _id(path):
    return str(path.relative_to(ROOT))


def _blocks(text, lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def _prose(text):
    """The text without its fenced code blocks (where '#' is a comment, not a heading)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_there_are_docs():
    names = {_id(p) for p in PAGES}
    for page in ("docs/model.md", "docs/api.md", "docs/speed.md", "docs/guide/run.md",
                 "docs/guide/replications.md", "docs/guide/budget-splits.md", "docs/guide/scenario-files.md"):
        assert page in names


# -- the Python examples ------------------------------------------------------------------


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p.read_text(), "python")], ids=_id)
def test_python_examples_run(page, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(ROOT)
    namespace = {"__name__": "__docs__"}
    for k, code in enumerate(_blocks(page.read_text(), "python")):
        exec(compile(code, f"{_id(page)}[python block {k}]", "exec"), namespace)  # noqa: S102 - our own docs
    plt.close("all")


# -- the command-line transcripts ---------------------------------------------------------


def _transcripts():
    """``(page, command, expected lines)`` for every ``$ funnel`` line of every ```text block."""
    found = []
    for page in PAGES:
        for block in _blocks(page.read_text(), "text"):
            lines = block.splitlines()
            if not lines or not lines[0].startswith("$ funnel "):
                continue
            for line in lines:
                if line.startswith("$ funnel "):
                    found.append((page, line.removeprefix("$ funnel "), []))
                else:
                    found[-1][2].append(line)
    return found


TRANSCRIPTS = _transcripts()


def test_the_error_examples_are_there():
    commands = [command for _, command, _ in TRANSCRIPTS]
    assert "validate tests/data/broken.yaml" in commands
    assert "run tests/data/broken.yaml --seed x" in commands


@pytest.mark.parametrize(("page", "command", "shown"), TRANSCRIPTS,
                         ids=[f"{_id(p)}: {c}" for p, c, _ in TRANSCRIPTS])
def test_transcript_prints_what_the_docs_show(page, command, shown, tmp_path, monkeypatch):
    # From a scratch folder that sees the project's scenarios and test data, so that a
    # command which (wrongly) got as far as writing something writes it there.
    for name in ("scenarios", "tests"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    code, out, err = in_process(*shlex.split(command))
    assert out == "", out  # the transcripts show errors, which go to stderr
    assert err.splitlines() == shown
    assert code == 2
    assert "Traceback" not in err


def _bash_commands():
    """Every ``funnel ...`` command of the ```bash blocks, as its arguments."""
    found = []
    for page in PAGES:
        for block in _blocks(page.read_text(), "bash"):
            for line in block.splitlines():
                for part in line.split("&&"):
                    words = shlex.split(part, comments=True)
                    shell = [k for k, w in enumerate(words) if w in (">", ">>", "|", "<", "2>")]
                    words = words[:shell[0]] if shell else words  # the shell's redirections, not funnel's
                    if words and words[0] in ("funnel", ".venv/bin/funnel"):
                        found.append((page, words[1:]))
    return found


def test_every_funnel_command_in_the_docs_parses():
    from sim.cli.app import build_parser

    commands = _bash_commands()
    assert len(commands) >= 15
    for page, args in commands:
        try:
            parsed = build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{_id(page)}: `funnel {' '.join(args)}` does not parse")
        for name in ("scenario", "scenarios"):
            paths = getattr(parsed, name, None)
            for path in [paths] if isinstance(paths, str) else paths or []:
                if path.startswith(("scenarios/", "tests/")):  # the files the docs promise are shipped
                    assert (ROOT / path).is_file(), (_id(page), path)


# -- links and what the docs may not mention ------------------------------------------------


def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(text):
    seen, anchors = {}, set()
    for heading in re.findall(r"^#{1,6} (.+)$", _prose(text), flags=re.M):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _links(page):
    """``(target, anchor)`` of each relative link of a page or of a notebook's markdown cells."""
    if page.suffix == ".ipynb":
        import json

        cells = json.loads(page.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = page.read_text()
    out = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(text)):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        out.append((path, anchor))
    return out


@pytest.mark.parametrize("page", PAGES + NOTEBOOKS, ids=_id)
def test_relative_links_point_to_files_and_headings_that_exist(page):
    for path, anchor in _links(page):
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{_id(page)}: link to {path} ({target} does not exist)"
        assert ROOT in target.parents or target == ROOT, f"{_id(page)}: {path} points outside the project"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target.read_text()), f"{_id(page)}: no heading #{anchor} in {path}"


def test_the_docs_link_to_every_guide_and_notebook():
    linked = {(README.parent / path).resolve() for path, _ in _links(README)}
    for page in [*PAGES[1:], *NOTEBOOKS]:
        assert page.resolve() in linked, f"the README does not link to {_id(page)}"


def test_nothing_points_outside_the_project_to_the_brief():
    # A user who clones the project has no ../shared: the project keeps its own docs/model.md.
    files = [README, *DOCS.rglob("*"), *(ROOT / "notebooks").rglob("*"), *SIM.rglob("*")]
    checked = 0
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".png", ".xlsx"):
            continue
        text = path.read_text(encoding="utf-8")
        checked += 1
        for word in ("../shared", "MODEL.md"):
            assert word not in text, f"{_id(path)} mentions {word}"
    assert checked > 40


def test_the_docs_edit_scenarios_with_replace():
    for page in PAGES:
        for code in _blocks(page.read_text(), "python"):
            assert "model_copy" not in code, f"{_id(page)}: edit a scenario with scenario.replace"


# -- the quick start -----------------------------------------------------------------------


def test_quick_start_is_exactly_two_commands_and_ci_runs_them():
    text = README.read_text()
    assert text.count("<!-- quickstart -->") == 1 and text.count("<!-- /quickstart -->") == 1
    block = text.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0]
    bash = _blocks(block, "bash")
    assert len(bash) == 1
    commands = [line for line in bash[0].splitlines() if line.strip()]
    assert len(commands) == 2
    assert "funnel run scenarios/b2b_saas_inbound.yaml" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:  # CI runs exactly what the README says
        assert f"'{command}'" in ci


# -- what the docs say about the code ----------------------------------------------------------


def _anatomy():
    import sim

    page = DOCS / "guide" / "scenario-files.md"
    anatomy = next(b for b in _blocks(page.read_text(), "yaml") if "horizon_months" in b)
    return sim.parse_scenario(yaml.safe_load(anatomy))


def test_anatomy_example_is_a_valid_scenario_with_every_section():
    import sim
    from sim.scenario.schema import Scenario

    sc = _anatomy()
    assert set(sc.model_fields_set) == set(Scenario.model_fields)  # every top-level section is written
    assert all(getattr(sc.roles, r) is not None for r in ("sdr", "ae", "customer_success"))
    r = sim.simulate(sc, seed=0)
    acc = r.metrics["lead_accounting"]
    assert acc["arrived"] == sum(v for k, v in acc.items() if k != "arrived")
    budget = sc.plan.budget
    assert budget.marketing + budget.sales + budget.unspent == pytest.approx(budget.total, rel=1e-12)


def _documented_signature(api, name):
    """The parameter names docs/api.md gives ``name``, from its first ``name(...)`` in backticks."""
    match = re.search(rf"`{re.escape(name)}\((.*?)\)`", api)
    assert match, f"docs/api.md does not give the signature of {name}"
    names = []
    for part in re.split(r",\s*(?![^()\[\]{}]*[)\]}])", match.group(1)):
        part = part.strip()
        if part in ("", "*", "/"):
            continue
        names.append(part.split("=")[0].strip())
    return names


def test_api_reference_lists_every_public_name_with_its_real_parameters():
    import sim

    api = (DOCS / "api.md").read_text()
    for name in sim.__all__:
        assert f"`{name}" in api, f"docs/api.md does not list {name}"
        value = getattr(sim, name)
        if not callable(value):
            continue
        documented = _documented_signature(api, name)
        if documented == ["**fields"]:  # the pydantic Scenario: its fields are the schema's
            assert name == "Scenario"
            continue
        real = [("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "") + p.name
                for p in inspect.signature(value).parameters.values()]
        assert documented == real, (name, documented, real)


def _placeholders(name, sc):
    """A measure's name with the scenario's own channel, role and stage names as placeholders."""
    channels = [*sc.channels, "outbound"]
    roles = [r for r in ("sdr", "ae", "customer_success") if getattr(sc.roles, r) is not None]
    stages = [s.name for s in sc.opportunities.stages]
    for prefix in ("leads.", "wins.", "mql_to_win."):
        if name.startswith(prefix) and name.removeprefix(prefix) in channels:
            return prefix + "<channel>"
    for prefix in ("cost.salaries_", "fte_end.", "fte_months.", "budget_fte_", "fte_"):
        if name.startswith(prefix) and name.removeprefix(prefix) in roles:
            return prefix + "<role>"
    if name.startswith("stage_advance.") and name.removeprefix("stage_advance.") in stages:
        return "stage_advance.<stage>"
    return name


def test_model_doc_names_every_measure_series_and_lead_column():
    import sim

    model = (DOCS / "model.md").read_text()
    sc = _anatomy()  # every role, nurture and a budget: every kind of measure
    result = sim.simulate(sc, seed=0)
    names = [*result.metrics, *result.metrics["lead_accounting"], *result.monthly.columns, *result.leads.columns]
    missing = sorted({_placeholders(n, sc) for n in names} - {n for n in re.findall(r"`([^`]+)`", model)})
    assert not missing, f"docs/model.md does not name {missing}"
