"""The documentation site builds with ``mkdocs build --strict`` and shows every page, notebook and docstring.

One build (into a temporary folder, as CI would run it from the project root) serves every
test of this module: no warning at all (a broken link or anchor, a page left out of the nav,
a docstring mkdocstrings cannot read), nothing written into the project, every docs page and
notebook in the nav, the notebooks rendered cell by cell, the API reference pages carrying
the docstrings of ``sim``'s public names.
"""

import html
import importlib.util
import inspect
import os
import re
import subprocess
import sys

import pytest
from paths import DOCS, ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = [*sorted(DOCS.glob("*.md")), *sorted((DOCS / "guide").glob("*.md"))]
WATCHED = [ROOT / "site", ROOT / ".cache", DOCS, ROOT / "notebooks"]  # where a careless build would write


def _snapshot():
    """Every file under the watched folders with its size and modification time."""
    found = {}
    for top in WATCHED:
        for path in [top, *top.rglob("*")] if top.exists() else []:
            stat = path.stat()
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    before = _snapshot()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its future, not about this site
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return done, site, before, _snapshot()


def _text(path):
    """A built page's main content as plain text, whitespace collapsed."""
    page = path.read_text(encoding="utf-8")
    main = re.search(r"<article.*?</article>", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", main.group(0) if main else page)
    return " ".join(html.unescape(text).split())


def _squeezed(text):
    """Text without whitespace: the markup's spaces (around inline code, between tokens) do not matter."""
    return "".join(text.split())


def _url(page):
    """The site's folder for a docs page (``guide/run.md`` -> ``guide/run``)."""
    uri = page.relative_to(DOCS).with_suffix("").as_posix()
    return "" if uri == "index" else uri


def test_the_build_is_strict_and_says_nothing_wrong(build):
    done, site, _, _ = build
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert not re.findall(r"^(?:WARNING|ERROR).*$", output, flags=re.M), output
    assert (site / "index.html").is_file()


def test_the_build_writes_nothing_into_the_project(build):
    _, _, before, after = build
    assert after == before  # no site/, no .cache/, nothing new or changed in docs/ or notebooks/
    assert "site/" in (ROOT / ".gitignore").read_text().splitlines()


def test_every_page_and_notebook_is_in_the_nav(build):
    _, site, _, _ = build
    nav = set(re.findall(r'<a href="([^"]*)"\s+class="md-nav__link', (site / "index.html").read_text()))
    nav = {href.removeprefix("./").rstrip("/") if href not in (".", "./") else "" for href in nav}
    assert len(PAGES) >= 13 and len(NOTEBOOKS) >= 3
    for page in PAGES:
        assert _url(page) in nav, f"{page.relative_to(ROOT)} is not in the nav of mkdocs.yml"
    for notebook in NOTEBOOKS:
        assert f"notebooks/{notebook.stem}" in nav, f"{notebook.relative_to(ROOT)} is not in the nav"
    assert {f"reference/{layer}" for layer in ("scenario", "model", "montecarlo", "decide", "present")} <= nav


def test_every_notebook_is_rendered_cell_by_cell(build):
    import json

    _, site, _, _ = build
    for notebook in NOTEBOOKS:
        text = _squeezed(_text(site / "notebooks" / notebook.stem / "index.html"))
        cells = json.loads(notebook.read_text())["cells"]
        code = [_squeezed("".join(c["source"])) for c in cells if c["cell_type"] == "code"]
        assert code, notebook
        for source in code:  # every code cell, whole (pygments' spans removed)
            assert source in text, f"{notebook.name}: a code cell is missing from its page: {source[:80]}"
        title = "".join(cells[0]["source"]).splitlines()[0].lstrip("# ")
        assert _squeezed(title) in text


def test_links_on_the_site_lead_to_its_pages(build):
    _, site, _, _ = build
    for page in site.rglob("*.html"):
        for href in re.findall(r'href="([^"#]+)', page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:|/", href):
                continue
            # a link mkdocs could not resolve keeps its .md or .ipynb; one out of docs/ keeps its ../
            assert not href.endswith((".md", ".ipynb")), (page.relative_to(site), href)
            assert (page.parent / href).resolve().is_relative_to(site.resolve()), (page.relative_to(site), href)


def _plain(docstring):
    """A docstring's text as the rendered page reads, squeezed: no backticks, no Sphinx roles."""
    return _squeezed(re.sub(r":[a-z]+:", "", docstring).replace("`", ""))


def test_the_api_reference_carries_the_docstrings(build):
    import sim

    _, site, _, _ = build
    pages = sorted((site / "reference").glob("*/index.html"))
    assert len(pages) >= 5
    text = " ".join(_text(page) for page in pages)
    for name in (n for n in sim.__all__ if n != "__version__"):
        assert f"sim.{name} " in text, f"the API reference has no entry for sim.{name}"
    for function in (sim.run_many, sim.compare, sim.simulate, sim.optimize):
        first = inspect.getdoc(function).split("\n\n")[0]  # its summary paragraph
        assert _plain(first) in _squeezed(text), f"the docstring of {function.__name__} is not on the reference pages"
    assert ":func:" not in text and ":class:" not in text


def test_the_home_page_has_the_readme_quick_start():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("```")]
    home = (DOCS / "index.md").read_text().splitlines()
    assert len(commands) == 2
    for command in commands:
        assert command in home, f"docs/index.md does not have the quick start line {command!r}"


# -- the hooks, in this process ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_glob_in_the_nav_lists_what_it_matches(hooks):
    uris = ["index.md", "notebooks/b.ipynb", "notebooks/a.ipynb", "reference/model.md"]
    nav = [{"Home": "index.md"}, {"Notebooks": "notebooks/*.ipynb"}, {"API": ["index.md", "reference/*.md"]}]
    assert hooks._expand(nav, uris) == [{"Home": "index.md"}, {"Notebooks": ["notebooks/b.ipynb", "notebooks/a.ipynb"]},
                                        {"API": ["index.md", "reference/model.md"]}]


def test_the_reference_pages_name_every_public_name_once(hooks):
    import sim

    pages = hooks.reference_pages()
    assert list(pages)[:5] == ["scenario", "model", "montecarlo", "decide", "present"]
    blocks = re.findall(r"^::: (\S+)$", "\n".join(pages.values()), flags=re.M)
    names = [block.rsplit(".", 1)[1] for block in blocks]
    assert sorted(names) == sorted(n for n in sim.__all__ if n != "__version__")
    assert "sim.montecarlo.experiment.Experiment" in blocks and "sim.run_many" in blocks


def test_links_out_of_docs_are_pointed_at_the_site(hooks, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from mkdocs.structure.files import File, Files

    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    (tmp_path / "docs" / "guide").mkdir(parents=True)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "notebooks").mkdir()
    for name in ("README.md", "scenarios/a.yaml", "scenarios/unlinked.yaml", "notebooks/n.ipynb", "docs/model.md"):
        (tmp_path / name).write_text("x")
    text = ("[r](../../README.md) [s](../../scenarios/a.yaml#top) [n](../../notebooks/n.ipynb) [m](../model.md) "
            "[gone](../../scenarios/gone.yaml) [web](https://example.org/a.md)\n"
            "```python\nx = '[c](../../scenarios/unlinked.yaml)'\n```\n")
    (tmp_path / "docs" / "guide" / "page.md").write_text(text)
    docs = str(tmp_path / "docs")
    page_file = File("guide/page.md", docs, str(tmp_path / "site"), True)
    files = Files([page_file, File("model.md", docs, str(tmp_path / "site"), True)])
    assert hooks._linked_project_files(files, docs) == [tmp_path / "scenarios" / "a.yaml"]  # not the code block's
    files.append(File("scenarios/a.yaml", str(tmp_path), str(tmp_path / "site"), True))
    files.append(File("notebooks/n.ipynb", str(tmp_path), str(tmp_path / "site"), True))
    page = SimpleNamespace(file=page_file)
    out = hooks.on_page_markdown(text, page, SimpleNamespace(docs_dir=docs), files)
    assert out.splitlines()[0] == ("[r](../index.md) [s](../scenarios/a.yaml#top) [n](../notebooks/n.ipynb) "
                                   "[m](../model.md) [gone](../../scenarios/gone.yaml) [web](https://example.org/a.md)")
    assert out.splitlines()[1:] == text.splitlines()[1:]  # code blocks are left alone
