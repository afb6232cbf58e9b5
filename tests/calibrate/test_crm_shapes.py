"""Real export shapes from a known-truth run: the same tables after mapping give the same numbers.

One run of a tiny scenario (`sim.crm_export`) is written three ways: as `funnel export-crm`
writes it (read with mappings/funnel_sim.yaml), as a HubSpot-like export (contacts as an
.xlsx with Excel date cells, deals.csv with HubSpot's column names, record ids as numbers,
"closedwon"/"closedlost", "%Y-%m-%d %H:%M" dates; mappings/hubspot_like.yaml) and as a
Salesforce opportunity report (mappings/salesforce_opportunities.yaml); and as Salesforce's
leads and opportunities linked on the lead's side, HubSpot deals listing several contacts, and
tables on sheets of one workbook. The times are cut to what each CRM writes (minutes, days) in
the original too, so that the tables are equal.
"""

import pandas as pd
import pytest
from cli_run import in_process, strict_json
from paths import ROOT

import sim
from sim.calibrate.backtest import read_actual
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


def _day_dates(frame, columns):
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].dt.floor("D")
    return frame


def test_salesforce_leads_naming_their_converted_opportunity_link_as_the_deals_naming_their_lead(truth, tmp_path):
    """The link on the lead's side (Converted Opportunity ID) gives each deal the lead a deal-side link gives it."""
    leads = _day_dates(truth["leads"], ["created_date", "qualified_date"])
    deals = _day_dates(truth["deals"], ["created_date", "closed_date"])
    lead_code = {k: f"00QHs00000{k:05d}EAA" for k in leads["lead_id"]}
    deal_code = {k: f"006Hs00000{k:05d}AAA" for k in deals["deal_id"]}
    converted = dict(zip(deals["lead_id"], deals["deal_id"].map(deal_code), strict=True))
    us = "%m/%d/%Y"
    folder = tmp_path / "sf"
    folder.mkdir()
    pd.DataFrame({"Lead ID": leads["lead_id"].map(lead_code), "Created Date": leads["created_date"].dt.strftime(us),
                  "Lead Source": leads["channel"], "Lead Status": leads["status"],
                  "Converted Date": leads["qualified_date"].dt.strftime(us),
                  "Converted Opportunity ID": leads["lead_id"].map(converted)}).to_csv(folder / "leads.csv",
                                                                                          index=False)
    pd.DataFrame({"Opportunity ID": deals["deal_id"].map(deal_code),
                  "Created Date": deals["created_date"].dt.strftime(us),
                  "Stage": deals["stage"].map({"won": "Closed Won", "lost": "Closed Lost"}).fillna("Proposal"),
                  "Close Date": deals["closed_date"].dt.strftime(us), "Amount": deals["value"],
                  "Opportunity Owner": "Grace"}).to_csv(folder / "opportunities.csv", index=False)
    plain = _funnel_folder({"leads": leads, "deals": deals}, tmp_path / "plain")
    funnel = yaml_of(MAPPINGS / "funnel_sim.yaml")["tables"]
    funnel["leads"]["columns"] = {k: v for k, v in funnel["leads"]["columns"].items()
                                  if k in ("lead_id", "created_date", "channel", "status", "qualified_date")}
    plain_mapping = parse_mapping({"name": "plain", "tables": {k: funnel[k] for k in ("leads", "deals")}})
    sf_mapping = load_mapping(MAPPINGS / "salesforce_leads_and_opportunities.yaml")
    a, b = read_tables(plain, plain_mapping), read_tables(folder, sf_mapping)
    assert b.dropped == {} and b.warnings == []
    _same_tables(a, b, ids=False)
    # Every deal is linked to the lead it was converted from, as the deal-side link says.
    read = a.tables["deals"]  # ids read as text
    lead_of = dict(zip(read["deal_id"].astype(int).map(deal_code), read["lead_id"].astype(int).map(lead_code),
                       strict=True))
    assert dict(zip(b.tables["deals"]["deal_id"], b.tables["deals"]["lead_id"], strict=True)) == lead_of
    found_a, found_b = sim.calibrate(plain, plain_mapping), sim.calibrate(folder, sf_mapping)
    pd.testing.assert_frame_equal(found_a.estimates, found_b.estimates)
    actual = read_actual(folder, mapping=sf_mapping)  # the back-test reads the same link
    assert dict(zip(actual.deals["deal_id"], actual.deals["lead_id"], strict=True)) == lead_of


