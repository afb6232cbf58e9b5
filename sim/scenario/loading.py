"""Reading and writing scenarios: the one place YAML is read (with ``safe_load`` rules) and written.

:func:`load_scenario` reads a file and :func:`parse_scenario` validates a mapping built
in code; both report every problem at once, one line each, as a
:class:`~sim.scenario.messages.ScenarioError` naming the source. :func:`dump_scenario`
writes a validated scenario back, defaults filled in, so that loading it gives the
same scenario.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sim.scenario.messages import ScenarioError
from sim.scenario.schema import Scenario

__all__ = ["dump_scenario", "load_scenario", "parse_scenario"]


class _Loader(yaml.SafeLoader):
    """``safe_load`` that reads ``1e5`` as a number and refuses a key written twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_scenario(data, source: str = "<scenario>") -> Scenario:
    """Validate a mapping (as read from YAML) into a :class:`~sim.scenario.schema.Scenario`.

    Raises:
        ScenarioError: listing every problem, each naming its field; ``source`` says where from.
    """
    if not isinstance(data, dict):
        raise ScenarioError(source, [("(top level)", f"expected a mapping of keys, got {type(data).__name__}")])
    try:
        return Scenario.model_validate(data)
    except ScenarioError as exc:
        raise ScenarioError(source, exc.problems) from None


def load_scenario(path) -> Scenario:
    """Read a YAML scenario file with ``safe_load`` rules and validate it.

    Raises:
        ScenarioError: listing every problem of the file, one line each.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [("", f"cannot read file: {exc}")]) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, [("(YAML)", f"{where}{problem}")]) from None
    return parse_scenario(data, source)


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML, every default written out; :func:`parse_scenario` of it gives the same scenario."""
    return yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
