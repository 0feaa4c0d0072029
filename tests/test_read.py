"""The read layer (analysis.read) and the summaries it feeds (analysis.summaries).

Production is read from one source per commodity, never summed across sources; the CLI and
the report functions (render.data) give the same figures because both call these.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from chokehold.analysis import read, summaries
from chokehold.config import load_settings
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.render import data
from chokehold.warehouse import load_frame, open_warehouse
from tests.helpers import run_cli

END_2024 = date(2024, 12, 31)


def _add_usgs(path: Path, rows: list[tuple[str, str, int, float, str, str]]) -> None:
    """Production rows of USGS beside World Mining Data, as `refresh --source usgs` adds them."""
    frame = pl.DataFrame(rows, schema=["country_iso3", "commodity", "year", "qty", "unit",
                                       "stage"], orient="row").with_columns(
        pl.col("year").cast(pl.Int32), pl.lit("usgs").alias("source"),
        pl.lit("MCS2025").alias("vintage"))
    with open_warehouse(path) as con:
        load_frame(con, "production", frame, source_id="usgs", vintage="MCS2025",
                   origin="test")


@pytest.fixture
def two_sources(warehouse_copy: Path) -> Path:
    """The offline warehouse with USGS antimony (China 2024, 60,000 t Sb) and rare earths
    (China 2024, 270,000 t REO) loaded beside World Mining Data."""
    _add_usgs(warehouse_copy, [("CHN", "antimony", 2024, 60_000.0, "t Sb", "mine"),
                               ("CHN", "rare_earths", 2024, 270_000.0, "t REO", "mine")])
    return warehouse_copy


@pytest.fixture
def reports_on(two_sources: Path):
    data.configure(load_settings(warehouse=two_sources))
    yield two_sources
    data.configure(load_settings())


def test_report_production_is_one_source_not_the_sum(reports_on: Path) -> None:
    antimony = data.production_share("antimony", "CHN", END_2024).filter(pl.col("year") == 2024)
    assert antimony["country_qty"].to_list() == [46_223.0]  # WMD alone (not 106,223 "t")
    assert antimony["unit"].to_list() == ["t"]
    ree = data.production_share("rare_earths", "CHN", END_2024).filter(pl.col("year") == 2024)
    with duckdb.connect(str(reports_on), read_only=True) as con:
        wmd_world = con.execute("SELECT sum(qty) FROM production WHERE commodity = "
                                "'rare_earths' AND year = 2024 AND source = "
                                "'world_mining_data'").fetchone()[0]
    assert ree["world_qty"].to_list() == [wmd_world]  # not doubled by USGS's t REO
    rel = data.reliance("CHN", "antimony", END_2024).filter(pl.col("year") == 2024)
    assert rel["production"].to_list() == [46_223.0]


def test_another_source_on_request(two_sources: Path) -> None:
    with open_warehouse(two_sources, read_only=True) as con:
        usgs = read.production(con, "antimony", "usgs")
        assert usgs.select("country_iso3", "year", "qty", "unit").rows() == [
            ("CHN", 2024, 60_000.0, "t Sb")]
        assert read.production_choice(con, "antimony").source == "world_mining_data"
        with pytest.raises(UnknownValueError, match="production source .*'nosuch'.*usgs"):
            read.production(con, "antimony", "nosuch")
        world = read.world_production(con)
    assert set(world["unit"].unique()) == {"t", "t REO", "t W"}  # no t Sb: USGS not mixed in
    assert world.filter(pl.col("commodity") == "antimony", pl.col("country_iso3") == "CHN",
                        pl.col("year") == 2024)["qty"].to_list() == [46_223.0]


def test_no_preference_and_several_sources_is_refused(two_sources: Path) -> None:
    with open_warehouse(two_sources) as con:
        con.execute("UPDATE commodities SET production_source = NULL")
        with pytest.raises(ChokeholdError, match="several sources .*usgs.*world_mining_data"):
            read.production(con, "antimony")
        assert read.production(con, "tungsten")["source"].unique().to_list() == [
            "world_mining_data"]  # one source: no choice to make


def test_cli_production_reads_the_same_source(capsys, two_sources: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(two_sources), "trade", "production", "-c",
                     "antimony", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {r["year"]: r for r in json.loads(result.stdout)}
    assert rows[2024]["country_qty"] == 46_223.0 and rows[2024]["source"] == "world_mining_data"
    usgs = run_cli(capsys, "--warehouse", str(two_sources), "trade", "production", "-c",
                   "antimony", "--source", "usgs", "--format", "json")
    assert json.loads(usgs.stdout)[0]["country_qty"] == 60_000.0


def test_cli_and_report_functions_agree(capsys, built_warehouse: Path) -> None:
    data.configure(load_settings(warehouse=built_warehouse))
    try:
        summary = data.dependence("JPN", "rare_earths", END_2024).filter(pl.col("year") == 2024)
    finally:
        data.configure(load_settings())
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "trade", "shares", "-i", "JPN",
                     "-c", "rare_earths", "--format", "json")
    rows = [r for r in json.loads(result.stdout) if r["period"] == "2024-01-01"]
    china = next(r for r in rows if r["partner_iso3"] == "CHN")
    assert summary["supplier_share"][0] == pytest.approx(china["share"], rel=1e-12)
    assert summary["hhi"][0] == pytest.approx(rows[0]["hhi"], rel=1e-12)


def _shares(rows: list[tuple[int, str, float]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["year", "partner_iso3", "value_usd"], orient="row")
    total = pl.col("value_usd").sum().over("period")
    return frame.select(pl.lit("baci").alias("source"), pl.lit("JPN").alias("reporter_iso3"),
                        pl.date("year", 1, 1).alias("period"), "partner_iso3", "value_usd",
                        pl.lit(None, pl.Float64).alias("qty")).with_columns(
        (pl.col("value_usd") / total).alias("share")).with_columns(
        (pl.col("share") ** 2).sum().over("period").alias("hhi"))


def test_concentration_summary_values() -> None:
    shares = _shares([(2023, "CHN", 60.0), (2023, "VNM", 40.0), (2024, "CHN", 30.0),
                      (2024, "USA", 70.0)])
    out = summaries.concentration_summary(shares, "CHN")
    assert out.select("year", "supplier_share", "supplier_value_usd", "total_value_usd",
                      "top_partner").rows() == [(2023, 0.6, 60.0, 100.0, "CHN"),
                                                (2024, 0.3, 30.0, 100.0, "USA")]
    assert out["hhi"].to_list() == pytest.approx([0.52, 0.58])
    assert summaries.concentration_summary(shares.clear()).is_empty()


def test_partner_shares_over_time_groups_the_rest() -> None:
    shares = _shares([(2023, "CHN", 50.0), (2023, "VNM", 30.0), (2023, "USA", 20.0),
                      (2024, "CHN", 60.0), (2024, "VNM", 40.0)])
    out = summaries.partner_shares_over_time(shares, {"CHN": "China"}, top=1)
    assert out.rows() == [(2023, "China", 0.5), (2024, "China", 0.6), (2023, "other", 0.5),
                          (2024, "other", 0.4)]


def test_reliance_balance_and_production_shares() -> None:
    production = pl.DataFrame({"country_iso3": ["JPN", "CHN", "CHN"], "year": [2023, 2023, 2024],
                               "qty": [10.0, 90.0, 100.0], "unit": ["t"] * 3,
                               "stage": ["mine"] * 3})
    trade = pl.DataFrame({"period": [date(2023, 1, 1), date(2024, 1, 1)], "qty": [50.0, 40.0],
                          "qty_unit": ["t", "t"]})
    exports = pl.DataFrame({"period": [date(2023, 1, 1)], "qty": [20.0], "qty_unit": ["t"]})
    rel = summaries.reliance_balance(production, trade, exports, "JPN")
    assert rel.select("year", "production", "production_recorded", "imports", "exports",
                      "apparent_consumption").rows() == [(2023, 10.0, True, 50.0, 20.0, 40.0),
                                                         (2024, 0.0, False, 40.0, 0.0, 40.0)]
    assert rel["net_import_reliance"].to_list() == pytest.approx([0.75, 1.0])
    shares = summaries.production_shares(production, "CHN")
    assert shares.select("year", "country_qty", "world_qty", "country_share").rows() == [
        (2023, 90.0, 100.0, 0.9), (2024, 100.0, 100.0, 1.0)]


def test_main_importers_by_value() -> None:
    flows = pl.DataFrame({"reporter_iso3": ["USA", "JPN", "KOR", "JPN"],
                          "value_usd": [5.0, 3.0, 4.0, 3.0]})
    assert summaries.main_importers(flows, 2) == ["JPN", "USA"]
    assert summaries.main_importers(flows, 2, among=["KOR", "USA"]) == ["USA", "KOR"]


def test_status_and_digest_read_one_latest_period_query(capsys, built_warehouse: Path) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        latest = read.latest_periods(con)
        assert read.latest_trade_year(con) == latest.filter(
            pl.col("dataset") == "trade_flows", pl.col("series") == "A")["latest"].max().year
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "status")
    shown = result.stdout.split("Latest period per series")[1].split("Vintages")[0]
    for row in latest.iter_rows(named=True):
        assert str(row["latest"]) in shown and row["series"][:8] in shown


def test_scenario_production_is_the_read_layers_preferred_source(two_sources: Path) -> None:
    """The scenarios' production (store.load_production, as `scenario run`, the reports and
    ck.Warehouse.scenario read it) is read.world_production: World Mining Data's China
    antimony, never WMD + USGS; and a run's consumption note cites WMD's figure."""
    import chokehold as ck
    from chokehold.analysis.scenarios import store
    from chokehold.commodities import load_commodities

    goods = load_commodities(load_settings().commodities_file)
    _add_usgs(two_sources, [("USA", "rare_earths", 2024, 90_000.0, "t REO", "mine")])
    china_2024 = (pl.col("country_iso3") == "CHN") & (pl.col("commodity") == "antimony") \
        & (pl.col("year") == 2024)
    with open_warehouse(two_sources, read_only=True) as con:
        preferred = read.production(con, "antimony").filter(china_2024)
        assert preferred["source"].to_list() == ["world_mining_data"]
        us_ree = read.production(con, "rare_earths").filter(
            pl.col("country_iso3") == "USA", pl.col("year") == 2024)["qty"].sum()
        world = read.world_production(con).sort(pl.all())
        for goods_given in (goods, None):
            scenario = store.load_production(con, goods_given)
            assert scenario.sort(pl.all()).equals(world)
            assert scenario.filter(china_2024)["qty"].to_list() == [46_223.0]  # not 106,223
    with ck.open(two_sources) as wh:
        run = wh.scenario("cn-2025-18-medium-heavy-rare-earths", "USA", "rare_earths",
                          draws=200)
    notes = json.dumps(ck.describe(run).extra["parameters"])
    assert us_ree == 45_493.0  # WMD alone; with USGS's row beside it the sum is 135,493
    assert f"production {us_ree:,.0f} t REO in 2024" in notes, notes


def test_scenario_revision_follows_the_preference_else_the_newest_reaching_the_latest_year(
) -> None:
    """HS17 and HS92 both reach 2024: the default is HS17 (newest), ``prefer`` switches it, an
    unloaded preference falls back, and a revision ending earlier is never the default."""
    con = duckdb.connect()
    con.execute("CREATE TABLE baci_batches (hs_revision VARCHAR, year INTEGER)")
    con.execute("INSERT INTO baci_batches VALUES ('HS92', 2023), ('HS92', 2024), ('HS17', 2024),"
                " ('HS22', 2022)")
    assert read.trade_revision(con) == "HS17"
    assert read.trade_revision(con, "HS92") == "HS92"
    assert read.trade_revision(con, "HS12") == "HS17"
    con.execute("DELETE FROM baci_batches WHERE hs_revision = 'HS17'")
    assert read.trade_revision(con) == "HS92"
