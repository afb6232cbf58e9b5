"""Reading and writing scenarios: the one place YAML is read (with ``safe_load`` rules) and written.

:func:`load_scenario` reads a file and :func:`parse_scenario` validates a mapping built
in code; both report every problem at once, one line each, as a
:class:`~sim.scenario.messages.ScenarioError` naming the source. :func:`dump_scenario`
writes a validated scenario back, defaults filled in, so that loading it gives the
same scenario.

A file may come from anyone, so reading one is bounded: it must be a regular file of
at most :data:`MAX_FILE_BYTES`; its YAML may nest at most :data:`MAX_DEPTH` deep and
hold at most :data:`MAX_VALUES` values, an alias counting as every value it stands
for (an alias bomb is refused as its aliases are read, before anything expands); a
key must be a plain name or number. Merge keys (``<<: *defaults``) are read as YAML
says, a key written twice is an error, and the numbers YAML 1.1 reads unlike they
look (``012`` is octal 10, ``1:30`` is 90, ``0b101`` is 5) are refused naming their
field.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from sim.scenario.messages import ScenarioError, key_path, short, shown
from sim.scenario.schema import Scenario

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_VALUES", "dump_scenario", "load_scenario", "parse_scenario"]

# The shipped scenarios are 2 to 10 kB with at most about 400 values; the deepest field
# is 7 levels down, counting the file's mapping (opportunities.stages[0].duration_days.values[0]).
# A 240-month scenario with 20 channels, each with a spend schedule and a history of 240
# months, holds about 10,000 values. Reading a value costs about 50 microseconds, so the
# worst file within these limits is read (or refused) in about 2 seconds.
MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 20_000
MAX_DEPTH = 32

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MERGE = object()  # the merge key `<<` among a mapping's keys, for the check of keys written twice
_BOOLEAN_WORDS = {"yes", "no", "on", "off"}  # YAML 1.1's booleans beside true and false
_NOT_OCTAL = re.compile(r"[-+]?0[0-9_]*[89][0-9_]*")  # a leading 0 with an 8 or a 9: YAML 1.1 reads it as text


class _Misread:
    """A plain scalar that YAML 1.1 reads as something other than it looks, with what to say about it.

    Construction puts one in place of the value; :func:`_take_misread` puts the value
    back and reports ``problem`` (a refusal) or ``hint`` (added to any problem of the
    field) with the field path where it is used.
    """

    __slots__ = ("hint", "problem", "text", "value")

    def __init__(self, text: str, value, problem: str | None = None, hint: str | None = None):
        self.text, self.value, self.problem, self.hint = text, value, problem, hint

    def __eq__(self, other):  # as its value, so that `012:` and `10:` in one mapping behave as YAML 1.1 says
        return self.value == (other.value if isinstance(other, _Misread) else other)

    def __hash__(self):
        return hash(self.value)

    def __repr__(self) -> str:
        return self.text


def _misread_number(text: str, value):
    """``value`` (YAML 1.1's reading of the number ``text``), or a :class:`_Misread` if it is not what it looks."""
    plain = text.replace("_", "").lstrip("+-")
    quoted = f'(or "{short(text, 20)}" in quotes for text)'
    if ":" in plain:
        return _Misread(text, value, f"{short(text, 20)} is read by YAML 1.1 as {value}, a base-60 number (as 1:30 "
                                     f"is 1 * 60 + 30 = 90); write the number meant as one number {quoted}")
    if plain[:2].lower() == "0b":
        return _Misread(text, value, f"{short(text, 20)} is read by YAML 1.1 as binary {value}; write {value} if that "
                                     f"is meant {quoted}")
    if isinstance(value, int) and plain[:1] == "0" and plain[1:2].isdigit() and int(plain, 10) != abs(value):
        decimal = int(plain, 10) * (-1 if text.lstrip().startswith("-") else 1)
        return _Misread(text, value, f"{short(text, 20)} is read by YAML 1.1 as octal {value}; write {decimal} "
                                     f"{quoted}")
    return value


class _Loader(yaml.SafeLoader):
    """``safe_load`` with limits: it reads ``1e5`` as a number, merge keys as YAML says, and refuses what cannot work.

    Refused, each with its line and column: nesting deeper than :data:`MAX_DEPTH`,
    more than :data:`MAX_VALUES` values (aliases counted as what they stand for), an
    alias inside the value it names, a key that is a list or a mapping, and a key
    written twice in one mapping (a merged key may be overridden: that is what merge
    keys are for). Numbers YAML 1.1 reads unlike they look become :class:`_Misread`.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0  # of the node being composed
        self._open = set()  # anchors of the nodes being composed: an alias to one is a loop
        self._shape = {}  # id(node) -> (values it expands to, levels it nests)
        self._values = 0  # composed so far, each alias counted as what it stands for
        self._aliased = 0  # of which through aliases
        self._keys_checked = set()  # ids of the mappings whose keys were checked

    # Composition: the limits are checked as the events arrive, so nothing deep is
    # recursed into and no alias is expanded.

    def _refuse(self, problem: str, mark):
        raise yaml.composer.ComposerError(None, None, problem, mark)

    def _count(self, values: int, aliased: bool, mark) -> None:
        self._values += values
        self._aliased += values if aliased else 0
        if self._values > MAX_VALUES:
            if self._aliased:
                self._refuse(f"aliases expand to more than {MAX_VALUES:,} values (an alias bomb?)", mark)
            self._refuse(f"more than {MAX_VALUES:,} values; a scenario needs a few thousand at most", mark)

    def _too_deep(self, mark):
        self._refuse(f"values nest more than {MAX_DEPTH} levels deep; a scenario needs 7", mark)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                self._refuse(f"alias *{short(event.anchor, 40)} is inside the value it names (a loop)",
                             event.start_mark)
            node = super().compose_node(parent, index)  # refuses an alias with no anchor
            values, levels = self._shape[id(node)]
            self._count(values, True, event.start_mark)
            if self._depth + levels > MAX_DEPTH:
                self._too_deep(event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            self._too_deep(event.start_mark)
        self._count(1, False, event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        node = super().compose_node(parent, index)
        self._open.discard(anchor)
        self._depth -= 1
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        shapes = [self._shape[id(child)] for child in children]
        self._shape[id(node)] = (1 + sum(v for v, _ in shapes), 1 + max((d for _, d in shapes), default=0))
        return node

    # Construction.

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            # A tag's constructor that cannot read its scalar (`!!int abc`, a date 2024-13-45,
            # a number of 5,000 digits) raises a plain Python error: say which value, and where.
            what = node.tag.rsplit(":", 1)[-1]
            text = short(repr(node.value)) if isinstance(node, ScalarNode) else f"this {node.id}"
            raise ConstructorError(None, None, f"cannot read {text} as {what} ({short(str(exc), 60)})",
                                   node.start_mark) from None

    def flatten_mapping(self, node):
        """Merge the mappings ``<<`` names into ``node`` as YAML says: earlier ones win, and its own keys over all.

        PyYAML's own version lets a later mapping of ``<<: [*a, *b]`` win whenever its
        key's text is not the same Python object as the earlier one's (which depends on
        string interning), so this one replaces it. It is called on every mapping before
        it is merged into, and checks the keys as written at the first call. Its
        recursion follows ``<<`` inside ``<<``, which the composer's depth limit bounds.
        """
        if id(node) not in self._keys_checked:
            self._keys_checked.add(id(node))
            self._check_keys(node)
        merged, own = [], []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                if key_node.tag == "tag:yaml.org,2002:value":  # `=` as a key is text, as PyYAML reads it
                    key_node.tag = "tag:yaml.org,2002:str"
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    kind = "list" if isinstance(source, SequenceNode) else "single value"
                    raise ConstructorError(None, None, f"<< merges a mapping or a list of mappings, not a {kind}",
                                           source.start_mark)
                self.flatten_mapping(source)
                merged.append(source.value)
        if merged:
            # A mapping keeps the last of keys written twice: the last source first, its own keys last.
            node.value = [pair for pairs in reversed(merged) for pair in pairs] + own

    def _check_keys(self, node) -> None:
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                kind = "list" if isinstance(key_node, SequenceNode) else "mapping"
                raise ConstructorError(None, None, f"a key must be a name or a number, not a {kind}",
                                       key_node.start_mark)
            key = _MERGE if key_node.tag == _MERGE_TAG else self.construct_object(key_node, deep=True)
            if key in seen:
                written = "<<" if key is _MERGE else shown(key, 40)
                raise ConstructorError(None, None, f"key {written} is written twice in one mapping",
                                       key_node.start_mark)
            seen.add(key)

    def construct_yaml_int(self, node):
        return _misread_number(node.value, super().construct_yaml_int(node))

    def construct_yaml_float(self, node):
        return _misread_number(node.value, super().construct_yaml_float(node))

    def construct_yaml_str(self, node):
        value = super().construct_yaml_str(node)
        if node.style is None and _NOT_OCTAL.fullmatch(value):
            digits = value.lstrip("+-").lstrip("0_").replace("_", "") or "0"
            hint = (f"YAML 1.1 reads {short(value, 20)} as text, not a number (a leading 0 makes a number octal, "
                    f"with no digit 8 or 9); write {'-' if value.startswith('-') else ''}{short(digits, 20)}")
            return _Misread(value, value, hint=hint)
        return value

    def construct_yaml_bool(self, node):
        value = super().construct_yaml_bool(node)
        if node.value.lower() in _BOOLEAN_WORDS:
            return _Misread(node.value, value, hint=f"YAML 1.1 reads {short(node.value, 5)} as {str(value).lower()}")
        return value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor("tag:yaml.org,2002:bool", _Loader.construct_yaml_bool)
_Loader.add_constructor("tag:yaml.org,2002:str", _Loader.construct_yaml_str)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _take_misread(data):
    """``data`` with YAML 1.1's values back in place of every :class:`_Misread`, and the misread ones.

    Returns ``(data, found)``: ``found`` maps the field path where each misread value
    is first used (a value under an alias is reported once) to it. Containers are
    changed in place; each is walked once, without recursion.
    """
    found = {}

    def put_back(value, path):
        if isinstance(value, _Misread):
            found.setdefault(path, value)
            return value.value
        return value

    data = put_back(data, "")
    walked = set()
    stack = [(data, "")]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, (dict, list)) or id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, dict):
            if any(isinstance(k, _Misread) for k in node):
                items = [(put_back(k, key_path(path, k.value if isinstance(k, _Misread) else k)), v)
                         for k, v in node.items()]
                node.clear()
                node.update(items)
            children = []
            for k, v in node.items():
                node[k] = put_back(v, key_path(path, k))
                children.append((node[k], key_path(path, k)))
        else:
            children = []
            for i, v in enumerate(node):
                node[i] = put_back(v, f"{path}[{i}]")
                children.append((node[i], f"{path}[{i}]"))
        stack.extend(reversed(children))  # in the order written: the first use is the one reported
    return data, found


def _with_misread(found: dict, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The problems of a file, with those of its misread values: a field misread is reported as that.

    A misread number is the field's problem (what the schema says of the value YAML 1.1
    made of it would mislead), except that an unknown key is still said to be one; a
    YAML 1.1 boolean adds its reading to the field's problems.
    """
    refused = {(path or "(top level)"): m for path, m in found.items() if m.problem}
    hints = {(path or "(top level)"): m.hint for path, m in found.items() if m.hint}
    out = [(path, m.problem) for path, m in refused.items()]
    for field, message in problems:
        if field in refused and not message.startswith("unknown key"):
            continue
        out.append((field, f"{message}; {hints[field]}" if field in hints else message))
    return out


DRAWS_FILE = "draws_file"
MAX_DRAWS_FILE_BYTES = 50_000_000


def parse_scenario(data, source: str = "<scenario>", base=None) -> Scenario:
    """Validate a mapping (as read from YAML) into a :class:`~sim.scenario.schema.Scenario`.

    A top-level ``draws_file`` (a CSV of posterior draws, one column per dotted path, one
    row per draw) is read, relative to ``base`` (default: the working folder), into
    ``uncertain``; see :func:`read_draws_file`.

    Raises:
        ScenarioError: listing every problem, each naming its field; ``source`` says where from.
    """
    if not isinstance(data, dict):
        raise ScenarioError(source, [("(top level)", f"expected a mapping of keys, got {type(data).__name__}")])
    if DRAWS_FILE in data:
        data, problems = read_draws_file(data, Path(base) if base is not None else Path.cwd())
        if problems:
            raise ScenarioError(source, problems)
    try:
        return Scenario.model_validate(data)
    except ScenarioError as exc:
        raise ScenarioError(source, exc.problems) from None


def read_draws_file(data: dict, base: Path) -> tuple[dict, list[tuple[str, str]]]:
    """``data`` without its ``draws_file``, the file's columns of draws merged into ``uncertain``.

    The file is a CSV whose header names dotted paths (``qualification.p_qualify.low``) and
    whose rows are draws, as a sampler writes a posterior: its rows are joint, row ``k`` of
    every column belonging together (they are of one length, so a replication runs one row
    of all). Returns the new mapping and one problem per line wrong (the file, its row and
    column, what was expected).
    """
    import csv

    rest = {k: v for k, v in data.items() if k != DRAWS_FILE}
    name = data[DRAWS_FILE]
    if not isinstance(name, str) or not name.strip():
        return rest, [(DRAWS_FILE, f"expected the path of a CSV file of draws, got {shown(name)}")]
    path = base / name
    try:
        if not path.is_file():
            return rest, [(DRAWS_FILE, f"{path}: no such file (a path relative to the scenario file)")]
        if path.stat().st_size > MAX_DRAWS_FILE_BYTES:
            return rest, [(DRAWS_FILE, f"{path}: larger than {MAX_DRAWS_FILE_BYTES / 1e6:g} MB")]
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return rest, [(DRAWS_FILE, f"{path}: cannot read it as a CSV file: {exc}")]
    problems = []
    if len(rows) < 3:
        return rest, [(DRAWS_FILE, f"{path}: expected a header of dotted paths and at least two rows of draws")]
    header = [h.strip() for h in rows[0]]
    for k, h in enumerate(header):
        if not h or h in header[:k]:
            problems.append((DRAWS_FILE, f"{path}:1:{k + 1}: expected a dotted path named once, got {h!r}"))
    columns: list[list[float]] = [[] for _ in header]
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append((DRAWS_FILE, f"{path}:{r}: expected {len(header)} values, got {len(row)}"))
            continue
        for k, cell in enumerate(row):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                problems.append((DRAWS_FILE, f"{path}:{r}:{header[k]}: expected a finite number, got {cell!r}"))
            columns[k].append(value)
    uncertain = dict(rest.get("uncertain") or {}) if isinstance(rest.get("uncertain") or {}, dict) else {}
    for h in header:
        if h in uncertain:
            problems.append((DRAWS_FILE, f"{path}: {h} is also under uncertain: give it once"))
    if problems:
        return rest, problems[:20]
    rest["uncertain"] = {**uncertain, **dict(zip(header, columns, strict=True))}
    return rest, []


def _read_text(path: Path, source: str) -> str:
    """The text of a scenario file: a regular file of at most :data:`MAX_FILE_BYTES`, in UTF-8."""
    too_big = f"a scenario file may be at most {MAX_FILE_BYTES:,} bytes ({MAX_FILE_BYTES / 1e6:g} MB)"
    try:
        # Looked at before it is opened: opening a FIFO waits for a writer, and a device
        # such as /dev/zero never ends.
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError(source, [("", "is a folder, not a scenario file")])
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(source, [("", "is not a regular file (a pipe, a device or a socket); give a scenario "
                                              "file")])
        if info.st_size > MAX_FILE_BYTES:
            raise ScenarioError(source, [("", f"is {info.st_size:,} bytes; {too_big}")])
        # Non-blocking, so that a file swapped for a FIFO since the look above cannot hang the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise ScenarioError(source, [("", "is not a regular file (a pipe, a device or a socket); give a "
                                                  "scenario file")])
            raw = file.read(MAX_FILE_BYTES + 1)  # a file that grows, or says it is empty (/proc), is still bounded
    except FileNotFoundError:
        raise ScenarioError(source, [("", "file not found")]) from None
    except OSError as exc:
        raise ScenarioError(source, [("", f"cannot read file: {exc.strerror or exc}")]) from None
    except ValueError as exc:  # a name Python cannot pass to the system (a NUL character)
        raise ScenarioError(source, [("", f"cannot read file: {exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(source, [("", f"is more than {MAX_FILE_BYTES:,} bytes; {too_big}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [("", f"cannot read file: not UTF-8 text (byte {exc.start:,} is "
                                          f"{raw[exc.start]:#04x})")]) from None
    # Line ends as Path.read_text gives them (which this replaced): the same file reads the same.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_scenario(path) -> Scenario:
    """Read a YAML scenario file with ``safe_load`` rules and the limits of the module docstring, and validate it.

    Raises:
        ScenarioError: listing every problem of the file, one line each.
    """
    path = Path(path)
    source = str(path)
    text = _read_text(path, source)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, [("(YAML)", f"{where}{problem}")]) from None
    data, found = _take_misread(data)
    try:
        scenario = parse_scenario(data, source, base=path.parent)
    except ScenarioError as exc:
        if not found:
            raise
        raise ScenarioError(source, _with_misread(found, exc.problems)) from None
    if any(m.problem for m in found.values()):
        raise ScenarioError(source, _with_misread(found, []))
    return scenario


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML, every default written out; :func:`parse_scenario` of it gives the same scenario."""
    return yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
