"""Japan Customs monthly CSV: yen to USD at the warehouse rate, codes to ISO3, bad rows refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from chokehold.config import load_settings
from chokehold.errors import DataError
from chokehold.pipelines import japan_customs
from chokehold.warehouse import open_warehouse, read_query

MONTHS = japan_customs.MONTHS
HEADER = ",".join(["Exp or Imp", "Year", "HS", "Country", "Unit1", "Unit2",
                   "Quantity1-Year", "Quantity2-Year", "Value-Year",
                   *(f"{k}-{m}" for m in MONTHS for k in ("Quantity1", "Quantity2", "Value"))])


def line(direction: str, hs: str, country: str, jan: tuple, feb: tuple, unit1: str = "KG",
         year_value: float | None = None, year: int = 2023) -> str:
    months = [jan, feb] + [(0, 0, 0)] * 10
    total = year_value if year_value is not None else sum(m[2] for m in months)
    cells = [direction, str(year), f"'{hs}", country, unit1, "",
             str(sum(m[0] for m in months)), "0", str(total)]
    cells += [str(v) for m in months for v in m]
    return ",".join(cells)


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "japan_customs_2023.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


GOOD = (
    line("2", "284690000", "105", (10000, 0, 26089.5), (5000, 0, 13304.63)),  # China
    line("2", "284690000", "110", (2000, 0, 13044.75), (0, 0, 0)),            # Viet Nam
    line("1", "280530000", "304", (100, 0, 1304.475), (0, 0, 0)),              # export to USA
)


def loaded(path: Path, table: str = "trade_flows") -> pl.DataFrame:
    with open_warehouse(path) as con:
        return read_query(con, f"SELECT * FROM {table} WHERE source = 'japan_customs' "
                               "ORDER BY flow, partner_iso3, period")


def test_monthly_lines_in_usd_with_yen_kept(warehouse_copy: Path, tmp_path: Path):
    settings = load_settings(warehouse=warehouse_copy)
    with open_warehouse(warehouse_copy) as con:
        japan_customs.refresh(con, settings, path=[write(tmp_path, *GOOD)])
    flows = loaded(warehouse_copy)
    assert flows.height == 4  # China Jan+Feb, Viet Nam Jan, USA export Jan; empty months dropped
    china_jan = flows.filter((flows["partner_iso3"] == "CHN")
                             & (flows["period"] == date(2023, 1, 1))).row(0, named=True)
    # 26,089.5 thousand yen at 130.4475 JPY/USD (Fed H.10, January 2023) = 200,000 USD
    assert china_jan["value_usd"] == pytest.approx(200_000.0)
    assert (china_jan["qty"], china_jan["qty_unit"]) == (10.0, "t")
    assert (china_jan["hs_code"], china_jan["hs_revision"], china_jan["freq"]) == (
        "284690000", "HS22", "M")
    assert flows.filter(flows["flow"] == "export")["partner_iso3"].to_list() == ["USA"]
    national = loaded(warehouse_copy, "trade_flows_national")
    row = national.filter((national["partner_iso3"] == "CHN")
                          & (national["period"] == date(2023, 2, 1))).row(0, named=True)
    assert row["value_local"] == pytest.approx(13_304_630.0) and row["currency"] == "JPY"
    assert row["fx_rate"] == pytest.approx(133.0463) and row["fx_source"] == "fed_h10"
    assert (row["qty1"], row["unit1"]) == (5000.0, "KG")
    with open_warehouse(warehouse_copy) as con:
        shares = read_query(con, "SELECT partner_iso3, share, months_in_year "
                                 "FROM trade_shares_annual WHERE source = 'japan_customs' "
                                 "AND commodity_id = 'rare_earths' ORDER BY share DESC")
    assert shares["partner_iso3"].to_list() == ["CHN", "VNM"]
    assert shares["share"].to_list() == pytest.approx([300_000 / 400_000, 100_000 / 400_000])
    assert shares["months_in_year"].to_list() == [2, 2]


@pytest.mark.parametrize(("bad", "row", "field", "text"), [
    (line("2", "284690000", "999", (1, 0, 5), (0, 0, 0)), 3, "Country", "not a known"),
    (line("2", "284690000", "105", (-1, 0, 5), (0, 0, 0)), 3, "Quantity1-Jan", "negative"),
    (line("2", "284690000", "105", (10, 0, 5), (0, 0, 0), unit1=""), 3, "Unit1", "without a unit"),
    (line("2", "2846900", "105", (1, 0, 5), (0, 0, 0)), 3, "HS", "nine-digit"),
    (line("2", "284690000", "105", (1, 0, 5), (0, 0, 0), year_value=99), 3, "Value-Year",
     "sum of the months"),
])
def test_bad_rows_name_file_row_field_and_load_nothing(warehouse_copy: Path, tmp_path: Path,
                                                       bad, row, field, text):
    settings = load_settings(warehouse=warehouse_copy)
    path = write(tmp_path, GOOD[0], bad)
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError) as err:
        japan_customs.refresh(con, settings, path=[path])
    assert (err.value.row, err.value.field) == (row, field) and text in str(err.value)
    assert str(path) in str(err.value)
    assert loaded(warehouse_copy).height == 0


def test_missing_column_and_missing_rate(warehouse_copy: Path, tmp_path: Path):
    settings = load_settings(warehouse=warehouse_copy)
    path = tmp_path / "renamed.csv"
    path.write_text(HEADER.replace("Value-Mar", "Val-Mar") + "\n" + GOOD[0] + "\n")
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError, match="Value-Mar"):
        japan_customs.refresh(con, settings, path=[path])
    early = write(tmp_path, line("2", "284690000", "105", (1, 0, 5), (0, 0, 0), year=2010))
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError, match="no USD/JPY rate"):
        japan_customs.refresh(con, settings, path=[early])


def test_code_table_agrees_with_an_independent_copy(shared_data: Path):
    """Every bundled code maps to the same ISO3 as the JapanTrade copy of the official table."""
    import country_converter as coco

    ours = pl.read_csv(Path(japan_customs.__file__).parents[1] / "data" / japan_customs.CODES_FILE,
                       infer_schema=False)
    theirs = pl.read_csv(shared_data / "rare_earth_japan" / "japan_customs_country_codes.csv",
                         infer_schema=False)
    names = dict(zip(theirs["Code"], theirs["Country"]))
    converter = coco.CountryConverter()
    disagree = [(c, i, names.get(c)) for c, i in zip(ours["code"], ours["iso3"])
                if converter.convert(names.get(c, ""), to="ISO3", not_found=None) != i]
    assert disagree == []
    assert ours.height >= 100 and ours["code"].n_unique() == ours.height
