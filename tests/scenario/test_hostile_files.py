"""Hostile scenario files: each is refused at once with one line per problem saying what is wrong, or read as meant.

The small ones are files in ``tests/bad_scenarios`` (test_validation.py checks the
fields they announce); here the ``# says:`` line of each is checked too, through
``funnel validate`` in this process. The big ones (an alias bomb, deep nesting, a 16 MB
file, /dev/zero, a FIFO) are made here. Every check runs under a deadline, so a hang
fails instead of stopping the suite.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import zlib

import pytest
import yaml
from builders import BAD_FILES, deadline, expected_paths, make
from cli_run import command, in_process
from paths import DOCS, ROOT, SCENARIOS

import sim
from sim.model.streams import Streams
from sim.scenario import ScenarioError, load_scenario, loading, parse_scenario
from sim.scenario.checks import SEATS_CHECKED, stream_names
from sim.scenario.loading import MAX_DEPTH, MAX_FILE_BYTES
from sim.scenario.messages import MAX_LINES

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.fixture
def write(tmp_path):
    """``write(text)``: a new file in ``tmp_path`` holding ``text``; its path."""
    written = []

    def write_one(text: str):
        written.append(tmp_path / f"scenario_{len(written)}.yaml")
        written[-1].write_text(text, encoding="utf-8")
        return written[-1]

    return write_one


def _says(path) -> list[str]:
    """What a bad file's problems must say, from its leading ``# says:`` lines (one per ``# expect:``)."""
    says = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# says: "):
            says.append(line.removeprefix("# says: "))
    return says


SAYING = [p for p in BAD_FILES if _says(p)]


def _refusal(*args, seconds: float = 10) -> list[str]:
    """``funnel ARGS`` in this process, within ``seconds``: exit 2, nothing on stdout, no traceback; the lines."""
    with deadline(seconds):
        code, out, err = in_process(*args)
    assert code == 2, (out, err[:2000])
    assert out == ""
    assert "Traceback" not in err
    return err.splitlines()


def _one_line(*args, seconds: float = 10) -> str:
    """The one line of a refusal (see :func:`_refusal`)."""
    lines = _refusal(*args, seconds=seconds)
    assert len(lines) == 1, lines[:5]
    return lines[0]


def test_there_are_hostile_files_that_say_what_they_expect():
    assert len(SAYING) >= 18


@pytest.mark.parametrize("path", SAYING, ids=lambda p: p.stem)
def test_a_hostile_file_is_refused_with_the_line_it_announces(path):
    lines = _refusal("validate", path)
    expects, says = expected_paths(path), _says(path)
    assert len(says) == len(expects) == len(lines), (says, lines)
    for line, field, said in zip(lines, expects, says, strict=True):
        assert line.startswith(f"{path}: {field}: "), line
        assert said in line, line


@pytest.mark.parametrize("name", ["horizon_octal", "key_is_a_list", "channels_with_one_stream_hash"])
def test_funnel_run_refuses_them_with_the_same_line(name):
    path = [p for p in SAYING if p.stem == name][0]
    assert _refusal("run", path, "--seed", 1) == _refusal("validate", path)


# ---------------------------------------------------------------------------------
# Files that are not scenario files.


def test_a_fifo_and_dev_zero_are_refused_unopened_in_a_real_process(tmp_path):
    # A FIFO nobody writes to would block open() for ever, and /dev/zero would be read until
    # memory runs out; only a real process shows that neither happens (with a timeout, and a
    # memory limit so that a regression fails fast instead of filling the machine).
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command("validate", fifo, "/dev/zero"), cwd=ROOT, capture_output=True, text=True,
                          timeout=60, preexec_fn=limit_memory, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{fifo}: is not a regular file (a pipe, a device or a socket); give a scenario file",
        "/dev/zero: is not a regular file (a pipe, a device or a socket); give a scenario file",
    ]


