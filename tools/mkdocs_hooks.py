"""MkDocs hooks of the documentation site (``hooks:`` in mkdocs.yml), so that nobody edits mkdocs.yml for a new page.

- **Notebooks.** Every ``notebooks/*.ipynb`` becomes a page of the site at ``notebooks/NAME.ipynb``
  (mkdocs-jupyter renders it, saved outputs only); the files stay where they are, outside ``docs/``.
- **API reference.** One page per layer, ``reference/LAYER.md``, generated from ``sim.__all__``: a
  mkdocstrings ``:::`` block per public name, so a new public name is documented from its docstring.
- **Globs in the nav.** A nav entry such as ``Notebooks: notebooks/*.ipynb`` lists every page that
  matches, in the order the site has them.
- **Links out of docs/.** The docs link to project files as files on disk (``../../notebooks/x.ipynb``,
  ``../../scenarios/x.yaml``: links that work on GitHub and that tests/test_docs.py checks). On the
  site such a link points at the notebook's page, the home page for ``README.md``, or a copy of the
  file (a scenario file linked from a page is published beside the pages); a notebook's links to
  ``../docs/...`` point at the pages. A link that leads nowhere on the site is a warning, so
  ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import fnmatch
import logging
import posixpath
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.funnel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = "notebooks"

# The layers of sim (docs/api.md, "Layers"), in their order: page name -> (title, modules of the names on it).
LAYERS = {
    "scenario": ("Scenarios", ("sim.scenario",)),
    "model": ("One replication", ("sim.model",)),
    "montecarlo": ("Many replications", ("sim.montecarlo",)),
    "decide": ("Decisions", ("sim.decide",)),
    "present": ("Presentation", ("sim.present",)),
    "errors": ("Errors and seeds", ("sim.errors", "sim.seeds")),
}

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")  # a markdown link's target
_HREF = re.compile(r'(href=")([^"]+)(")')
_FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):(?=<code>)")  # Sphinx's roles in the docstrings


# -- the reference pages ---------------------------------------------------------------------------------------------


def _public_names():
    """``[(name, defining module)]`` for every public name of ``sim`` but ``__version__``."""
    import sim

    where = getattr(sim, "_WHERE", {})
    return [(name, where.get(name, "sim")) for name in sim.__all__ if name != "__version__"]


def _layer_of(module):
    for page, (_, prefixes) in LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return page
    if module == "sim":  # defined in the facade itself (run_many): documented with what it runs
        return "montecarlo"
    return module.split(".")[1] if "." in module else "other"  # a new layer gets a page of its own


def reference_pages():
    """``{page name: markdown}``: one page per layer with a ``:::`` block per public name of ``sim``."""
    pages = {}
    for name, module in _public_names():
        pages.setdefault(_layer_of(module), []).append((name, module))
    order = [*LAYERS, *sorted(set(pages) - set(LAYERS))]
    out = {}
    for page in (p for p in order if p in pages):
        title = LAYERS.get(page, (page.capitalize(),))[0]
        lines = [f"# {title}", "",
                 "Generated from the docstrings of the public names of `sim` defined in this layer "
                 "(`import sim`, then `sim.NAME`). [The Python API](../api.md) lists every name with "
                 "its signature on one page.", ""]
        for name, module in pages[page]:
            target = f"{module}.{name}" if module != "sim" else f"sim.{name}"
            lines += [f"::: {target}", "    options:", f"      heading: sim.{name}", f"      toc_label: {name}", ""]
        out[page] = "\n".join(lines)
    return out


# -- files -----------------------------------------------------------------------------------------------------------


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns the notebooks into pages
def on_files(files, config):
    """Add the notebooks and the generated reference pages, then expand the nav's globs."""
    for path in sorted((ROOT / NOTEBOOKS).glob("*.ipynb")):
        # A file of the project root, so that its place on the site is notebooks/NAME.ipynb (mkdocs-jupyter
        # wraps it; a File.generated one would lose its path in the wrapping).
        files.append(File(f"{NOTEBOOKS}/{path.name}", str(ROOT), config.site_dir, config.use_directory_urls))
    for page, text in reference_pages().items():
        uri = f"reference/{page}.md"
        if uri not in files.src_uris:  # a hand-written page of that name wins
            files.append(File.generated(config, uri, content=text))
    for path in _linked_project_files(files, config.docs_dir):
        uri = path.relative_to(ROOT).as_posix()
        if uri not in files.src_uris:
            files.append(File(uri, str(ROOT), config.site_dir, config.use_directory_urls))
    if config.nav is not None:
        config.nav = _expand(config.nav, [f.src_uri for f in files if f.src_uri.endswith((".md", ".ipynb"))])
    return files


def _linked_project_files(files, docs_dir):
    """The project's files outside docs/ that a docs page links to and the site has no page for (not .md)."""
    docs, found = Path(docs_dir).resolve(), set()
    for file in files:
        if not file.src_uri.endswith(".md") or not file.abs_src_path or docs not in Path(file.abs_src_path).parents:
            continue
        here = Path(file.abs_src_path).parent
        for target in _LINK.findall(_FENCE.sub("", Path(file.abs_src_path).read_text(encoding="utf-8"))):
            path = target[1].partition("#")[0]
            if not _relative(path):
                continue
            where = (here / path).resolve()
            if (where.is_file() and ROOT in where.parents and docs not in where.parents and where.suffix != ".md"
                    and ".git" not in where.parts and _site_uri(where, docs_dir) is None):
                found.add(where)
    return sorted(found)


