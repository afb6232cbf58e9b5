"""`funnel calibrate` on messy input: one line per problem naming the file (row, column) or the mapping's key,
exit code 2, no traceback, --out not written; damaged rows are counted in unusable_rows, never dropped silently.

Cheap on purpose: one small export (a tiny scenario, four months), read by every test; only the
test of counted rows calibrates all the way.
"""

import os
import shutil
import sys

import pandas as pd
import pytest
import yaml
from cli_run import assert_one_line_per_option, in_process, nonblank_lines, strict_json
from paths import ROOT

import sim

MAPPING = ROOT / "mappings" / "funnel_sim.yaml"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    scenario = sim.load_scenario(ROOT / "scenarios" / "teaching_minimal.yaml").replace(start_date="2025-01-01",
                                                                                         horizon_months=4)
    folder = tmp_path_factory.mktemp("crm") / "crm"
    sim.write_crm(sim.crm_export(scenario, seed=1), folder)
    return folder


@pytest.fixture
def crm(base, tmp_path):
    return shutil.copytree(base, tmp_path / "crm")


def _calibrate(mapping, data, out, *extra):
    return in_process("calibrate", "--mapping", mapping, "--data", data, "--out", out, *extra)


def _one_line_about(code, out, err, about, target):
    assert (code, out) == (2, ""), err
    assert "Traceback" not in err
    lines = nonblank_lines(err)
    assert len(lines) == 1 and lines[0].startswith(about), lines
    assert not target.exists()
    return lines[0]


# (a) files that are not tables


BROKEN = {
    "broken quote": lambda text: text.replace("\n1,", '\n"1,', 1),
    "empty": lambda text: "",
    "binary": lambda text: bytes(range(256)) * 8,
}


@pytest.mark.parametrize("damage", list(BROKEN), ids=list(BROKEN))
def test_a_csv_that_is_not_a_table_is_one_line_naming_the_file(crm, tmp_path, damage):
    made = BROKEN[damage]((crm / "deals.csv").read_text(encoding="utf-8"))
    if isinstance(made, bytes):
        (crm / "deals.csv").write_bytes(made)
    else:
        (crm / "deals.csv").write_text(made, encoding="utf-8")
    line = _one_line_about(*_calibrate(MAPPING, crm, tmp_path / "s.yaml"), f"{crm / 'deals.csv'}: ",
                           tmp_path / "s.yaml")
    assert "cannot read it as a table" in line


def test_ragged_rows_say_the_line(crm, tmp_path):
    lines = (crm / "deals.csv").read_text(encoding="utf-8").splitlines()
    lines[3] += ",x,y"
    (crm / "deals.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = _one_line_about(*_calibrate(MAPPING, crm, tmp_path / "s.yaml"), f"{crm / 'deals.csv'}: ",
                           tmp_path / "s.yaml")
    fields = len(lines[0].split(","))
    assert f"Expected {fields} fields in line 4, saw {fields + 2}" in line


def test_an_xlsx_that_is_not_a_workbook_is_one_line_naming_it(crm, tmp_path):
    data = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    data["tables"]["deals"]["file"] = "deals.xlsx"
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(crm / "deals.csv", crm / "deals.xlsx")  # a CSV renamed: not a zip
    line = _one_line_about(*_calibrate(mapping, crm, tmp_path / "s.yaml"), f"{crm / 'deals.xlsx'}: ",
                           tmp_path / "s.yaml")
    assert "not an Excel workbook" in line


def test_a_header_only_deals_file_is_one_line_not_a_traceback(crm, tmp_path):
    header = (crm / "deals.csv").read_text(encoding="utf-8").splitlines()[0]
    (crm / "deals.csv").write_text(header + "\n", encoding="utf-8")
    line = _one_line_about(*_calibrate(MAPPING, crm, tmp_path / "s.yaml"), "deals.csv: no usable deal",
                           tmp_path / "s.yaml")
    assert "0 rows read" in line


def test_no_deal_closed_is_one_line_not_a_traceback(crm, tmp_path):
    deals = pd.read_csv(crm / "deals.csv", dtype=str)
    deals["stage"] = "close"
    deals.to_csv(crm / "deals.csv", index=False)
    _one_line_about(*_calibrate(MAPPING, crm, tmp_path / "s.yaml"), "deals.csv: no deal is won or lost",
                    tmp_path / "s.yaml")


# (b) mappings


DEALS = ("  deals:\n    file: deals.csv\n    columns: {deal_id: deal_id, lead_id: lead_id, created_date: "
         "created_date, stage: stage, closed_date: closed_date}\n")
