"""Mapping files and reading CRM data: messy input is one line per problem naming file:row:column."""

import pandas as pd
import pytest
from paths import ROOT

import sim
from sim.calibrate.errors import CalibrateError
from sim.calibrate.mapping import load_mapping, parse_mapping
from sim.calibrate.tables import read_tables

MAPPINGS = ROOT / "mappings"
SHARED = ROOT.parent / "shared" / "data" / "crm_opportunities"


@pytest.fixture(scope="module")
def export():
    scenario = sim.load_scenario(ROOT / "scenarios" / "teaching_minimal.yaml").replace(start_date="2025-01-01")
    return sim.crm_export(scenario, seed=1, export_day=200)


def test_the_shipped_mappings_are_valid():
    for path in sorted(MAPPINGS.glob("*.yaml")):
        assert load_mapping(path).tables["deals"].file


def test_the_funnel_sim_mapping_reads_an_export_as_it_was(tmp_path, export):
    sim.write_crm(export, tmp_path)
    read = read_tables(tmp_path, load_mapping(MAPPINGS / "funnel_sim.yaml"))
    assert len(read.tables["leads"]) == len(export.leads)
    assert len(read.tables["deals"]) == len(export.deals)
    assert int(read.tables["deals"]["won"].sum()) == int(export.deals["won"].sum())
    assert read.warnings == []


def test_train_until_censors_deals_closed_later(tmp_path, export):
    sim.write_crm(export, tmp_path)
    cut = export.export_date - pd.Timedelta(days=60)
    read = read_tables(tmp_path, load_mapping(MAPPINGS / "funnel_sim.yaml"), train_until=cut)
    deals = read.tables["deals"]
    assert (deals["created_date"] <= cut).all()
    assert (deals["closed_date"].dropna() <= cut).all()
    assert int(deals["won"].sum()) == int(((export.deals["closed_date"] <= cut) & export.deals["won"]).sum())
    assert any("after the training cutoff" in w for w in read.warnings)


def test_messy_rows_are_warned_one_line_each_with_file_row_and_column(tmp_path, export):
    sim.write_crm(export, tmp_path)
    deals = pd.read_csv(tmp_path / "deals.csv", dtype=str)
    deals.loc[0, "created_date"] = "not a date"
    deals.loc[1, "deal_id"] = deals.loc[2, "deal_id"]
    deals.loc[3, "lead_id"] = "999999"
    won = deals.index[(deals["stage"] == "won") & (deals.index > 3)][0]
    deals.loc[won, "closed_date"] = "2020-01-01"
    deals.to_csv(tmp_path / "deals.csv", index=False)
    read = read_tables(tmp_path, load_mapping(MAPPINGS / "funnel_sim.yaml"))
    text = "\n".join(read.warnings)
    assert "deals.csv:2:created_date: expected a date" in text
    assert "deals.csv:4:deal_id: duplicate id" in text
    assert "deals.csv:5:lead_id: lead '999999' is not in the leads table" in text
    assert f"deals.csv:{won + 2}:closed_date: closed before it was created" in text
    assert sum(read.dropped.values()) == 4
    assert len(read.tables["deals"]) == len(deals) - 4


def test_a_missing_column_is_an_error_naming_file_and_column(tmp_path, export):
    sim.write_crm(export, tmp_path)
    pd.read_csv(tmp_path / "deals.csv").drop(columns=["stage"]).to_csv(tmp_path / "deals.csv", index=False)
    with pytest.raises(CalibrateError) as caught:
        read_tables(tmp_path, load_mapping(MAPPINGS / "funnel_sim.yaml"))
    assert caught.value.lines()[0].startswith("deals.csv: stage: missing column")


def test_a_bad_mapping_lists_every_problem():
    with pytest.raises(CalibrateError) as caught:
        parse_mapping({"tables": {"deals": {"file": "d.csv", "columns": {"deal_id": "id", "colour": "c"}},
                                  "orders": {}}}, "m.yaml")
    lines = caught.value.lines()
    assert any("tables.deals.columns.colour: unknown field" in line for line in lines)
    assert any("tables.deals.columns: needs created_date" in line for line in lines)
    assert any("tables.orders: unknown table" in line for line in lines)


def test_the_public_crm_opportunities_data_reads_with_its_prospecting_rows_counted():
    read = read_tables(SHARED, load_mapping(MAPPINGS / "crm_opportunities.yaml"))
    assert read.dropped == {"deals: unparsable or missing created_date": 500}
    assert len(read.tables["deals"]) == 8300
    # No leads table: each deal is its own lead, created with it.
    leads, deals = read.tables["leads"], read.tables["deals"]
    assert read.leads_from_deals and any(w.startswith("no leads table: each deal") for w in read.warnings)
    assert (leads["lead_id"].to_numpy() == deals["deal_id"].to_numpy()).all()
    assert (deals["lead_id"] == deals["deal_id"]).all()
    assert (leads["created_date"].to_numpy() == deals["created_date"].to_numpy()).all()
    assert set(leads["channel"]) == {"opportunities"} and leads["qualified_date"].notna().all()
