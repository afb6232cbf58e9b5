"""Real export shapes from a known-truth run: the same tables after mapping give the same numbers.

One run of a tiny scenario (`sim.crm_export`) is written three ways: as `funnel export-crm`
writes it (read with mappings/funnel_sim.yaml), as a HubSpot-like export (contacts as an
.xlsx with Excel date cells, deals.csv with HubSpot's column names, record ids as numbers,
"closedwon"/"closedlost", "%Y-%m-%d %H:%M" dates; mappings/hubspot_like.yaml) and as a
Salesforce opportunity report (mappings/salesforce_opportunities.yaml). The times are cut
to what each CRM writes (minutes, days) in the original too, so that the tables are equal.
"""

import pandas as pd
import pytest
from cli_run import in_process, strict_json
from paths import ROOT

import sim
from sim.calibrate.mapping import load_mapping, parse_mapping
from sim.calibrate.tables import read_tables

MAPPINGS = ROOT / "mappings"
DATES = {"leads": ["created_date", "mql_date", "contacted_date", "qualified_date", "disqualified_date"],
         "deals": ["created_date", "closed_date"], "stage_history": ["entered_date", "left_date"],
         "spend": ["month_start"], "headcount": ["month_start"]}
CONTACT_ID, DEAL_ID = 7_000_000_000, 9_000_000_000  # HubSpot record ids are large numbers
LIFECYCLE = {"new": "lead", "mql": "marketingqualifiedlead", "working": "marketingqualifiedlead",
             "qualified": "salesqualifiedlead", "converted": "opportunity", "disqualified": "other"}


