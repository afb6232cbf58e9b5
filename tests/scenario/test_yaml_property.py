"""Whatever a scenario file holds, ``funnel validate`` says "ok" or refuses it one line per problem.

Hypothesis writes random YAML (nested lists and mappings, anchors and aliases, the
scalars YAML 1.1 reads oddly, long text, bytes that are not text) and random mutations
of the shipped scenarios (a key deleted, a value replaced, a line written twice, the
text cut short, a character changed). Each file is checked through ``funnel validate``
in this process, under a deadline so that a hang fails: exit 0, or exit 2 with a short
line per problem (as many as the :class:`~sim.scenario.ScenarioError` has, up to the
listed maximum), never a traceback.
"""

from __future__ import annotations

import copy
import json
from unittest import mock

import yaml
from builders import deadline
from cli_run import in_process, nonblank_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import SCENARIOS

from sim.scenario import ScenarioError, load_scenario
from sim.scenario.messages import LINE_CHARS, MAX_LINES

SHIPPED = {path.name: path.read_text(encoding="utf-8") for path in sorted(SCENARIOS.glob("*.yaml"))}
# Test-side reading and writing only, with libyaml where there is one (ten times faster).
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FAST_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
PARSED = {name: yaml.load(text, Loader=_FAST_LOADER) for name, text in SHIPPED.items()}  # noqa: S506 - a SafeLoader

# Plain scalars as YAML 1.1 reads them: octal, base 60, binary, hexadecimal, booleans,
# dates (and one that is not), infinities, tags safe_load refuses or cannot read.
ODD = ["012", "-012", "0800", "07", "1:30", "-1:30:15", "1:30.5", "0x1F", "0b101", "1_000", "1e5", "1e400",
       ".inf", "-.inf", ".nan", "~", "null", "yes", "no", "On", "OFF", "true", "2024-01-01", "2024-13-45",
       "!!int abc", "!!float x", "!!binary ===", "!!timestamp 2024-99-99", "!!python/name:os.system",
       "!!set {a}", "!!str 12", '"\\u0000\\x1b[2J\\u2028"', '"a\\nb"', "'it''s'", "0", "-1", "0.5", "24",
       "240", "241", "9" * 400, "-", "?", "&", "*", "|", "%", "@", "'open", "[", "}", ":", "#"]
# Keys the schema knows (so that random values reach its checks), the merge key, and others.
KEYS = ["horizon_months", "name", "channels", "paid", "spend", "history", "response", "curve", "hill",
        "max_leads", "half_spend", "carryover", "opportunities", "stages", "duration_days", "dist", "values",
        "mean", "cv", "roles", "sdr", "ae", "fte", "hires", "month", "budget", "total", "marketing_share",
        "channel_mix", "role_mix", "customers", "installed_base", "qualification", "sla_hours", "<<", "? x",
        "012", "no", "a.b", "outbound/ae/0", "~"]

scalar = st.one_of(
    st.sampled_from(ODD),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=30).map(json.dumps),  # any text, as a double-quoted scalar
    st.integers(1000, 20_000).map(lambda n: json.dumps("x" * n)),  # very long text
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),  # raw characters, most not YAML
)
# Lists and mappings as keys too (Python cannot hold them in a dict).
key = st.one_of(st.sampled_from(KEYS), st.text(alphabet="abcxyz_ -./", min_size=1, max_size=8),
                st.sampled_from(["[a, b]", "{a: 1}", "[]", "*a0", "&k key"]))


def _tree(children):
    return st.one_of(
        st.tuples(st.just("seq"), st.booleans(), st.lists(children, max_size=4)),
        st.tuples(st.just("map"), st.booleans(), st.lists(st.tuples(key, children), max_size=4)),
    )


# A node: ("scalar", text), ("alias", i), or ("seq" | "map", anchored, items).
node = st.recursive(st.one_of(st.tuples(st.just("scalar"), scalar), st.tuples(st.just("alias"), st.integers(0, 5))),
                    _tree, max_leaves=12)


def _emit(tree, anchors: list[str]) -> str:
    """Flow-style YAML for ``tree``; an alias names an anchor defined before it (or none: undefined)."""
    kind = tree[0]
    if kind == "scalar":
        return tree[1]
    if kind == "alias":
        return f"*{anchors[tree[1] % len(anchors)]}" if anchors else "*undefined"
    _, anchored, items = tree
    prefix = ""
    if anchored:
        anchors.append(f"a{len(anchors)}")
        prefix = f"&{anchors[-1]} "
    if kind == "seq":
        return prefix + "[" + ", ".join(_emit(item, anchors) for item in items) + "]"
    return prefix + "{" + ", ".join(f"{k}: {_emit(v, anchors)}" for k, v in items) + "}"