BAD_MAPPINGS = {
    "unknown table": ("tables:\n  orders: {file: o.csv, columns: {a: b}}\n" + DEALS + "    won: [won]\n",
                      "tables.orders: unknown table"),
    "field given twice": ("tables:\n" + DEALS + "    columns: {deal_id: id, created_date: c, stage: s}\n"
                          "    won: [won]\n", "tables.deals.columns: given twice (lines 4 and 5)"),
    "column mapped twice": ("tables:\n  deals:\n    file: deals.csv\n    columns: {deal_id: deal_id, created_date: "
                            "created_date, stage: stage, closed_date: created_date}\n    won: [won]\n",
                            "tables.deals.columns.closed_date: the column 'created_date' is mapped to created_date"),
    "bad date_format": ("date_format: YYYY-MM-DD\ntables:\n" + DEALS + "    won: [won]\n",
                        "date_format: 'YYYY-MM-DD' has no % directive"),
    "bad table date_format": ("tables:\n" + DEALS + "    won: [won]\n    date_format: '%Y-%m-%Q'\n",
                              "tables.deals.date_format: '%Y-%m-%Q': 'Q' is a bad directive"),
    "won and lost overlap": ("tables:\n" + DEALS + "    won: [won, Closed]\n    lost: [lost, closed]\n",
                             "tables.deals.lost: 'closed' also in won"),
}


@pytest.mark.parametrize("case", list(BAD_MAPPINGS), ids=list(BAD_MAPPINGS))
def test_a_bad_mapping_is_one_line_naming_its_field(crm, tmp_path, case):
    text, expected = BAD_MAPPINGS[case]
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text, encoding="utf-8")
    line = _one_line_about(*_calibrate(mapping, crm, tmp_path / "s.yaml"), f"{mapping}: ", tmp_path / "s.yaml")
    assert line.startswith(f"{mapping}: {expected}"), line


# (c) damaged rows: counted and listed, each file:row:column


def test_damaged_rows_are_counted_and_listed_as_file_row_column(crm, tmp_path):
    leads = pd.read_csv(crm / "leads.csv", dtype=str, keep_default_na=False)
    deals = pd.read_csv(crm / "deals.csv", dtype=str, keep_default_na=False)
    with_deal = set(deals["lead_id"])
    free = [k for k in leads.index if leads.loc[k, "lead_id"] not in with_deal]  # leads without a deal
    no_date, bad_date, twin = free[0], free[1], free[2]
    leads.loc[no_date, "created_date"] = ""
    leads.loc[bad_date, "created_date"] = "31/02/2025"
    leads.loc[twin, "lead_id"] = leads.loc[free[3], "lead_id"]  # a duplicate of a later lead: the first kept
    won = deals.index[deals["stage"] == "won"]
    deals.loc[won[0], "closed_date"] = "2024-12-01 00:00:00"  # closed before it was created
    deals.loc[won[1], "created_date"] = "yesterday"
    deals.loc[won[2], "lead_id"] = "999999"
    deals.loc[won[3], "deal_id"] = deals.loc[won[4], "deal_id"]
    leads.to_csv(crm / "leads.csv", index=False)
    deals.to_csv(crm / "deals.csv", index=False)
    # An independent count of the damaged rows, from the files as written.
    lead_dates = pd.to_datetime(leads["created_date"].replace("", None), errors="coerce", format="mixed")
    created = pd.to_datetime(deals["created_date"], errors="coerce", format="mixed")
    closed = pd.to_datetime(deals["closed_date"].replace("", None), errors="coerce", format="mixed")
    planted = {"leads: unparsable or missing created_date": int(lead_dates.isna().sum()),
               "leads: duplicate lead_id": int(leads["lead_id"].duplicated().sum()),
               "deals: unparsable or missing created_date": int(created.isna().sum()),
               "deals: duplicate deal_id": int(deals["deal_id"].duplicated().sum()),
               "deals: negative duration": int((closed < created).sum()),
               "deals: unknown lead_id": int((~deals["lead_id"].isin(leads["lead_id"])).sum())}
    assert planted == {"leads: unparsable or missing created_date": 2, "leads: duplicate lead_id": 1,
                       "deals: unparsable or missing created_date": 1, "deals: duplicate deal_id": 1,
                       "deals: negative duration": 1, "deals: unknown lead_id": 1}
    code, out, err = _calibrate(MAPPING, crm, tmp_path / "s.yaml", "--json")
    assert code == 0, err
    report = strict_json(out)
    assert report["unusable_rows"] == planted
    warnings = "\n".join(report["warnings"])
    row = lambda k: k + 2  # noqa: E731 - the file's row: the header is row 1
    for line in (f"leads.csv:{row(no_date)}:created_date: expected a date, got None",
                 f"leads.csv:{row(bad_date)}:created_date: expected a date, got '31/02/2025'",
                 f"leads.csv:{row(free[3])}:lead_id: duplicate id",
                 f"deals.csv:{row(won[0])}:closed_date: closed before it was created",
                 f"deals.csv:{row(won[1])}:created_date: expected a date, got 'yesterday'",
                 f"deals.csv:{row(won[2])}:lead_id: lead '999999' is not in the leads table",
                 f"deals.csv:{row(won[4])}:deal_id: duplicate id"):
        assert line in warnings, line
    # The deals left are the others: the wins estimated from are the wins written less the four damaged.
    value = next(r for r in report["estimated"] if r["path"] == "opportunities.deal.value")
    assert value["n"] == len(won) - 4


