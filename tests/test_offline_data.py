"""The embedded default data, loaded through the real connectors, checked against their files."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from chokehold.analysis.shares import hhi, partner_shares, supplier_share
from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.errors import DataError
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.pipelines.refresh import run_sources
from chokehold.warehouse import open_warehouse, read_query

REE_LINES = ("280530", "284610", "284690")


def _sqlite(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_baci_rows_match_the_shipped_file(built_warehouse: Path) -> None:
    baci = geopolrisk_file("baci.db")
    expected_rows = _sqlite(baci, "SELECT count(*) FROM baci_trade")[0][0]
    # Japan (392) from China (156), HS 280530, 2010, straight from the file: v in thousand USD.
    v, q = _sqlite(baci, "SELECT v, q FROM baci_trade WHERE t='2010' AND i='156' AND j='392' "
                         "AND k=280530")[0]
    with open_warehouse(built_warehouse, read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM trade_flows WHERE source='baci'").fetchall()[0][0]
        got = con.execute("SELECT value_usd, qty, qty_unit FROM trade_flows WHERE "
                          "reporter_iso3='JPN' AND partner_iso3='CHN' AND hs_code='280530' "
                          "AND period='2010-01-01'").fetchall()[0]
        world = con.execute("SELECT count(*) FROM trade_flows WHERE partner_iso3 IN "
                            "('WLD', 'S19')").fetchall()[0][0]
    assert rows == expected_rows
    assert got == (pytest.approx(float(v) * 1000), pytest.approx(float(q)), "t")
    assert world == 0  # no world rows; BACI's 490 "Other Asia, nes" is stored as TWN


def test_china_share_of_japan_rare_earth_imports(built_warehouse: Path) -> None:
    """Every year 1995-2024, equal to the share computed directly from the BACI file."""
    baci = geopolrisk_file("baci.db")
    lines = ",".join(REE_LINES)
    direct = dict(_sqlite(baci, f"""
        SELECT t, sum(CASE WHEN i='156' THEN CAST(v AS REAL) ELSE 0 END) / sum(CAST(v AS REAL))
        FROM baci_trade WHERE j='392' AND k IN ({lines}) GROUP BY t"""))
    with open_warehouse(built_warehouse, read_only=True) as con:
        flows = read_query(con, f"""SELECT * FROM trade_flows WHERE reporter_iso3='JPN'
                                    AND hs_code IN ({",".join(repr(x) for x in REE_LINES)})""")
    shares = supplier_share(partner_shares(flows), "CHN")
    by_year = {p.year: s for p, s in shares.select("period", "supplier_share").iter_rows()}
    assert sorted(by_year) == list(range(1995, 2025))
    for year, share in by_year.items():
        assert share == pytest.approx(direct[str(year)], rel=1e-9)
    # Published: China supplied "over 50%" of Japan's rare-earth imports (seed 000, 2023-2025
    # about 55-65%); BACI's reconciled values put 2022 and 2023 above one half.
    assert by_year[2022] > 0.5 and by_year[2023] > 0.5


def test_shares_sum_to_one_and_hhi_is_bounded(built_warehouse: Path) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        flows = read_query(con, "SELECT * FROM trade_flows WHERE hs_code = '261710'")
    shares = partner_shares(flows)
    sums = shares.group_by("reporter_iso3", "period").agg(pl.col("share").sum())
    assert sums.filter(pl.col("share").is_not_null())["share"].to_numpy() == pytest.approx(1.0)
    index = hhi(shares)["hhi"].drop_nulls()
    assert (index > 0).all() and (index <= 1 + 1e-12).all()


def test_hand_computed_shares_and_hhi() -> None:
    flows = pl.DataFrame({
        "reporter_iso3": ["JPN"] * 4, "period": [2024] * 4,
        "partner_iso3": ["CHN", "CHN", "VNM", "USA"],
        "value_usd": [30.0, 30.0, 30.0, 10.0], "qty": [1.0, 2.0, 3.0, 4.0],
        "qty_unit": ["t", "t", "t", "t"],
    })
    shares = partner_shares(flows)
    assert dict(zip(shares["partner_iso3"], shares["share"])) == {
        "CHN": pytest.approx(0.6), "VNM": pytest.approx(0.3), "USA": pytest.approx(0.1)}
    assert hhi(shares)["hhi"][0] == pytest.approx(0.36 + 0.09 + 0.01)
    by_qty = partner_shares(flows, basis="qty")
    assert dict(zip(by_qty["partner_iso3"], by_qty["share"]))["CHN"] == pytest.approx(0.3)
    # A quantity in another unit is not added to tonnes; a partner with none has no quantity.
    mixed = partner_shares(flows.with_columns(pl.Series("qty_unit", ["t", "kg", "t", "NO"])),
                           basis="qty")
    assert dict(zip(mixed["partner_iso3"], mixed["qty"])) == {"CHN": 1.0, "VNM": 3.0,
                                                               "USA": None}
    assert dict(zip(mixed["partner_iso3"], mixed["share"]))["CHN"] == pytest.approx(0.25)


def test_production_matches_world_mining_data(built_warehouse: Path) -> None:
    wmd = geopolrisk_file("world_mining_data.db")
    expected = _sqlite(wmd, 'SELECT "2024" FROM "Rare Earths (REO)" WHERE Country_ISO = \'CHN\'')
    with open_warehouse(built_warehouse, read_only=True) as con:
        got = con.execute("SELECT qty, unit, stage FROM production WHERE country_iso3='CHN' "
                          "AND commodity='rare_earths' AND year=2024").fetchall()
        totals = con.execute("SELECT count(*) FROM production WHERE country_iso3 NOT IN "
                             "(SELECT iso3 FROM countries)").fetchall()[0][0]
    assert got == [(pytest.approx(expected[0][0]), "t REO", "mine")]
    assert totals == 0


def test_bundled_prices_and_fx_keep_source_unit_and_vintage(built_warehouse: Path) -> None:
    bundled = PROJECT_ROOT / "data" / "bundled"
    with (bundled / "antimony_prices.csv").open(encoding="utf-8") as fh:
        seed = [r for r in csv.DictReader(fh) if r["date"] == "2025-05-07"]
    with open_warehouse(built_warehouse, read_only=True) as con:
        prices = read_query(con, "SELECT * FROM prices WHERE date = '2025-05-07' ORDER BY market")
        fx = con.execute("SELECT rate FROM fx_rates WHERE date='2025-05-01' AND quote='CNY'"
                         ).fetchall()
        licences = con.execute("SELECT count(*) FROM prices p JOIN sources s "
                               "ON s.source_id = p.source").fetchall()[0][0]
    assert {(r["market"], float(r["low"]), r["currency"]) for r in seed} == set(
        zip(prices["market"], prices["value"], prices["currency"]))
    assert prices["vat_included"].to_list() == [True, False]  # china_domestic, rotterdam
    assert prices["vintage"].is_not_null().all()
    assert licences == read_query_count(built_warehouse, "prices")
    # The seed's implied rate, 420,000 / 58,000 = 7.24, is within 0.5% of May 2025's H.10 mean.
    assert fx[0][0] == pytest.approx(420_000 / 58_000, rel=0.005)


def read_query_count(path: Path, table: str) -> int:
    with open_warehouse(path, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_second_refresh_changes_nothing(warehouse_copy: Path) -> None:
    settings = load_settings(warehouse=warehouse_copy)
    with open_warehouse(warehouse_copy) as con:
        results = run_sources(con, settings, [s for s in OFFLINE_SOURCES if s != "baci"],
                              show_progress=False)
    assert all(r.rows_inserted == r.rows_updated == r.rows_deleted == 0 for r in results)
    assert all(r.rows_unchanged == r.rows_in for r in results)


def test_malformed_bundled_file_names_row_and_field_and_loads_nothing(
        warehouse_copy: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data_dir,
                    ignore=shutil.ignore_patterns("*.duckdb*", "raw", "vintages"))
    path = data_dir / "bundled" / "antimony_prices.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",51500,", ",51.5k,")
    lines.append(lines[-1].replace("2025-06-27", "2031-02-30"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings(warehouse=warehouse_copy, data_dir=data_dir)
    before = read_query_count(warehouse_copy, "prices")
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError) as caught:
        run_sources(con, settings, ["prices"], show_progress=False)
    assert (caught.value.row, caught.value.field) == (4, "low")
    assert "antimony_prices.csv" in str(caught.value)
    assert read_query_count(warehouse_copy, "prices") == before
