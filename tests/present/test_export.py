import dataclasses
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from paths import TEACHING

from sim import __version__, load_scenario
from sim.decide.compare import compare, sweep
from sim.present.errors import PresentError
from sim.present.export import write_excel, write_tables

EXTRA = pd.DataFrame({"share": [0.2, 0.3], "value": [1.5, math.inf]}).set_index("share")


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TEACHING)


@pytest.fixture(scope="module")
def comparison(scenario):
    return sweep(scenario, {"marketing_share": [0.2, 0.3, 0.4]}, reps=10, seed=1)


@pytest.fixture(scope="module")
def identical(scenario):
    # Two alternatives with identical results (the twin differs in its name only, so it is not
    # merged as the same scenario): variance reduction is NaN against itself and inf against the
    # twin. The label looks like a formula, which Excel must show as text.
    return compare({"=1+1": scenario, "twin": scenario.replace({"name": "twin"})}, reps=5, seed=1)


@pytest.fixture(scope="module")
def tables(comparison, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tables") / "out" / "sweep"
    paths = write_tables(comparison, directory, extra={"curve": EXTRA})
    return directory, paths


@pytest.fixture(scope="module")
def workbook(comparison, tmp_path_factory):
    path = write_excel(comparison, tmp_path_factory.mktemp("excel") / "sweep.xlsx", extra={"curve": EXTRA})
    return openpyxl.load_workbook(path)


def expected_tables(c):
    return {"alternatives": c.alternatives.reset_index(), "paired": c.paired, "measures": c.measures,
            "replications": c.replications, "monthly": c.monthly, "failures": c.failures,
            "curve": EXTRA.reset_index()}


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def sheet_rows(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def summary_table(sheet):
    rows = sheet_rows(sheet)
    start = next(k for k, row in enumerate(rows) if row[0] == "alternative")
    return rows[start], rows[start + 1:]


# --- write_tables


def test_write_tables_returns_every_file_it_wrote(tables):
    directory, paths = tables
    names = ["alternatives", "paired", "measures", "replications", "monthly", "failures", "curve"]
    assert paths == [directory / f"{n}.{ext}" for n in names for ext in ("csv", "parquet")] + [
        directory / "about.json"]
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in paths)


@pytest.mark.parametrize("name", ["alternatives", "paired", "measures", "replications", "monthly", "failures",
                                  "curve"])
def test_parquet_reads_back_equal(tables, comparison, name):
    directory, _ = tables
    expected = expected_tables(comparison)[name]
    got = pd.read_parquet(directory / f"{name}.parquet")
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("name", ["alternatives", "paired", "measures", "replications", "monthly", "failures",
                                  "curve"])
def test_csv_reads_back_equal(tables, comparison, name):
    directory, _ = tables
    expected = expected_tables(comparison)[name]
    got = pd.read_csv(directory / f"{name}.csv", encoding="utf-8")
    # CSV has no dtypes: ints of an all-integer float column, strings of an empty one.
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_column_type=False)


def test_alternatives_keep_their_label_column(tables, comparison):
    directory, _ = tables
    got = pd.read_csv(directory / "alternatives.csv")
    assert list(got.columns)[0] == "alternative"
    assert list(got["alternative"]) == list(comparison.alternatives.index)


def test_nan_and_inf_round_trip(identical, tmp_path):
    write_tables(identical, tmp_path)
    vr = identical.paired["variance_reduction"]
    assert vr.isna().any() and np.isinf(vr).any()  # the case this test is about
    for got in (pd.read_parquet(tmp_path / "paired.parquet"), pd.read_csv(tmp_path / "paired.csv")):
        np.testing.assert_array_equal(got["variance_reduction"].to_numpy(), vr.to_numpy())
        assert list(got["alternative"]) == list(identical.paired["alternative"])  # "=1+1" stays text