def test_funnel_run_refuses_a_fifo_at_once(tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    assert _one_line("run", fifo, "--seed", 1, seconds=5) == (
        f"{fifo}: is not a regular file (a pipe, a device or a socket); give a scenario file")


def test_a_folder_is_refused(tmp_path):
    assert _one_line("validate", tmp_path) == f"{tmp_path}: is a folder, not a scenario file"


def test_a_16_mb_file_is_refused_by_its_size_before_it_is_read(tmp_path):
    # A valid scenario, mostly comments: it took more than 10 s to read.
    path = tmp_path / "long.yaml"
    comment = "#" * 79 + "\n"
    path.write_text((SCENARIOS / "teaching_minimal.yaml").read_text() + comment * (16 * 2**20 // 80))
    size = path.stat().st_size
    assert size > 16 * 10**6
    assert _one_line("validate", path, seconds=5) == (
        f"{path}: is {size:,} bytes; a scenario file may be at most 1,000,000 bytes (1 MB)")


def test_a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_not(tmp_path, monkeypatch):
    # At a small limit, so that the file is quick to read; the check does not depend on it.
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 5000)
    body = (SCENARIOS / "teaching_minimal.yaml").read_bytes()
    padding = 5000 - len(body) - 1
    path = tmp_path / "full.yaml"
    path.write_bytes(body + b"#" * padding + b"\n")
    assert path.stat().st_size == 5000
    with deadline(10):
        assert load_scenario(path) == load_scenario(SCENARIOS / "teaching_minimal.yaml")
    path.write_bytes(body + b"#" * (padding + 1) + b"\n")
    assert _one_line("validate", path) == (
        f"{path}: is 5,001 bytes; a scenario file may be at most 5,000 bytes (0.005 MB)")


def test_a_file_that_says_it_is_empty_is_still_read_no_further_than_the_limit(tmp_path, monkeypatch):
    # Files in /proc say they hold 0 bytes; one that lies about its size (or grows) is cut at the limit.
    path = tmp_path / "lies.yaml"
    path.write_bytes(b"horizon_months: 12\n" + b"#" * (3 * MAX_FILE_BYTES) + b"\n")
    real_stat = os.stat

    def stat_saying_empty(p, *args, **kwargs):
        st = real_stat(p, *args, **kwargs)
        return os.stat_result((*st[:6], 0, *st[7:])) if str(p) == str(path) else st

    monkeypatch.setattr(os, "stat", stat_saying_empty)
    assert _one_line("validate", path) == (
        f"{path}: is more than 1,000,000 bytes; a scenario file may be at most 1,000,000 bytes (1 MB)")


def test_a_file_not_in_utf8_names_the_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("horizon_months: 12\nname: café\n".encode("latin-1"))
    assert _one_line("validate", path) == f"{path}: cannot read file: not UTF-8 text (byte 28 is 0xe9)"


# ---------------------------------------------------------------------------------
# Aliases and nesting: refused as they are read, before anything expands.


def _bomb(levels: int, where: str = "name") -> str:
    """A billion laughs: each level is a list of nine aliases of the level before (9**levels values)."""
    lines = ["horizon_months: 12", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    lines.append(f"{where}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


BOMB_LINE = r": \(YAML\): line \d+, column \d+: aliases expand to more than 20,000 values \(an alias bomb\?\)"


@pytest.mark.parametrize("levels", [7, 9, 30])
def test_an_alias_bomb_is_refused_in_one_line_at_once(tmp_path, levels):
    # 7 levels printed 25 MB of problems; 9 hung.
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(levels), encoding="utf-8")
    for cmd in ("validate", "run"):
        line = _one_line(cmd, path, seconds=5)
        assert re.fullmatch(re.escape(str(path)) + BOMB_LINE, line), line


def test_the_value_count_is_exact_with_and_without_aliases(write, monkeypatch):
    # Counted at a small limit, so that the files stay small; the count does not depend on it.
    monkeypatch.setattr(loading, "MAX_VALUES", 200)
    # {horizon_months: 12, x: [...]} is 5 values besides the list's items: the mapping, two keys,
    # 12 and the list. Up to the limit the YAML is read (x is then an unknown key); one more is not.
    for items, readable in ((195, True), (196, False)):
        lines = _refusal("validate", write(f"horizon_months: 12\nx: [{', '.join(['1'] * items)}]\n"))
        assert lines[0].endswith("more than 200 values; a scenario needs a few thousand at most") != readable
        assert ("x: unknown key" in lines[0]) == readable
    # Reading stops at the value past the limit (item 196, at column 5 + 3 * 195), however long
    # the file: 330,000 numbers in 660 kB took 17 s to read.
    path = write(f"horizon_months: 12\nx: [{', '.join(['1'] * 330_000)}]\n")
    assert _one_line("validate", path, seconds=5) == (
        f"{path}: (YAML): line 2, column 590: more than 200 values; a scenario needs a few thousand at most")
    # With aliases: a list of 10 (11 values) under a, then b: aliases of it, each 11 values:
    # 1 + 2 + (1 + 11) + (1 + 1 + 11 k) = 17 + 11 k: 193 for 16 aliases, 204 for 17.
    for aliases, readable in ((16, True), (17, False)):
        lines = _refusal("validate", write(f"horizon_months: 12\na: &a [{', '.join(['1'] * 10)}]\n"
                                           f"b: [{', '.join(['*a'] * aliases)}]\n"))
        assert lines[0].endswith("aliases expand to more than 200 values (an alias bomb?)") != readable
        assert [line.split(": ")[1] for line in lines] == (["a", "b"] if readable else ["(YAML)"])


def test_scenarios_that_share_values_by_aliases_are_well_within_the_limit(tmp_path):
    # The most a realistic file holds: 20 channels, each with a 240-month spend schedule and
    # history shared by an alias (about 10,000 values once expanded).
    plan = [1000 + m for m in range(240)]
    lines = ["horizon_months: 240", "channels:"]
    for i in range(20):
        ref = f"&plan {plan}" if i == 0 else "*plan"
        curve = "&curve {curve: hill, max_leads: 50, half_spend: 2000}" if i == 0 else "*curve"
        lines.append(f"  channel_{i}: {{spend: {ref}, history: {'*plan' if i else '[1000]'}, response: {curve}}}")
    aliased = tmp_path / "aliased.yaml"
    aliased.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written_out = {"horizon_months": 240, "channels": {
        f"channel_{i}": {"spend": plan, "history": plan if i else [1000],
                         "response": {"curve": "hill", "max_leads": 50, "half_spend": 2000}} for i in range(20)}}
    with deadline(10):
        assert load_scenario(aliased) == parse_scenario(written_out)


NEST_LINE = r": \(YAML\): line \d+, column \d+: values nest more than 32 levels deep; a scenario needs 7"


@pytest.mark.parametrize("text", [
    "horizon_months: 12\nx: " + "[" * 5000 + "]" * 5000 + "\n",  # a RecursionError's traceback
    "horizon_months: 12\n" + "".join("  " * i + f"k{i}:\n" for i in range(800)) + "  " * 800 + "v: 1\n",
    # Shallow as written, deep through aliases: 20 levels, then 20 more around the alias.
    "horizon_months: 12\na: &a " + "[" * 20 + "]" * 20 + "\nb: " + "[" * 20 + "*a" + "]" * 20 + "\n",
], ids=["5000_flow_lists", "800_block_mappings", "deep_through_an_alias"])
def test_deep_nesting_is_refused_in_one_line_at_once(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    line = _one_line("validate", path, seconds=5)  # `funnel run` reads files the same way (the bombs show it)
    assert re.fullmatch(re.escape(str(path)) + NEST_LINE, line), line


def test_nesting_is_counted_exactly(write):
    # The file's mapping is level 1, x's list level 2: lists inside lists to level MAX_DEPTH (the
    # innermost empty) are read, and x is an unknown key; one level more is not read.
    for extra, readable in ((MAX_DEPTH - 1, True), (MAX_DEPTH, False)):
        text = "horizon_months: 12\nx: " + "[" * extra + "]" * extra + "\n"
        with pytest.raises(ScenarioError) as info:
            load_scenario(write(text))
        ((field, message),) = info.value.problems
        assert (field == "x" and message.startswith("unknown key")) == readable, (field, message)
        assert (field == "(YAML)" and "nest more than 32 levels" in message) == (not readable)


# ---------------------------------------------------------------------------------
# What reads as meant: merge keys, numbers, names; valid files read exactly as before.


def _merge_example() -> str:
    """The merge-key example of docs/guide/scenario-files.md (the yaml block after its marker)."""
    text = (DOCS / "guide" / "scenario-files.md").read_text(encoding="utf-8")
    return re.search(r"<!-- merge-example -->\n```yaml\n(.*?)^```", text, flags=re.S | re.M).group(1)


def test_the_documented_merge_keys_give_the_scenario_written_out_in_full(write):
    paid = {"spend": 20000, "response": {"curve": "hill", "max_leads": 900, "half_spend": 25000},
            "carryover": 0.3, "rate_cv": 0.1}
    in_full = {"horizon_months": 12, "channels": {
        "paid_search": paid,
        "paid_social": {**paid, "spend": 8000, "intent": {"a": 1.5, "b": 6}},
        "display": {**paid, "spend": 4000},
    }}
    scenario = load_scenario(write(_merge_example()))
    assert scenario == parse_scenario(in_full)
    assert scenario.channels["display"].spend == [4000.0]  # the explicit key won over the merged one
    assert scenario.channels["display"].carryover == 0.3  # and the rest was merged


def test_merge_keys_follow_yaml_an_earlier_mapping_in_a_list_wins_and_a_key_written_beside_wins_over_both(write):
    text = ("horizon_months: 12\nchannels:\n  a: &a {baseline_leads: 1, rate_cv: 0.1}\n"
            "  b: &b {baseline_leads: 2, carryover: 0.5}\n  c: {<<: [*a, *b], rate_cv: 0.2}\n")
    assert load_scenario(write(text)).channels["c"] == parse_scenario(
        {"horizon_months": 12, "channels": {"c": {"baseline_leads": 1, "carryover": 0.5, "rate_cv": 0.2}}}
    ).channels["c"]


class _BeforeLoader(yaml.SafeLoader):
    """How scenario files were read before the limits: ``safe_load`` plus ``1e5`` as a number."""


_BeforeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_reads_exactly_as_before(path):
    before = yaml.load(path.read_text(encoding="utf-8"), Loader=_BeforeLoader)  # noqa: S506 - a SafeLoader
    assert load_scenario(path) == parse_scenario(before, str(path))


@pytest.mark.parametrize(("written", "value"), [
    ("0x0C", 12), ("1_2", 12), ("+12", 12), ("07", 7), ("00012", None),
])
def test_numbers_that_read_as_they_look_are_taken(written, value, write):
    if value is None:  # 00012 is octal 10, unlike its decimal 12: refused
        line = _one_line("validate", write(f"horizon_months: {written}\n"))
        assert line.endswith("horizon_months: 00012 is read by YAML 1.1 as octal 10; write 12 (or \"00012\" in "
                             "quotes for text)")
    else:
        assert load_scenario(write(f"horizon_months: {written}\n")).horizon_months == value


def test_yes_and_no_are_booleans_where_a_boolean_is_meant(write):
    scenario = load_scenario(write("horizon_months: 12\nroles: {ae: {fte: 1, backfill: no}}\n"))
    assert scenario.roles.ae.backfill is False


def test_a_misread_number_beside_other_problems_is_one_line_among_them(write):
    lines = _refusal("validate", write("horizon_months: 0\nqualification: {sla_hours: 1:30}\nseed: 012\n"))
    fields = [line.split(": ")[1] for line in lines]
    assert sorted(fields) == ["horizon_months", "qualification.sla_hours", "seed", "seed"], lines
    # seed is both: a misread number and an unknown key; horizon_months is only out of bounds.
    assert sum("unknown key" in line for line in lines) == 1


@pytest.mark.parametrize("name", ["paid search", "Réseaux-sociaux", "tv_2024", "_x", "9lives", "x" * 64])
def test_names_within_the_rule_are_taken(name):
    scenario = make(channels={name: {"baseline_leads": 5}},
                    opportunities__stages=[{"name": name, "duration_days": 3, "advance": 0.5}])
    assert list(scenario.channels) == [name]
    assert scenario.opportunities.stages[0].name == name


@pytest.mark.parametrize("name", ["a.b", "a/b", " lead", "trail ", "-x", "x" * 65, "tab\there", "new\nline"])
def test_names_outside_the_rule_are_refused_naming_the_field(name):
    data = {"horizon_months": 12, "channels": {name: {"baseline_leads": 5}},
            "opportunities": {"stages": [{"name": name}]}}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    fields = [field for field, _ in info.value.problems]
    shown = name if len(name) <= 64 else "x" * 61 + "..."  # a path shows a long key cut to 64 characters
    assert fields == [f"channels.{shown}", "opportunities.stages[0].name"]
    for line in info.value.lines():
        assert "\n" not in line and "\t" not in line
        assert "may hold letters, digits, _, - and spaces" in line


def test_a_line_stays_one_line_and_short_whatever_the_file_holds(write):
    path = write('horizon_months: 12\nchannels: {"a\\nb\\u001b[31m\\u2028": {spend: "' + "x" * 10_000 + '"}}\n')
    (line,) = [line for line in _refusal("validate", path) if "spend" in line]
    assert "\\n" in line and "\\x1b" in line and "\\u2028" in line  # written as escapes, on one line
    assert len(line.splitlines()) == 1 and len(line) < len(f"{path}: ") + 300


def test_a_file_of_hundreds_of_problems_lists_fifty_then_counts_the_rest(write):
    path = write("horizon_months: 12\n" + "".join(f"k{i}: 1\n" for i in range(1234)))
    lines = _refusal("validate", path)
    assert len(lines) == MAX_LINES + 1 == 51
    assert lines[:2] == [f"{path}: k{i}: unknown key (check the spelling; see `funnel schema`)" for i in range(2)]
    assert lines[-1] == f"{path}: and 1,184 more problems, not listed (fix these first)"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert len(info.value.problems) == 1234  # Python callers get every one


# ---------------------------------------------------------------------------------
# Random streams: the names sim/scenario checks are the names the model draws from.


def test_stream_names_are_the_names_the_model_asks_for(monkeypatch):
    scenario = make(horizon_months=2, roles__sdr={"fte": 2, "outbound_leads_per_month": 3, "hires": [{"month": 1}]},
                    roles__ae={"fte": 1, "outbound_leads_per_month": 2, "max_open_opportunities": 5},
                    roles__customer_success={"fte": 1}, customers={"installed_base": 3, "installed_mrr": 100},
                    channels__events={"baseline_leads": 5})
    asked = []
    real_call = Streams.__call__
    monkeypatch.setattr(Streams, "__call__", lambda self, name: asked.append(name) or real_call(self, name))
    sim.simulate(scenario, seed=1)
    assert sorted(asked) == sorted(stream_names(scenario))
    assert len(set(asked)) == len(asked)
    assert {"arrivals/search", "arrivals/events", "arrivals/outbound/sdr/2", "arrivals/outbound/ae/0",
            "headcount/customer_success/0", "customers/installed_base"} <= set(asked)


def test_the_colliding_names_of_the_corpus_really_collide():
    crc = lambda name: zlib.crc32(name.encode("utf-8"))  # noqa: E731
    assert crc("arrivals/c6698768") == crc("arrivals/c20064000")
    assert crc("arrivals/6dikeyd5") == crc("headcount/ae/18")


def test_a_model_stream_a_scenario_does_not_use_is_no_collision():
    # 6dikeyd5 shares its hash with headcount/ae/18, the 19th AE seat's: with 18 AEs there is none.
    assert make(channels={"6dikeyd5": {"baseline_leads": 1}}, roles__ae={"fte": 18}).channels["6dikeyd5"]
    with pytest.raises(ScenarioError) as info:
        make(channels={"6dikeyd5": {"baseline_leads": 1}}, roles__ae={"fte": 19})
    assert [field for field, _ in info.value.problems] == ["channels.6dikeyd5"]


def test_the_models_own_stream_names_are_distinct_by_crc32_well_beyond_the_seats_checked():
    names = ["arrivals/outbound/months", "customers/installed_base"]
    for role in ("sdr", "ae", "customer_success"):
        names += [f"headcount/{role}/{k}" for k in range(2 * SEATS_CHECKED)]
    for role in ("sdr", "ae"):
        names += [f"arrivals/outbound/{role}/{k}" for k in range(2 * SEATS_CHECKED)]
    assert len({zlib.crc32(n.encode("utf-8")) for n in names}) == len(names)
