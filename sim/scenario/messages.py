"""What is wrong with a scenario, one line per problem: :class:`ScenarioError` and pydantic's errors.

Pydantic reports where a value sits in its own terms (with the tags of union branches
such as ``lognormal`` or ``hill`` inside the location); these functions walk the
user's input alongside, so each line names the field as the user wrote it
(``channels.paid_search.carryover``) and says what was expected.
"""

from __future__ import annotations

from pydantic import ValidationError

from sim.errors import FunnelError, fill

__all__ = ["ScenarioError", "field_problems"]


class ScenarioError(FunnelError):
    """A scenario with problems: each problem names the field (``roles.sdr.fte``) and what was expected.

    Attributes:
        source: where the scenario came from: a file's path, or ``<scenario>`` for one built in code.
        problems: every ``(field, message)`` found at once.
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = str(source)
        super().__init__(problems[0][0], problems[0][1], problems)
        self.args = ("\n".join(self.lines()),)

    @staticmethod
    def python_name(name: str) -> str:
        """How a message names what it points to in Python (the schema, as a call)."""
        return "`sim.Scenario.model_json_schema()`" if name == "schema" else name

    def lines(self, name=None) -> list[str]:
        """One line per problem: ``source: field: message`` (``name`` writes what a message refers to)."""
        name = name or self.python_name
        return [f"{self.source}: {field + ': ' if field else ''}{fill(message, name)}"
                for field, message in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _path(loc) -> str:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _user_loc(data, loc, missing: bool) -> tuple:
    """The part of pydantic's error location that names what the user wrote.

    Pydantic inserts the tags of union branches (``lognormal``, ``hill``...) into
    locations; walking the input alongside the location drops them, while a
    ``missing`` key at the end is kept.
    """
    out = []
    cur = data
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict):
            if item in cur:
                out.append(item)
                cur = cur[item]
            elif last and missing:
                out.append(item)
        elif isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur):
            out.append(item)
            cur = cur[item]
        else:
            break  # a scalar written where a mapping or a list was expected: the path ends here
    return tuple(out)


def _message(err) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see {schema})"
    if kind == "missing":
        return "is required but missing"
    if kind == "finite_number":
        return "must be a finite number, not NaN or infinity"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown kind {ctx.get('tag')!r}, expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        key = err.get("ctx", {}).get("discriminator", "").strip("'")
        return f"needs a `{key}:` key saying which kind it is (see {{schema}})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {type(err.get('input')).__name__} {err.get('input')!r}"
    msg = msg.removeprefix("Value error, ")
    if "input" in err and kind not in ("model_type", "dict_type"):
        return f"{msg} (got {err['input']!r})"
    return msg


def field_problems(data, exc: ValidationError) -> list[tuple[str, str]]:
    """The problems pydantic found in ``data``, each once, with the user's paths."""
    seen = []
    for err in exc.errors():
        where = _path(_user_loc(data, err["loc"], missing=err["type"] == "missing"))
        problem = (where, _message(err))
        if problem not in seen:
            seen.append(problem)
    return seen