def test_about_is_strict_json(tables, comparison):
    directory, _ = tables
    about = strict_json((directory / "about.json").read_text(encoding="utf-8"))
    assert about["best"] == comparison.best and about["baseline"] == comparison.baseline
    assert about["objective"] == comparison.objective.label and about["risk"] == comparison.risk.label
    assert (about["level"], about["reps"], about["n"]) == (comparison.level, comparison.reps, comparison.n)
    assert about["dimensions"] == ["marketing_share"] and about["version"] == __version__


def test_about_writes_nan_as_null(comparison, tmp_path):
    write_tables(dataclasses.replace(comparison, level=math.nan), tmp_path)
    assert strict_json((tmp_path / "about.json").read_text(encoding="utf-8"))["level"] is None


def test_empty_monthly_is_skipped_but_failures_always_written(comparison, tmp_path):
    paths = write_tables(dataclasses.replace(comparison, monthly=pd.DataFrame()), tmp_path)
    names = {p.name for p in paths}
    assert "monthly.csv" not in names and not (tmp_path / "monthly.parquet").exists()
    assert {"failures.csv", "failures.parquet"} <= names
    assert list(pd.read_csv(tmp_path / "failures.csv").columns) == ["alternative", "replication", "seed", "error"]


def test_failures_round_trip(comparison, tmp_path):
    failures = pd.DataFrame([{"alternative": "today", "replication": 3, "seed": 12345, "error": "boom, \"quoted\"\n"}])
    write_tables(dataclasses.replace(comparison, failures=failures), tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "failures.parquet"), failures)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "failures.csv"), failures, check_dtype=False)


def test_existing_directory_and_its_other_contents_are_kept(comparison, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "keep.txt").write_text("mine")
    write_tables(comparison, tmp_path)
    # An earlier call's output: its own files are replaced, what the user added beside them stays.
    (tmp_path / "paired.csv").write_text("old")
    (tmp_path / "notes.txt").write_text("mine too")
    write_tables(comparison, tmp_path)
    assert (tmp_path / "runs" / "keep.txt").read_text() == "mine"
    assert (tmp_path / "notes.txt").read_text() == "mine too"
    assert (tmp_path / "paired.csv").read_text().startswith("alternative,")