def _expand(items, uris):
    """The nav with each glob (an entry's value or a list item) replaced by the pages it matches."""
    if isinstance(items, str):
        if not any(c in items for c in "*?["):
            return items
        matched = [u for u in uris if fnmatch.fnmatch(u, items)]
        if not matched:
            log.warning("the nav's %s matches no page", items)
        return matched
    if isinstance(items, dict):
        return {title: _expand(value, uris) for title, value in items.items()}
    out = []
    for item in items:
        expanded = _expand(item, uris)
        out.extend(expanded) if isinstance(item, str) and isinstance(expanded, list) else out.append(expanded)
    return out


def on_serve(server, config, builder):
    """``mkdocs serve`` rebuilds when a notebook or the package's docstrings change too."""
    server.watch(str(ROOT / NOTEBOOKS))
    server.watch(str(ROOT / "sim"))
    return server


# -- links out of docs/ ----------------------------------------------------------------------------------------------


def _on_disk(file, docs_dir):
    """The file's place on disk (a notebook's real path; a docs page's own)."""
    return Path(file.abs_src_path) if file.abs_src_path else Path(docs_dir) / file.src_uri


def _site_uri(target, docs_dir):
    """The site's ``src_uri`` for a file of the project, or None when the site has no page for it."""
    docs = Path(docs_dir).resolve()
    if target == docs or docs in target.parents:
        return target.relative_to(docs).as_posix()
    if target.parent == ROOT / NOTEBOOKS and target.suffix == ".ipynb":
        return f"{NOTEBOOKS}/{target.name}"
    if target == ROOT / "README.md":
        return "index.md"  # the README's place on the site is the home page
    return None


def _site_uri_or_copy(target, docs_dir, files):
    """``_site_uri``, or the ``src_uri`` of the project file's copy on the site (added by ``on_files``)."""
    uri = _site_uri(target, docs_dir)
    if uri is None and ROOT in target.parents:
        copy = target.relative_to(ROOT).as_posix()
        uri = copy if files.get_file_from_path(copy) is not None else None
    return uri


def _relative(target):
    return target and not re.match(r"[a-z][a-z0-9+.-]*:|/|#", target)


def on_page_markdown(markdown, page, config, files):
    """Point a docs page's links to project files outside docs/ at the site's pages for them."""
    if page.file.src_uri.endswith(".ipynb"):
        return markdown
    here = _on_disk(page.file, config.docs_dir).parent
    docs = Path(config.docs_dir).resolve()

    def fix(match):
        path, hash_, anchor = match.group(2).partition("#")
        if not _relative(path):
            return match.group(0)
        target = (here / path).resolve()
        if target == docs or docs in target.parents:
            return match.group(0)  # inside docs/: mkdocs checks it
        uri = _site_uri_or_copy(target, config.docs_dir, files)
        if uri is None:
            return match.group(0)  # mkdocs warns: a link out of docs/ the site cannot follow
        new = posixpath.relpath(uri, posixpath.dirname(page.file.src_uri) or ".")
        return f"{match.group(1)}{new}{hash_}{anchor}{match.group(3)}"

    parts, last = [], 0
    for fence in _FENCE.finditer(markdown):  # code blocks are left alone
        parts += [_LINK.sub(fix, markdown[last:fence.start()]), fence.group(0)]
        last = fence.end()
    return "".join([*parts, _LINK.sub(fix, markdown[last:])])


_anchor_links = []  # (notebook page, target page's file, anchor), checked once every page is rendered


def on_pre_build(config):
    """Forget the last build's links (``mkdocs serve`` rebuilds in the same process)."""
    _anchor_links.clear()


def on_page_content(html, page, config, files):
    """Drop the docstrings' Sphinx roles (``:func:``); point a notebook's relative links at the site's pages."""
    if page.file.src_uri.startswith("reference/"):
        return _ROLE.sub("", html)
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    here = _on_disk(page.file, config.docs_dir).parent

    def fix(match):
        path, hash_, anchor = match.group(2).partition("#")
        if not _relative(path):
            return match.group(0)
        uri = _site_uri_or_copy((here / path).resolve(), config.docs_dir, files)
        target = files.get_file_from_path(uri) if uri else None
        if target is None:
            log.warning("%s links to %s, which the site does not have", page.file.src_uri, match.group(2))
            return match.group(0)
        if anchor:
            _anchor_links.append((page, target, anchor))
        return f"{match.group(1)}{target.url_relative_to(page.file)}{hash_}{anchor}{match.group(3)}"

    return _HREF.sub(fix, html)


def on_env(env, config, files):
    """Check the anchors of the notebooks' links, now that every page is rendered."""
    for page, target, anchor in _anchor_links:
        anchors = getattr(target.page, "present_anchor_ids", None)
        if anchors is not None and anchor not in anchors:
            log.warning("%s links to %s#%s, which has no such anchor", page.file.src_uri, target.src_uri, anchor)
    return env