def test_a_deal_whose_lead_was_left_out_says_so(crm, tmp_path):
    from sim.calibrate.mapping import load_mapping
    from sim.calibrate.tables import read_tables

    leads = pd.read_csv(crm / "leads.csv", dtype=str, keep_default_na=False)
    deals = pd.read_csv(crm / "deals.csv", dtype=str, keep_default_na=False)
    k = leads.index[leads["lead_id"] == deals.loc[0, "lead_id"]][0]
    leads.loc[k, "created_date"] = "never"
    leads.to_csv(crm / "leads.csv", index=False)
    read = read_tables(crm, load_mapping(MAPPING))
    assert read.dropped == {"leads: unparsable or missing created_date": 1, "deals: lead left out": 1}
    assert any(w.startswith(f"deals.csv:2:lead_id: lead '{deals.loc[0, 'lead_id']}' was left out of leads.csv")
               for w in read.warnings)
    assert len(read.tables["deals"]) == len(deals) - 1 and len(read.tables["leads"]) == len(leads) - 1


# (d) --train-until, (e) and (f) --out


@pytest.mark.parametrize("value", ["June 2025", "2025-13-01", "NaT", "1"])
def test_train_until_not_a_date_is_one_line_naming_it(crm, tmp_path, value):
    code, out, err = _calibrate(MAPPING, crm, tmp_path / "s.yaml", "--train-until", value)
    assert_one_line_per_option(code, out, err, ["--train-until"])
    assert not (tmp_path / "s.yaml").exists()


def test_every_wrong_option_is_reported_at_once(crm, tmp_path):
    code, out, err = _calibrate(MAPPING, tmp_path / "nosuch", tmp_path / "no" / "s.yaml", "--train-until", "x")
    assert_one_line_per_option(code, out, err, ["--out", "--data", "--train-until"])


def test_an_existing_out_is_kept_byte_for_byte_without_force(crm, tmp_path):
    target = tmp_path / "s.yaml"
    target.write_bytes(b"# my own scenario\r\nname: mine\r\n\x00")
    before = target.stat()
    code, out, err = _calibrate(MAPPING, crm, target)
    assert_one_line_per_option(code, out, err, ["--out"])
    assert "exists; give --force" in err
    assert target.read_bytes() == b"# my own scenario\r\nname: mine\r\n\x00"
    assert target.stat().st_mtime_ns == before.st_mtime_ns


def test_out_may_not_be_an_input(crm, tmp_path):
    code, out, err = _calibrate(MAPPING, crm, crm / "deals.csv", "--force")
    assert_one_line_per_option(code, out, err, ["--out"])
    assert "one of the files read" in err


def test_out_in_a_folder_that_does_not_exist_or_is_a_file(crm, tmp_path):
    for target, words in ((tmp_path / "nosuch" / "s.yaml", "does not exist"),
                          (crm / "deals.csv" / "s.yaml", "is not a folder"), (crm, "is a folder")):
        code, out, err = _calibrate(MAPPING, crm, target)
        assert_one_line_per_option(code, out, err, ["--out"])
        assert words in err, err


@pytest.mark.skipif(not sys.platform.startswith("linux") and os.geteuid() == 0, reason="root writes anywhere")
def test_out_in_a_folder_that_is_not_writable(crm, tmp_path):
    if os.geteuid() == 0:
        folder = "/proc"  # not writable even by root
    else:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
    code, out, err = _calibrate(MAPPING, crm, f"{folder}/s.yaml")
    assert_one_line_per_option(code, out, err, ["--out"])
    assert f"--out: cannot write in {folder}" in err