def _check(paths) -> None:
    """``funnel validate PATHS`` (one call: building the parser costs more than reading a file), within 5 s.

    Each file is ok, or refused with one short line per problem (as many as the
    ScenarioError it raised has, up to the listed maximum); exit 2 if any is refused; no
    traceback. The errors are seen on their way to the command line, so that each file is
    read once.
    """
    problems = {}

    def load_and_count(path):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            problems[str(path)] = len(exc.problems)
            raise
        problems[str(path)] = 0
        return scenario

    with deadline(5), mock.patch("sim.cli.run.load_scenario", load_and_count):
        code, out, err = in_process("validate", *paths)
    assert "Traceback" not in out + err
    oks = nonblank_lines(out)
    lines = err.splitlines()
    assert sorted(problems) == sorted(map(str, paths))  # each file was read
    for path in paths:
        n = problems[str(path)]
        mine = [line for line in lines if line.startswith(f"{path}: ")]
        assert len([line for line in oks if line.startswith(f"{path}: ok")]) == (n == 0), (path, oks, mine)
        assert len(mine) == min(n, MAX_LINES) + (n > MAX_LINES), (path, mine)
        assert all(len(line) <= len(f"{path}: ") + LINE_CHARS for line in mine), mine
    assert len(lines) == sum(min(n, MAX_LINES) + (n > MAX_LINES) for n in problems.values())  # nothing else
    assert len(oks) == sum(n == 0 for n in problems.values())
    assert code == (2 if lines else 0)


def _files(tmp_path, texts, suffix=".yaml"):
    """Each text in a file of its own in ``tmp_path``: their paths."""
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"f{i}{suffix}")
        paths[-1].write_text(text, encoding="utf-8", errors="surrogatepass")
    return paths


document = st.tuples(st.lists(st.tuples(key, node), max_size=6), st.booleans())


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(documents=st.lists(document, min_size=1, max_size=4))
def test_random_yaml_is_ok_or_refused_one_line_per_problem(tmp_path, documents):
    texts = []
    for top, with_horizon in documents:
        anchors = []
        body = "".join(f"{k}: {_emit(v, anchors)}\n" for k, v in top)
        texts.append(("horizon_months: 12\n" if with_horizon else "") + body)
    _check(_files(tmp_path, texts))


def _paths(data, prefix=()):
    """Every path to a value of ``data`` (mapping keys and list indexes), without recursion."""
    out, stack = [], [(data, prefix)]
    while stack:
        value, at = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for k, v in items:
            out.append((*at, k))
            stack.append((v, (*at, k)))
    return out


plain_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(), st.text(max_size=12)),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=8)


def _dump(data) -> str:
    return yaml.dump(data, Dumper=_FAST_DUMPER, sort_keys=False)


def _changed(name: str, how: str, data) -> str:
    scenario = copy.deepcopy(PARSED[name])
    at = data.draw(st.sampled_from(_paths(scenario)))
    parent = scenario
    for k in at[:-1]:
        parent = parent[k]
    if how == "delete":
        del parent[at[-1]]
        return _dump(scenario)
    if how == "replace":
        parent[at[-1]] = data.draw(plain_value)
        return _dump(scenario)
    # A raw odd scalar (octal, base 60, a tag...) in its place, as a person would type it.
    parent[at[-1]] = "@@ODD@@"
    return _dump(scenario).replace("'@@ODD@@'", data.draw(st.sampled_from(ODD)))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(sorted(SHIPPED)), st.sampled_from(["delete", "replace", "odd"])),
                        min_size=1, max_size=4), data=st.data())
def test_a_shipped_scenario_with_a_value_changed_is_ok_or_refused_one_line_per_problem(tmp_path, changes, data):
    _check(_files(tmp_path, [_changed(name, how, data) for name, how in changes]))


def _damaged(text: str, how: str, data) -> str:
    if how == "cut":
        return text[:data.draw(st.integers(0, len(text)))]
    if how == "change":
        at = data.draw(st.integers(0, len(text) - 1))
        return text[:at] + data.draw(st.characters(codec="utf-8")) + text[at + 1:]
    # A line written twice: a key twice, or an indentation that no longer fits.
    lines = text.splitlines(keepends=True)
    at = data.draw(st.integers(0, len(lines) - 1))
    return "".join(lines[:at + 1] + lines[at:])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damages=st.lists(st.tuples(st.sampled_from(sorted(SHIPPED)), st.sampled_from(["cut", "change", "twice"])),
                        min_size=1, max_size=4), data=st.data())
def test_a_shipped_scenario_with_its_text_damaged_is_ok_or_refused_one_line_per_problem(tmp_path, damages, data):
    _check(_files(tmp_path, [_damaged(SHIPPED[name], how, data) for name, how in damages]))
