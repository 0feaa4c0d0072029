"""BACI bulk files (CSV or zip) through the one BACI connector; bad files load nothing."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from chokehold.errors import DataError
from chokehold.pipelines import baci
from chokehold.warehouse import LoadResult, lake, open_warehouse, read_query

COUNTRIES = """country_code,country_name,country_iso2,country_iso3
156,China,CN,CHN
392,Japan,JP,JPN
490,Other Asia nes,,S19
704,Viet Nam,VN,VNM
842,USA,US,USA
"""
PRODUCTS = """code,description
280530,Rare-earth metals
284690,Other rare-earth compounds
850511,Permanent magnets
"""
Y2022 = """t,i,j,k,v,q
2022,156,392,280530,1000.5,20.0
2022,704,392,280530,200,           NA
2022,490,392,284690,50,1.5
2022,156,842,850511,3000,100
"""
Y2023 = """t,i,j,k,v,q
2023,156,392,280530,1200,25
2023,704,392,280530,300,5
"""


def write_release(folder: Path, *, y2023: str = Y2023, products: str = PRODUCTS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "country_codes_V202501.csv").write_text(COUNTRIES)
    (folder / "product_codes_HS17_V202501.csv").write_text(products)
    paths = [folder / "BACI_HS17_Y2022_V202501.csv", folder / "BACI_HS17_Y2023_V202501.csv"]
    paths[0].write_text(Y2022)
    paths[1].write_text(y2023)
    return paths


def flows_result(results: list[LoadResult]) -> LoadResult:
    return next(r for r in results if r.table == "baci_flows")


def baci_hs17(path: Path):
    with open_warehouse(path) as con:
        return read_query(con, "SELECT * FROM trade_flows WHERE hs_revision = 'HS17' "
                               "ORDER BY period, reporter_iso3, partner_iso3, hs_code")


def test_csv_years_load_with_units_codes_and_taiwan(warehouse_copy: Path, tmp_path: Path):
    paths = write_release(tmp_path / "rel")
    with open_warehouse(warehouse_copy) as con:
        results = baci.refresh(con, None, path=paths)
    flows = baci_hs17(warehouse_copy)
    assert flows_result(results).rows_inserted == 6 and flows.height == 6
    first = flows.row(0, named=True)
    assert (first["reporter_iso3"], first["partner_iso3"], first["period"]) == (
        "JPN", "CHN", date(2022, 1, 1))
    assert first["value_usd"] == pytest.approx(1_000_500.0) and first["qty"] == 20.0
    vnm = flows.filter((flows["partner_iso3"] == "VNM") & (flows["period"] == date(2022, 1, 1)))
    assert vnm["qty"].to_list() == [None] and vnm["qty_unit"].to_list() == [None]
    assert "TWN" in flows["partner_iso3"].to_list()
    assert set(flows["vintage"]) == {"V202501-HS17"}
    # the geopolrisk HS92 rows are untouched
    with open_warehouse(warehouse_copy) as con:
        assert con.execute("SELECT count(*) FROM trade_flows WHERE hs_revision = 'HS92'"
                           ).fetchall()[0][0] == 1_264_888


def test_zip_release_loads_the_same_and_is_idempotent(warehouse_copy: Path, tmp_path: Path):
    write_release(tmp_path / "rel")
    archive = tmp_path / "BACI_HS17_V202501.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in (tmp_path / "rel").iterdir():
            zf.write(p, p.name)
    with open_warehouse(warehouse_copy) as con:
        first = flows_result(baci.refresh(con, None, path=[archive]))
        again = flows_result(baci.refresh(con, None, path=[archive]))
    assert first.rows_inserted == 6
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 6)


def test_reload_replaces_a_year_whole(warehouse_copy: Path, tmp_path: Path):
    paths = write_release(tmp_path / "rel")
    with open_warehouse(warehouse_copy) as con:
        baci.refresh(con, None, path=paths)
        (tmp_path / "rel" / paths[1].name).write_text("t,i,j,k,v,q\n2023,156,392,280530,1300,26\n")
        result = flows_result(baci.refresh(con, None, path=[paths[1]]))
    assert (result.rows_updated, result.rows_deleted) == (1, 1)
    assert baci_hs17(warehouse_copy).height == 5  # 2022 untouched, 2023 now one row


def test_a_new_release_revises_values_and_moves_the_vintage(warehouse_copy: Path,
                                                           tmp_path: Path):
    paths = write_release(tmp_path / "rel")
    newer = tmp_path / "new" / "BACI_HS17_Y2023_V202601.csv"
    newer.parent.mkdir()
    newer.write_text(Y2023.replace("1200,25", "1250,25"))
    (newer.parent / "country_codes_V202601.csv").write_text(COUNTRIES)
    with open_warehouse(warehouse_copy) as con:
        baci.refresh(con, None, path=paths)
        result = flows_result(baci.refresh(con, None, path=[newer]))
        revised = con.execute("SELECT old_value, new_value FROM revisions "
                              "WHERE table_name LIKE 'baci_%'").fetchall()
    flows = baci_hs17(warehouse_copy)
    y2023 = flows.filter(pl.col("period") == date(2023, 1, 1))
    assert (result.rows_updated, result.rows_unchanged) == (1, 1)
    assert set(y2023["vintage"]) == {"V202601-HS17"}
    assert sorted(y2023["value_usd"]) == [300_000.0, 1_250_000.0]
    assert set(flows.filter(pl.col("period") == date(2022, 1, 1))["vintage"]) == {
        "V202501-HS17"}
    assert sorted(revised) == [("1200000.0", "1250000.0"), ("V202501-HS17", "V202601-HS17")]


@pytest.mark.parametrize(("y2023", "row", "field", "text"), [
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,704,392,280530,-3,5\n", 3, "v",
     "negative value"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,999,392,280530,3,5\n", 3, "i",
     "unknown BACI country code"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,156,392,999999,3,5\n", 3, "k",
     "not in BACI's HS17 product codes"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,abc\n", 2, "q", "quantity is not a number"),
    ("t,i,j,k,value,q\n2023,156,392,280530,1200,25\n", 1, "v", "expected columns"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,156,392,280530,7,1\n", 2, "k",
     "appear twice"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,704,392,280530,7,1\n"
     "2023,156,392,280530,9,2\n", 2, "k", "appear twice"),  # not in CEPII's order, apart
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2022,704,392,280530,7,1\n", 3, "t",
     "year differs from the file name"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,392,392,280530,7,1\n", 3, "i",
     "exporter and importer are the same country"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,156,392,28O530,7,1\n", 3, "k",
     "HS code is not six digits"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,156,392,2805301,7,1\n", 3, "k",
     "HS code is not six digits"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,70000,392,280530,7,1\n", 3, "i",
     "unknown BACI country code"),
    ("t,i,j,k,v,q\n2023,156,392,280530,1200,25\n2023,156,JPN,280530,7,1\n", 3, "j",
     "unknown BACI country code"),
])
def test_bad_rows_name_file_line_field_and_load_nothing(warehouse_copy: Path, tmp_path: Path,
                                                        y2023, row, field, text):
    paths = write_release(tmp_path / "rel", y2023=y2023)
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError) as err:
        baci.refresh(con, None, path=paths)
    assert text in str(err.value) and err.value.row == row and err.value.field == field
    assert "BACI_HS17_Y2023_V202501.csv" in str(err.value)
    assert baci_hs17(warehouse_copy).height == 0
    with open_warehouse(warehouse_copy) as con:
        written = list((lake.root(con) / "baci_flows").rglob("*HS17*/**/*.parquet"))
    assert written == []  # nothing half-written: no partition, no temporary file


def test_partition_digest_is_the_files_and_the_one_duckdbs_typed_read_gave(
        warehouse_copy: Path, tmp_path: Path):
    """The row digest (how a reload finds a year unchanged) is computed on the rows in memory:
    it is the digest of the file written, and the one of DuckDB's typed read of the CSV (how
    partitions were written before the pyarrow read), so older partitions still match."""
    paths = write_release(tmp_path / "rel")
    with open_warehouse(warehouse_copy) as con:
        baci.refresh(con, None, path=paths)
        root = lake.root(con)
        entries = {e.keys["year"]: e for e in lake.catalog(con, "baci_flows")
                   if e.keys["hs_revision"] == "HS17"}
        for year, path in zip((2022, 2023), paths):
            entry = entries[year]
            typed = (f"SELECT {baci.LAKE_COLUMNS} FROM (SELECT j AS importer_code, "
                     "i AS exporter_code, k AS hs6, v * 1000.0 AS value_usd, q AS qty "
                     f"FROM read_csv('{path}', header = true, columns = {{'t': 'INTEGER', "
                     "'i': 'USMALLINT', 'j': 'USMALLINT', 'k': 'UINTEGER', 'v': 'DOUBLE', "
                     f"'q': 'DOUBLE'}}, nullstr = {list(baci.QTY_NULLS)}))")
            assert lake.row_digest(con, typed) == (entry.rows, entry.digest)
            assert lake.row_digest(con, lake.read_sql(root, entry.path)) == (
                entry.rows, entry.digest)
            assert entry.path.endswith(f"/{entry.sha256}.parquet")
            assert hashlib.sha256((root / entry.path).read_bytes()).hexdigest() == entry.sha256
    assert entries[2022].rows == 4 and entries[2023].rows == 2


def test_lines_written_without_their_leading_zero_read_back_as_six_digits(
        warehouse_copy: Path, tmp_path: Path):
    paths = write_release(tmp_path / "rel", products=PRODUCTS + "010121,Horses\n",
                          y2023="t,i,j,k,v,q\n2023,156,392,10121,4,1\n2023,704,392,010121,2,1\n")
    with open_warehouse(warehouse_copy) as con:
        baci.refresh(con, None, path=paths)
    got = baci_hs17(warehouse_copy).filter(pl.col("period") == date(2023, 1, 1))
    assert got.select("partner_iso3", "hs_code", "value_usd").rows() == [
        ("CHN", "010121", 4000.0), ("VNM", "010121", 2000.0)]


def test_quantities_read_alike_typed_or_as_text(warehouse_copy: Path, tmp_path: Path):
    """The fast read takes q as a number (NA as in QTY_NULLS); NA padded otherwise, which it
    refuses, sends the load to the text read: the same rows either way."""
    padded = " " * 20 + "NA"
    assert padded not in baci.QTY_NULLS
    for name, na in (("typed", "           NA"), ("text", padded)):
        paths = write_release(tmp_path / name, y2023=(
            f"t,i,j,k,v,q\n2023,156,392,280530,1200,{na}\n2023,704,392,280530,300, 5.5\n"
            "2023,156,842,850511,7,\n2023,490,392,284690,2,NA\n"))
        with open_warehouse(warehouse_copy) as con:
            baci.refresh(con, None, path=paths)
        got = baci_hs17(warehouse_copy).filter(pl.col("period") == date(2023, 1, 1))
        assert got.select("reporter_iso3", "partner_iso3", "value_usd", "qty").rows() == [
            ("JPN", "CHN", 1200000.0, None), ("JPN", "TWN", 2000.0, None),
            ("JPN", "VNM", 300000.0, 5.5), ("USA", "CHN", 7000.0, None)], name


def test_truncated_csv_and_zip_are_refused(warehouse_copy: Path, tmp_path: Path):
    paths = write_release(tmp_path / "rel", y2023=Y2023[:-7])  # cut inside the last row
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError, match="truncated"):
        baci.refresh(con, None, path=paths)
    archive = tmp_path / "BACI_HS17_V202501.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BACI_HS17_Y2022_V202501.csv", Y2022 * 50)
    archive.write_bytes(archive.read_bytes()[:-40])
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError, match="zip"):
        baci.refresh(con, None, path=[archive])
    assert baci_hs17(warehouse_copy).height == 0


def test_short_row_names_the_line(warehouse_copy: Path, tmp_path: Path):
    paths = write_release(tmp_path / "rel", y2023="t,i,j,k,v,q\n2023,156,392,280530,1200,25\n"
                          "2023,156,392\n")
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError) as err:
        baci.refresh(con, None, path=paths)
    assert err.value.row == 3 and "BACI" in str(err.value)


def test_shared_country_codes_file_maps_every_code(shared_data: Path, warehouse_copy: Path,
                                                   tmp_path: Path):
    """BACI's real V202601 country file: every code in it maps, Taiwan included."""
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "country_codes_V202601.csv").write_text(
        (shared_data / "trade_baci_comtrade" / "baci_country_codes_V202601.csv").read_text())
    (folder / "BACI_HS22_Y2024_V202601.csv").write_text(
        "t,i,j,k,v,q\n2024,490,392,280530,10,1\n2024,156,251,280530,20,2\n")
    with open_warehouse(warehouse_copy) as con:
        baci.refresh(con, None, path=[folder / "BACI_HS22_Y2024_V202601.csv"])
        got = read_query(con, "SELECT reporter_iso3, partner_iso3 FROM trade_flows "
                              "WHERE hs_revision = 'HS22' ORDER BY 1")
    assert got.rows() == [("FRA", "CHN"), ("JPN", "TWN")]
