"""What is wrong with a scenario, one line per problem: :class:`ScenarioError` and pydantic's errors.

Pydantic reports where a value sits in its own terms (with the tags of union branches
such as ``lognormal`` or ``hill`` inside the location); these functions walk the
user's input alongside, so each line names the field as the user wrote it
(``channels.paid_search.carryover``) and says what was expected.

Whatever a file holds, a problem stays one short line: a value it quotes is cut short,
a character that would break the line or drive the terminal is written as an escape,
and past :data:`MAX_LINES` problems one line counts the rest.
"""

from __future__ import annotations

import datetime

from pydantic import ValidationError

from sim.errors import FunnelError, fill

__all__ = ["MAX_LINES", "ScenarioError", "field_problems", "key_path", "short", "shown"]

# More lines than anyone reads; a generated or hostile file with thousands of problems
# would otherwise flood the terminal. ``problems`` keeps them all.
MAX_LINES = 50
NAME_CHARS = 64  # a key written into a field path is cut to this
VALUE_CHARS = 80  # a value quoted in a message is cut to this
LINE_CHARS = 300  # a problem's field and message together, whatever they quote, are cut to this


def short(text: str, limit: int = VALUE_CHARS) -> str:
    """``text`` cut to ``limit`` characters (the cut marked with ``...``), so one bad value cannot flood a line."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value, limit: int = VALUE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, or in words where Python will not write it (5,000 digits).

    A date (or a date and time) is written as the file writes it, in ISO form.
    """
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return short(repr(value), limit)
    except ValueError:
        return f"a {'number' if isinstance(value, int) else type(value).__name__} too big to write out"


def _one_line(text: str) -> str:
    """``text`` with every character that is not printable (a newline, a terminal escape) written as an escape.

    A key or a file name may hold any character; a problem must stay one line and must
    not drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


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
        """One line per problem: ``source: field: message`` (``name`` writes what a message refers to).

        At most :data:`MAX_LINES` problems are listed, then one line counting the rest;
        a line's field and message are cut to :data:`LINE_CHARS`, whatever they quote.
        """
        name = name or self.python_name
        source = _one_line(self.source)
        shown = self.problems[:MAX_LINES]
        lines = []
        for field, message in shown:
            text = _one_line(f"{field}: {fill(message, name)}" if field else fill(message, name))
            lines.append(f"{source}: {short(text, LINE_CHARS)}")
        if len(self.problems) > len(shown):
            lines.append(f"{source}: and {len(self.problems) - len(shown):,} more problems, not listed (fix these "
                         "first)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _key_text(key) -> str:
    """A mapping key as a field path shows it: text as written (cut if long), other keys as YAML writes them."""
    if isinstance(key, str):
        return short(key, NAME_CHARS)
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    return shown(key, NAME_CHARS)


def key_path(prefix: str, key) -> str:
    """The field path of ``key`` in the mapping at ``prefix`` (``""`` for the top level): ``channels.paid``."""
    return f"{prefix}.{_key_text(key)}" if prefix else _key_text(key)


def _user_path(data, loc, missing: bool) -> str:
    """The field path, as the user wrote it, of pydantic's error location ``loc`` in ``data``.

    Pydantic inserts the tags of union branches (``lognormal``, ``hill``...) into
    locations; walking the input alongside the location drops them, while a
    ``missing`` key at the end is kept. A number in the location is a list's index
    only where the input is a list (``stages[0]``); in a mapping it is a key
    (``channels.10``).
    """
    path = ""
    cur = data
    for i, item in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict):
            if item in cur:
                path = key_path(path, item)
                cur = cur[item]
            elif last and missing:
                path = key_path(path, item)
        elif isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur):
            path = f"{path}[{item}]"
            cur = cur[item]
        else:
            break  # a scalar written where a mapping or a list was expected: the path ends here
    return path


def _message(err) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind in ("extra_forbidden", "invalid_key"):
        return "unknown key (check the spelling; see {schema})"
    if kind == "missing":
        return "is required but missing"
    if kind == "finite_number":
        return "must be a finite number, not NaN or infinity"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown kind {shown(ctx.get('tag'))}, expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        key = err.get("ctx", {}).get("discriminator", "").strip("'")
        return f"needs a `{key}:` key saying which kind it is (see {{schema}})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {type(err.get('input')).__name__} {shown(err.get('input'))}"
    if err["loc"][-1:] == ("[key]",):
        return f"a name must be text, not {_key_text(err.get('input'))}; write it in quotes"
    msg = msg.removeprefix("Value error, ")
    if "input" in err and kind not in ("model_type", "dict_type"):
        return f"{msg} (got {shown(err['input'])})"
    return msg


def field_problems(data, exc: ValidationError) -> list[tuple[str, str]]:
    """The problems pydantic found in ``data``, each once, with the user's paths."""
    seen = {}  # a dict keeps the order; a list's `in` would take quadratic time on a file of many problems
    for err in exc.errors():
        loc = err["loc"]
        if err["type"] == "invalid_key" or loc[-1:] == ("[key]",):
            # A key that is not text: named as written, not as pydantic's string or number for it.
            parent = loc[:-1] if err["type"] == "invalid_key" else loc[:-2]
            where = key_path(_user_path(data, parent, missing=False), err.get("input"))
        else:
            where = _user_path(data, loc, missing=err["type"] == "missing")
        seen.setdefault((where or "(top level)", _message(err)), None)
    return list(seen)