def test_a_lead_side_link_names_what_it_cannot_link(truth, tmp_path):
    """Two leads naming one deal, and a lead naming a deal not exported: said, nothing dropped, the first lead kept."""
    leads, deals = truth["leads"].copy(), truth["deals"]
    leads["deal_id"] = leads["lead_id"].map(dict(zip(deals["lead_id"], deals["deal_id"], strict=True)))
    own = leads.index[leads["lead_id"] == deals["lead_id"].iloc[0]][0]
    spare = leads.index[leads["deal_id"].isna() & (leads.index > own)]  # rows after the deal's own lead
    leads.loc[spare[0], "deal_id"] = deals["deal_id"].iloc[0]  # a later lead names the first deal too
    leads.loc[spare[1], "deal_id"] = 999_999  # a deal not in the deals table
    folder = _funnel_folder({"leads": leads, "deals": deals}, tmp_path / "plain")
    funnel = yaml_of(MAPPINGS / "funnel_sim.yaml")["tables"]
    funnel["leads"]["columns"]["deal_id"] = "deal_id"
    del funnel["deals"]["columns"]["lead_id"]
    read = read_tables(folder, parse_mapping({"tables": {k: funnel[k] for k in ("leads", "deals")}}))
    assert read.dropped == {}
    first = deals["deal_id"].iloc[0]
    assert read.tables["deals"].set_index("deal_id").loc[str(first), "lead_id"] == str(deals["lead_id"].iloc[0])
    twice = [w for w in read.warnings if f"deal '{first}' is also the converted deal" in w]
    assert len(twice) == 1 and twice[0].startswith(f"leads.csv:{spare[0] + 2}:deal_id:")
    assert any("1 leads name a converted deal (deal_id) that is not in deals.csv" in w for w in read.warnings)
    assert len(read.tables["leads"]) == len(leads)


def test_deals_listing_several_contacts_link_to_the_first_known_lead(truth, tmp_path):
    """HubSpot's Associated Contact IDs may hold several ids; an unknown one before the lead is passed over."""
    hub = _hubspot_folder(truth, tmp_path / "hub")
    deals = pd.read_csv(hub / "deals.csv", dtype=str)
    contact = deals["Associated Contact ID"]
    other = str(CONTACT_ID + 10**6)  # a contact that is not in the contacts table (a colleague, say)
    deals["Associated Contact ID"] = other + "; " + contact
    known_two = [0, 3]  # two deals also list a second known contact, after their own
    for k in known_two:
        deals.loc[k, "Associated Contact ID"] += ";" + contact[k + 1]
    deals.to_csv(hub / "deals.csv", index=False)
    mapping = yaml_of(MAPPINGS / "hubspot_like.yaml")
    mapping["tables"]["leads"]["file"] = "contacts.xlsx"
    mapping["tables"]["deals"]["lead_id_separator"] = ";"
    b = read_tables(hub, parse_mapping(mapping))
    a = read_tables(_hubspot_folder(truth, tmp_path / "one"), _hubspot_mapping())
    assert b.dropped == {}
    _same_tables(a, b, ids=False)
    assert b.tables["deals"]["lead_id"].tolist() == a.tables["deals"]["lead_id"].tolist()  # each deal's own contact
    lines = [w for w in b.warnings if "known leads" in w]
    assert [w.split(":")[1] for w in lines] == [str(k + 2) for k in known_two]
    assert all("linked to the first listed" in w for w in lines) and len(b.warnings) == len(known_two)