def test_unwritable_directory_raises_oserror(comparison, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(OSError):
        write_tables(comparison, tmp_path / "file" / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def fail_midway(path, *args, **kwargs):
    Path(path).write_bytes(b"half a file")
    raise OSError(28, "No space left on device")


def test_failed_write_leaves_no_temp_file_and_keeps_the_old_one(comparison, tmp_path, monkeypatch):
    write_tables(comparison, tmp_path)
    before = (tmp_path / "alternatives.parquet").read_bytes()  # the first Parquet file written
    monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, path, **kw: fail_midway(path))
    with pytest.raises(OSError, match="No space"):
        write_tables(comparison, tmp_path)
    assert (tmp_path / "alternatives.parquet").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_unwritable_parquet_column_leaves_no_file(comparison, tmp_path):
    with pytest.raises(Exception, match="convert"):  # a column Parquet cannot type
        write_tables(comparison, tmp_path, extra={"bad": pd.DataFrame({"x": [1, "a"]})})
    assert not (tmp_path / "bad.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("name", ["paired", "a/b", "", "x" * 32, "PAIRED"])
def test_unusable_extra_names_are_refused(comparison, tmp_path, name):
    with pytest.raises(PresentError, match="table name"):
        write_tables(comparison, tmp_path, extra={name: EXTRA})
    assert not list(tmp_path.iterdir())


# --- write_excel


def test_workbook_sheets_in_order(workbook):
    assert workbook.sheetnames == ["summary", "paired", "measures", "replications", "curve"]


def test_summary_has_header_lines(workbook, comparison):
    lines = {row[0]: row[1] for row in sheet_rows(workbook["summary"])[:8] if row[0]}
    assert lines["objective"] == comparison.objective.label and lines["risk"] == comparison.risk.label
    assert lines["confidence level"] == comparison.level and lines["replications"] == comparison.reps
    assert lines["best"] == comparison.best and lines["baseline"] == comparison.baseline


def test_summary_holds_each_alternative_and_its_objective(workbook, comparison):
    header, rows = summary_table(workbook["summary"])
    objective = header.index("objective (mean)")
    assert header[objective + 1: objective + 3] == ["CI low", "CI high"]
    got = {row[0]: row[objective] for row in rows}
    assert list(got) == list(comparison.alternatives.index)
    for label, value in comparison.alternatives["objective"].items():
        assert got[label] == pytest.approx(value, rel=1e-12, abs=1e-9)
    baseline = header.index("difference to baseline")
    for row, value in zip(rows, comparison.alternatives["vs_baseline"], strict=True):
        assert row[baseline] == pytest.approx(value, rel=1e-12, abs=1e-9)


def test_summary_formats_and_frozen_header(workbook):
    sheet = workbook["summary"]
    rows = sheet_rows(sheet)
    header_row = next(k for k, row in enumerate(rows) if row[0] == "alternative") + 1
    assert sheet.freeze_panes == f"B{header_row + 1}"
    header = rows[header_row - 1]
    first = sheet[header_row + 1]
    assert first[header.index("marketing share")].number_format == "0.0%"
    assert first[header.index("objective (mean)")].number_format == "#,##0"
    assert first[header.index("P(best)")].number_format == "0.0%"
    for k, name in enumerate(header):
        width = sheet.column_dimensions[openpyxl.utils.get_column_letter(k + 1)].width
        assert width >= len(name), name


def test_replications_sheet_has_one_row_per_replication(workbook, comparison):
    rows = sheet_rows(workbook["replications"])
    assert len(rows) == len(comparison.replications) + 1
    header = rows[0]
    assert header == list(comparison.replications.columns)
    got = [row[header.index("objective")] for row in rows[1:]]
    np.testing.assert_allclose(got, comparison.replications["objective"].to_numpy(), rtol=1e-12)
    assert workbook["replications"].freeze_panes == "B2"


def test_paired_and_measures_sheets_match(workbook, comparison):
    for name in ("paired", "measures"):
        rows = sheet_rows(workbook[name])
        frame = getattr(comparison, name)
        assert rows[0] == list(frame.columns)
        assert [row[0] for row in rows[1:]] == list(frame["alternative"])


def test_extra_table_is_a_sheet_with_its_index(workbook):
    rows = sheet_rows(workbook["curve"])
    assert rows == [["share", "value"], [0.2, 1.5], [0.3, None]]


def test_nan_and_inf_cells_are_empty(identical, tmp_path):
    book = openpyxl.load_workbook(write_excel(identical, tmp_path / "same.xlsx"))
    rows = sheet_rows(book["paired"])
    column = rows[0].index("variance_reduction")
    assert [row[column] for row in rows[1:]] == [None] * len(identical.paired)
    assert [row[0] for row in rows[1:]] == list(identical.paired["alternative"])  # "=1+1" is text
    assert book["paired"]["A2"].data_type == "s"
    # openpyxl reads a NaN it wrote back as None too, so look at what Excel would see: no value at all.
    with zipfile.ZipFile(tmp_path / "same.xlsx") as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    for xml in sheets:
        assert not re.search(r"<v\s*/>|<v>\s*-?(nan|inf)", xml, re.IGNORECASE)


def test_unwritable_workbook_raises_oserror_and_leaves_nothing(comparison, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(OSError):
        write_excel(comparison, tmp_path / "file" / "sweep.xlsx")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    (tmp_path / "sweep.xlsx").mkdir()  # the workbook is written, then cannot replace a directory
    with pytest.raises(OSError):
        write_excel(comparison, tmp_path / "sweep.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "sweep.xlsx"]


def test_failed_workbook_write_keeps_the_old_workbook(comparison, tmp_path, monkeypatch):
    path = write_excel(comparison, tmp_path / "sweep.xlsx")
    before = path.read_bytes()
    save = openpyxl.Workbook.save

    def save_then_fail(book, filename):
        save(book, filename)  # lets openpyxl finish its sheets, so only the file is left to clean up
        fail_midway(filename)

    monkeypatch.setattr(openpyxl.Workbook, "save", save_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_excel(comparison, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.xlsx"]


def test_second_write_replaces_the_workbook(comparison, tmp_path):
    path = tmp_path / "sweep.xlsx"
    write_excel(comparison, path, extra={"curve": EXTRA})
    write_excel(comparison, path)
    assert openpyxl.load_workbook(path).sheetnames == ["summary", "paired", "measures", "replications"]
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.xlsx"]


@pytest.mark.parametrize("name", ["summary", "bad:name", "x" * 32])
def test_unusable_sheet_names_are_refused(comparison, tmp_path, name):
    with pytest.raises(PresentError, match="table name"):
        write_excel(comparison, tmp_path / "sweep.xlsx", extra={name: EXTRA})
    assert not list(tmp_path.iterdir())


def test_extra_names_differing_only_in_case_are_refused(comparison, tmp_path):
    with pytest.raises(PresentError, match="taken"):
        write_tables(comparison, tmp_path, extra={"curve": EXTRA, "Curve": EXTRA})
    with pytest.raises(PresentError, match="taken"):
        write_excel(comparison, tmp_path / "sweep.xlsx", extra={"history": EXTRA})
    assert not list(tmp_path.iterdir())


# --- write_experiment_excel and Experiment.to_excel


@pytest.fixture(scope="module")
def experiment(scenario):
    import sim

    return sim.run_many(scenario, reps=6, seed=4)


def _experiment_sheets(path) -> dict[str, pd.DataFrame]:
    """The three sheets read back with pandas: the summary below its header lines, the others as they are."""
    firsts = [row[0] for row in sheet_rows(openpyxl.load_workbook(path)["summary"])]
    start = firsts.index("measure")
    return {"summary": pd.read_excel(path, sheet_name="summary", skiprows=start, index_col=0),
            "replications": pd.read_excel(path, sheet_name="replications"),
            "monthly": pd.read_excel(path, sheet_name="monthly")}


def _assert_frames_equal(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    # Excel has one number type: 3 comes back as 3 (int) or 3.0; NaN as an empty cell, read back as NaN.
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=False, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("how", ["write_experiment_excel", "to_excel"])
def test_experiment_workbook_holds_the_summary_and_the_frames(experiment, scenario, tmp_path, how):
    from sim.present.export import write_experiment_excel

    path = tmp_path / "experiment.xlsx"
    returned = write_experiment_excel(experiment, path) if how == "write_experiment_excel" \
        else experiment.to_excel(path)
    assert Path(returned) == path
    assert openpyxl.load_workbook(path).sheetnames == ["summary", "replications", "monthly"]
    sheets = _experiment_sheets(path)
    assert experiment.replications.isna().any().any()  # the empty-cell case is exercised
    _assert_frames_equal(sheets["summary"], experiment.summary())
    _assert_frames_equal(sheets["replications"], experiment.replications)
    _assert_frames_equal(sheets["monthly"], experiment.monthly)
    assert len(sheets["replications"]) == 6 and len(sheets["monthly"]) == 6 * scenario.horizon_months
    lines = {row[0]: row[1] for row in sheet_rows(openpyxl.load_workbook(path)["summary"])[:8]}
    assert lines["scenario"] == scenario.name and lines["horizon (months)"] == scenario.horizon_months
    assert lines["root seed"] == "4" and lines["replications"] == 6 and lines["failed"] == 0
    assert lines["confidence level"] == 0.95


def test_experiment_workbook_with_chosen_measures_and_level(experiment, tmp_path):
    path = experiment.to_excel(tmp_path / "deep" / "chosen.xlsx", measures=["wins", "leads"], level=0.8)
    summary = _experiment_sheets(path)["summary"]
    expected = experiment.summary(["wins", "leads"], 0.8)
    assert list(summary.index) == ["wins", "leads"]
    _assert_frames_equal(summary, expected)
    # A narrower level gives a narrower interval than the default 95%: the level was used, not ignored.
    wide = experiment.summary(["wins"], 0.95).loc["wins"]
    assert wide["ci_low"] < summary.loc["wins", "ci_low"] <= summary.loc["wins", "ci_high"] < wide["ci_high"]
