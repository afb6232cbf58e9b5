"""``funnel compare`` and ``funnel sweep`` with ``--set PATH=VALUES``: any setting, one line per wrong one.

The alternatives' scenarios are checked through what the command writes (the tidy
``replications.csv`` and the JSON), and the values are read as the scenario reads them
(whole numbers stay whole, words stay words). The fast ``teaching_minimal`` scenario,
in this process.
"""

from __future__ import annotations

import pandas as pd
import pytest
from cli_run import assert_one_line_per_option, in_process, strict_json
from paths import TEACHING

from sim.cli.options import setting_values


def test_a_sweep_over_a_path_reports_each_value_and_merges_todays():
    code, text, err = in_process("sweep", str(TEACHING), "--set", "roles.ae.fte=1:3:1", "--reps", "3", "--seed", "2",
                                 "--json")
    assert code == 0, err
    document = strict_json(text)
    assert document["comparison"]["dimensions"] == ["roles.ae.fte"]
    assert document["comparison"]["merged"] == {"today": ["fte=2"]}  # teaching_minimal has 2 AEs
    rows = {r["alternative"]: r for r in document["alternatives"]}
    assert set(rows) == {"today", "fte=1", "fte=3"}
    assert {label: rows[label]["fte.ae"] for label in rows} == {"today": 2, "fte=1": 1, "fte=3": 3}
    assert rows["fte=3"]["roles.ae.fte"] == 3


def test_compare_takes_words_and_two_paths_make_every_combination(tmp_path):
    code, text, err = in_process("compare", str(TEACHING), "--set", "qualification.discipline=lifo,score",
                                 "--set", "scoring.mql_threshold=0.2,0.4", "--reps", "2", "--json",
                                 "--out", str(tmp_path / "out"))
    assert code == 0, err
    labels = [r["alternative"] for r in strict_json(text)["alternatives"]]
    assert labels == ["today"] + [f"discipline={d}, mql_threshold={t}" for d in ("lifo", "score") for t in (0.2, 0.4)]
    tidy = pd.read_csv(tmp_path / "out" / "replications.csv")
    assert set(tidy["alternative"]) == set(labels) and len(tidy) == 2 * len(labels)


def test_values_are_read_as_the_scenario_reads_them():
    problems = []
    assert setting_values("4,6,8", "--set x", problems) == [4, 6, 8]
    assert all(type(v) is int for v in setting_values("1:7:3", "--set x", problems))
    assert setting_values("0.5:1:0.25", "--set x", problems) == [0.5, 0.75, 1]
    assert setting_values("fifo, lifo", "--set x", problems) == ["fifo", "lifo"]
    assert setting_values("true,false", "--set x", problems) == [True, False]
    assert problems == []
    setting_values("1,,2", "--set x", problems)
    setting_values("1:0:1", "--set x", problems)
    assert len(problems) == 2 and all(p.startswith("--set x: ") for p in problems)


def test_every_wrong_set_is_one_line_before_anything_runs(tmp_path):
    code, out, err = in_process("compare", str(TEACHING), "--set", "roles.ae.ftee=3", "--set", "roles.ae.fte=2.5,-1",
                                "--set", "qualification.discipline=nope", "--set", "broken", "--reps", "2",
                                "--out", str(tmp_path / "out"))
    lines = assert_one_line_per_option(code, out, err, ["--set"] * 5)
    assert any("roles.ae.ftee: 3: unknown key" in line and "`funnel schema`" in line for line in lines)
    assert not (tmp_path / "out").exists()  # nothing written
    code, out, err = in_process("sweep", str(TEACHING), "--set", "qualification.discipline=fifo,lifo",
                                "--set", "roles.ae.fte=2", "--set", "roles.ae.fte=3")
    assert_one_line_per_option(code, out, err, ["--set", "--set"])
    assert "a sweep varies numbers" in err and "given 2 times" in err


@pytest.mark.parametrize("values", ["1:100000:1"])
def test_a_grid_too_large_is_one_line(values):
    code, out, err = in_process("sweep", str(TEACHING), "--set", f"roles.ae.fte={values}")
    assert_one_line_per_option(code, out, err, ["--set"])