def test_tables_on_sheets_of_one_workbook_read_as_the_files(truth, tmp_path):
    hub = _hubspot_folder(truth, tmp_path / "hub")
    book = tmp_path / "book"
    book.mkdir()
    with pd.ExcelWriter(book / "crm.xlsx") as writer:
        pd.DataFrame({"note": ["an export's cover sheet"]}).to_excel(writer, sheet_name="About", index=False)
        pd.read_excel(hub / "contacts.xlsx", dtype=object).to_excel(writer, sheet_name="Contacts", index=False)
        pd.read_csv(hub / "deals.csv", dtype=str).to_excel(writer, sheet_name="Deals", index=False)
    mapping = yaml_of(MAPPINGS / "hubspot_like.yaml")
    mapping["tables"]["leads"].update(file="crm.xlsx", sheet="Contacts")
    mapping["tables"]["deals"].update(file="crm.xlsx", sheet=2)
    b = read_tables(book, parse_mapping(mapping))
    a = read_tables(hub, _hubspot_mapping())
    assert b.dropped == {}
    _same_tables(a, b, ids=False)
    assert b.tables["deals"]["lead_id"].tolist() == a.tables["deals"]["lead_id"].tolist()


def test_sheet_and_link_mistakes_are_one_line_each(truth, tmp_path):
    hub = _hubspot_folder(truth, tmp_path / "hub")
    mapping = yaml_of(MAPPINGS / "hubspot_like.yaml")
    mapping["tables"]["leads"].update(file="contacts.xlsx", sheet="Leads")
    mapping["tables"]["deals"]["sheet"] = "Deals"
    (tmp_path / "m.yaml").write_text(__import__("yaml").safe_dump(mapping), encoding="utf-8")
    code, out, err = in_process("calibrate", "--mapping", tmp_path / "m.yaml", "--data", hub, "--out",
                                tmp_path / "s.yaml")
    assert code == 2 and out == ""
    lines = sorted(err.strip().splitlines(), key=lambda line: "deals.csv" in line)
    assert len(lines) == 2, err
    assert "contacts.xlsx: " in lines[0] and "no sheet 'Leads'" in lines[0] and "'Sheet1'" in lines[0]
    assert "deals.csv: " in lines[1] and "not an Excel workbook" in lines[1] and "delete the sheet line" in lines[1]
    assert not (tmp_path / "s.yaml").exists()
    bad = {"tables": {"leads": {"file": "l.csv", "columns": {"lead_id": "a", "created_date": "b", "deal_id": "c"},
                                "sheet": -1, "lead_id_separator": ";"},
                      "deals": {"file": "d.csv", "columns": {"deal_id": "a", "created_date": "b", "stage": "c",
                                                             "lead_id": "d"}, "won": ["w"], "lead_id_separator": ""}}}
    with pytest.raises(sim.CalibrateError) as caught:
        parse_mapping(bad, "m.yaml")
    text = "\n".join(f"{w}: {m}" for w, m in caught.value.problems)
    assert "m.yaml: tables.leads.sheet: expected a sheet's name or its number from 0, got -1" in text
    assert "m.yaml: tables.leads.lead_id_separator: only for the deals table" in text
    assert "m.yaml: tables.deals.lead_id_separator: expected the text between ids" in text
    assert len(caught.value.problems) == 3  # the one-side link is checked once the tables themselves are right
    del bad["tables"]["leads"]["sheet"], bad["tables"]["leads"]["lead_id_separator"]
    bad["tables"]["deals"]["lead_id_separator"] = ";"
    with pytest.raises(sim.CalibrateError) as caught:
        parse_mapping(bad, "m.yaml")
    assert [w for w, _ in caught.value.problems] == ["m.yaml: tables.leads.columns.deal_id"]
    assert "link leads and deals on one side only" in caught.value.problems[0][1]