@pytest.fixture(scope="module")
def truth():
    """The export's tables with their times cut to the minute (what a CRM's export writes)."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "teaching_minimal.yaml").replace(start_date="2025-01-01",
                                                                                         horizon_months=5)
    export = sim.crm_export(scenario, seed=3, export_day=140)
    tables = {}
    for name, frame in export.tables().items():
        frame = frame.copy()
        for column in DATES[name]:
            frame[column] = pd.to_datetime(frame[column]).dt.floor("min")
        tables[name] = frame
    assert (tables["deals"]["stage"] == "lost").any() and (tables["deals"]["stage"] == "won").any()
    assert tables["deals"]["closed_date"].isna().any()  # some open at the export: censoring to handle
    return tables


def _funnel_folder(tables, folder):
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _hubspot_folder(tables, folder, tz_offset_hours=None):
    """contacts.xlsx (Excel date cells, integer ids) and deals.csv (text dates, contact ids written as 7e9+k.0)."""
    folder.mkdir()
    leads, deals = tables["leads"], tables["deals"]
    contacts = pd.DataFrame({
        "Record ID": leads["lead_id"].astype("int64") + CONTACT_ID,
        "First Name": "Ada", "Create Date": leads["created_date"], "Original Source": leads["channel"],
        "Became a Marketing Qualified Lead Date": leads["mql_date"],
        "Became a Sales Qualified Lead Date": leads["qualified_date"],
        "Disqualified Date": leads["disqualified_date"], "Lifecycle Stage": leads["status"].map(LIFECYCLE)})
    contacts.to_excel(folder / "contacts.xlsx", index=False)
    stage = deals["stage"].map({"won": "closedwon", "lost": "closedlost"}).fillna("contractsent")

    def text(column):
        if tz_offset_hours is None:
            return column.dt.strftime("%Y-%m-%d %H:%M")
        local = (column + pd.Timedelta(hours=tz_offset_hours)).dt.strftime("%Y-%m-%dT%H:%M:%S")
        return local.where(column.isna(), local + f"+{tz_offset_hours:02d}:00")

    contact = (deals["lead_id"].astype("int64") + CONTACT_ID).astype(float)  # a float column, as with a blank
    pd.DataFrame({"Record ID": deals["deal_id"].astype("int64") + DEAL_ID, "Deal Name": "Renewal",
                  "Associated Contact ID": contact.map(lambda v: f"{v:.1f}"),
                  "Create Date": text(deals["created_date"]),
                  "Deal Stage": stage, "Close Date": text(deals["closed_date"]), "Amount": deals["value"],
                  "Deal owner": [f"AE {k % 2 + 1}" for k in range(len(deals))]}) \
        .to_csv(folder / "deals.csv", index=False)
    return folder


def _hubspot_mapping(date_format=None):
    mapping = yaml_of(MAPPINGS / "hubspot_like.yaml")
    mapping["tables"]["leads"]["file"] = "contacts.xlsx"  # HubSpot exports either; this exercises the Excel path
    if date_format:
        mapping["tables"]["deals"]["date_format"] = date_format
    return parse_mapping(mapping, "hubspot_like.yaml")


def yaml_of(path):
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _same_tables(a, b, ids=True, skip=()):
    """The normalised leads and deals of two reads are equal (ids aside: HubSpot's are its own numbers)."""
    for name in ("leads", "deals"):
        left, right = a.tables[name].reset_index(drop=True), b.tables[name].reset_index(drop=True)
        shared = [c for c in left.columns if c in right.columns and c not in ("lead_id", "deal_id", "status",
                                                                               "stage", "owner", *skip)]
        pd.testing.assert_frame_equal(left[shared], right[shared], check_dtype=False)
    if ids:
        offset = a.tables["deals"]["lead_id"].astype("int64").to_numpy() + CONTACT_ID
        assert (b.tables["deals"]["lead_id"].astype("int64").to_numpy() == offset).all()


def test_a_hubspot_like_export_calibrates_exactly_as_the_funnel_export_it_was_made_from(truth, tmp_path):
    plain = _funnel_folder(truth, tmp_path / "plain")
    hub = _hubspot_folder(truth, tmp_path / "hub")
    mapping = _hubspot_mapping()
    a = read_tables(plain, load_mapping(MAPPINGS / "funnel_sim.yaml"))
    b = read_tables(hub, mapping)
    assert b.warnings == [] and b.dropped == {}
    _same_tables(a, b)
    # Same tables after mapping, same numbers: every estimate, interval, sample size, window and method. The
    # HubSpot-like export has no stage history, so the funnel export is read without its own here.
    # Nor contact dates (HubSpot has none by default), from which the work hours and the decay are estimated.
    tables = {k: v for k, v in yaml_of(MAPPINGS / "funnel_sim.yaml")["tables"].items() if k != "stage_history"}
    tables["leads"]["columns"].pop("contacted_date")
    found_a = sim.calibrate(plain, parse_mapping({"name": "funnel_sim", "tables": tables}))
    found_b = sim.calibrate(hub, mapping)
    pd.testing.assert_frame_equal(found_a.estimates, found_b.estimates)
    assert found_a.report["not_identified"] == found_b.report["not_identified"]
    assert "qualification.p_qualify" in set(found_b.estimates["path"])  # the lifecycle dates are mapped
    # What a HubSpot export does not hold (spend, headcount) is the only difference in the scenario.
    assert found_a.scenario.opportunities == found_b.scenario.opportunities
    assert found_a.scenario.qualification == found_b.scenario.qualification


def test_dates_with_a_time_zone_are_read_in_utc(truth, tmp_path):
    hub = _hubspot_folder(truth, tmp_path / "hub", tz_offset_hours=2)  # 2025-01-02T19:03:00+02:00 is 17:03 UTC
    a = read_tables(_hubspot_folder(truth, tmp_path / "plain"), _hubspot_mapping())
    b = read_tables(hub, _hubspot_mapping(date_format="ISO8601"))
    assert b.dropped == {}
    _same_tables(a, b, ids=False)


def test_a_salesforce_opportunity_report_reads_as_the_same_deals(truth, tmp_path):
    """Deals only, US dates, "Closed Won" / "Closed Lost", and an expected close date on the open ones (unused)."""
    deals = truth["deals"].copy()
    for column in ("created_date", "closed_date"):
        deals[column] = deals[column].dt.floor("D")
    folder = tmp_path / "sf"
    folder.mkdir()
    expected_close = deals["created_date"] + pd.Timedelta(days=90)
    close = deals["closed_date"].where(deals["closed_date"].notna(), expected_close)
    pd.DataFrame({"Opportunity ID": [f"006Hs00000{k:05d}AAA" for k in deals["deal_id"]],
                  "Opportunity Name": "Acme", "Created Date": deals["created_date"].dt.strftime("%m/%d/%Y"),
                  "Stage": deals["stage"].map({"won": "Closed Won", "lost": "Closed Lost"}).fillna("Negotiation"),
                  "Close Date": close.dt.strftime("%m/%d/%Y"), "Amount": deals["value"],
                  "Opportunity Owner": "Grace", "Lead Source": "Web"}).to_csv(folder / "opportunities.csv", index=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    deals.to_csv(plain / "deals.csv", index=False)
    only_deals = parse_mapping({"tables": {"deals": yaml_of(MAPPINGS / "funnel_sim.yaml")["tables"]["deals"]}})
    a = read_tables(plain, only_deals)
    b = read_tables(folder, load_mapping(MAPPINGS / "salesforce_opportunities.yaml"))
    # The open deals' expected close dates (months ahead) do not move the cutoff: the last real date does.
    assert b.cutoff == a.cutoff == max(deals["created_date"].max(), deals["closed_date"].max())
    assert b.dropped == {} and b.leads_from_deals
    _same_tables(a, b, ids=False, skip=("channel",))
    assert set(b.tables["leads"]["channel"]) == {"Web"}  # the Lead Source, where the plain export has none


def test_leads_and_won_deals_only_report_the_win_chance_as_not_identified(truth, tmp_path):
    """No lost deal at all: a deal not won cannot be told from one still open; the report must not claim a number."""
    tables = dict(truth)
    tables["deals"] = truth["deals"][truth["deals"]["stage"] == "won"]
    folder = _funnel_folder(tables, tmp_path / "won")
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "funnel_sim.yaml", "--data", folder,
                                "--out", tmp_path / "s.yaml", "--json")
    assert code == 0, err
    report = strict_json(out)
    assert "opportunities.stages.0.advance" not in {r["path"] for r in report["estimated"]}
    why = next(r["why"] for r in report["not_identified"] if r["path"] == "opportunities.stages.0.advance")
    assert "no deal is lost" in why
    assert any("no deal is lost" in w and "not identified" in w for w in report["warnings"])
    text = (tmp_path / "s.yaml").read_text(encoding="utf-8")
    assert "NOT IDENTIFIED, no deal is lost" in text  # the comment above the flat prior's draws says so
    advance = sim.load_scenario(tmp_path / "s.yaml").opportunities.stages[0].advance.low
    assert 0.4 < advance < 0.6  # the flat prior's mean, not the 1.0 that every deal exported being won would give
