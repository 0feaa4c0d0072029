"""Vendor price files as they ship: each test writes its own messy file and reads it with a mapping."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from chokehold.errors import DataError
from chokehold.pipelines.price_mapping import (
    PriceMapping,
    header_names,
    load_mapping,
    parse_date,
    parse_price,
    read_price_file,
)

SOURCE = {"id": "test_vendor", "publisher": "Test Vendor", "title": "Test prices",
          "licence": "test", "url": "https://example.invalid"}
TODAY = date(2026, 1, 31)


def mapping(**fields) -> PriceMapping:
    base = {"id": "test_vendor", "description": "test", "source": SOURCE, "files": "*"}
    return PriceMapping(**(base | fields))


def domestic(**fields) -> dict:
    return {"id": "sb_cn", "commodity": "antimony", "market": "china_domestic",
            "currency": "CNY", "unit": "t", "vat_included": True} | fields


def by_series(frame) -> dict:
    return {(r["series_id"], r["date"]): r for r in frame.to_dicts()}


def test_csv_utf8_bom_chinese_two_header_rows_ranges_and_footnotes(tmp_path: Path) -> None:
    path = tmp_path / "smm.csv"
    path.write_text(
        "上海有色网 锑价格表,,,\n"
        "日期,锑锭 1#,,氧化锑\n"
        ",低,高,价格\n"
        "2025年5月7日,\"230,000\",\"240,000\",\"180,000-185,000\"\n"
        ",,,\n"
        "2025年5月8日,\"231,000\",\"241,000\",-\n"
        "注：价格含增值税,,,\n"
        "数据来源：SMM,,,\n", encoding="utf-8-sig")
    m = mapping(skip_rows=1, header_rows=2, date_column="日期", series=[
        domestic(low="锑锭 1# 低", high="锑锭 1# 高"),
        domestic(id="sb2o3_cn", value="氧化锑 价格")])
    rows = by_series(read_price_file(path, m, today=TODAY))
    ingot = rows[("sb_cn", date(2025, 5, 7))]
    assert (ingot["low"], ingot["high"], ingot["value"]) == (230000, 240000, 235000)
    assert ingot["original_value"] == "230,000-240,000"
    assert ingot["_source_row"] == 4
    oxide = rows[("sb2o3_cn", date(2025, 5, 7))]
    assert (oxide["low"], oxide["high"], oxide["value"]) == (180000, 185000, 182500)
    assert rows[("sb_cn", date(2025, 5, 8))]["value"] == 236000
    assert ("sb2o3_cn", date(2025, 5, 8)) not in rows  # "-" is no quote, not zero
    assert len(rows) == 3


def test_gb18030_csv_with_slash_dates(tmp_path: Path) -> None:
    path = tmp_path / "asian_metal.csv"
    path.write_bytes("日期,锑锭价格（元/吨）\n2025/5/7,235000\n2025/5/16,232500\n"
                     .encode("gb18030"))
    m = mapping(date_column="日期", series=[domestic(value="锑锭价格（元/吨）")])
    frame = read_price_file(path, m, today=TODAY)
    assert frame["date"].to_list() == [date(2025, 5, 7), date(2025, 5, 16)]
    assert frame["value"].to_list() == [235000, 232500]


def test_xlsx_sheet_with_date_cells_text_dates_and_two_series(tmp_path: Path) -> None:
    path = tmp_path / "fastmarkets.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Prices")
    sheet.append(["Antimony prices, USD/t"])
    sheet.append(["Date", "Rotterdam regulus", "FOB China trioxide"])
    sheet.append([datetime(2025, 5, 7), "57,000-59,000", 40100.5])
    sheet.append(["16-May-25", 59000, None])
    sheet.append([None, None, None])
    sheet.append(["Source: Fastmarkets. Prices are assessed weekly.", None, None])
    book.save(path)
    overseas = {"commodity": "antimony", "currency": "USD", "unit": "t", "vat_included": False}
    m = mapping(sheet="Prices", skip_rows=1, date_column="Date", series=[
        overseas | {"id": "sb_rdam", "market": "rotterdam", "value": "Rotterdam regulus"},
        overseas | {"id": "sb2o3_fob", "market": "fob_china", "value": "FOB China trioxide"}])
    rows = by_series(read_price_file(path, m, today=TODAY))
    assert rows[("sb_rdam", date(2025, 5, 7))]["value"] == 58000
    assert rows[("sb_rdam", date(2025, 5, 16))]["value"] == 59000
    assert rows[("sb2o3_fob", date(2025, 5, 7))]["value"] == 40100.5
    assert len(rows) == 3


def test_long_layout_with_per_row_price_unit(tmp_path: Path) -> None:
    path = tmp_path / "komis.csv"
    path.write_text("date,metal,unit,value\n"
                    "2025-05-07,Nd,USD/kg,70.5\n2025-05-07,Bi,USD/mt,\"9,450\"\n"
                    "2025-05-08,Nd,RMB/吨,520000\n", encoding="utf-8")
    m = mapping(date_column="date", series=[
        {"id": "nd_fob", "commodity": "rare_earths", "market": "fob_china", "value": "value",
         "price_unit_column": "unit", "vat_included": False, "where": {"metal": "Nd"}}])
    frame = read_price_file(path, m, today=TODAY)
    assert frame.select("date", "value", "currency", "unit").rows() == [
        (date(2025, 5, 7), 70.5, "USD", "kg"), (date(2025, 5, 8), 520000.0, "CNY", "t")]


def test_the_bundled_antimony_mapping_keeps_low_high_and_mid() -> None:
    root = Path(__file__).resolve().parent.parent / "data"
    m = load_mapping(root / "prices" / "bundled_antimony.yaml")
    rows = by_series(read_price_file(root / "bundled" / "antimony_prices.csv", m))
    rdam = rows[("sb_rotterdam_regulus", date(2025, 6, 24))]
    assert (rdam["low"], rdam["high"], rdam["value"]) == (59500, 61000, 60250)
    cn = rows[("sb_china_domestic_ingot", date(2025, 5, 7))]
    assert (cn["value"], cn["currency"], cn["vat_included"]) == (235000, "CNY", True)
    assert len(rows) == 12


@pytest.mark.parametrize("text, expected", [
    ("2025/5/7", date(2025, 5, 7)), ("2025-05-07", date(2025, 5, 7)),
    ("7-May-25", date(2025, 5, 7)), ("2025年5月7日", date(2025, 5, 7)),
    (datetime(2025, 5, 7, 0, 0), date(2025, 5, 7)), ("07/05/2025", None), ("注", None)])
def test_dates_as_vendors_write_them(text, expected) -> None:
    assert parse_date(text, mapping(date_column="d", series=[domestic(value="v")]).date_formats) \
        == expected


@pytest.mark.parametrize("cell, expected", [
    ("230000-240000", (230000, 240000)), ("230,000 – 240,000", (230000, 240000)),
    ("58000", (58000, 58000)), ("1,234.5", (1234.5, 1234.5)), (41000, (41000, 41000)),
    ("230000~240000", (230000, 240000)), ("abc", None), ("-5", None)])
def test_prices_and_ranges(cell, expected) -> None:
    assert parse_price(cell, ",", ".") == expected


def test_merged_header_cells_fill_to_the_right() -> None:
    assert header_names([["日期", "锑锭 1#", None, "氧化锑"], [None, "低", "高", "价格"]]) == [
        "日期", "锑锭 1# 低", "锑锭 1# 高", "氧化锑 价格"]


# ---- bad input: the error names file, sheet, row and column -----------------------------------

def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text("date,price\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, row, column, words", [
    ("2025-05-07,abc\n", 2, "price", "does not parse"),
    ("2025-05-07,58000\n1900-01-01,58000\n", 3, "date", "plausible range"),
    ("2025-05-07,58000\n2031-01-01,58000\n", 3, "date", "plausible range"),
    ("2025-05-07,58000\nMay 8th,58000\n", 3, "date", "does not parse"),
    ("2025-05-07,58000\n2025-05-07,59000\n", 3, "price", "two different prices"),
    ("2025-05-07,60000-50000\n", 2, "price", "below low"),
])
def test_bad_cells_name_file_row_and_column(tmp_path: Path, body, row, column, words) -> None:
    m = mapping(date_column="date", series=[domestic(value="price")])
    with pytest.raises(DataError) as err:
        read_price_file(_csv(tmp_path, body), m, today=TODAY)
    assert (err.value.row, err.value.field) == (row, column)
    assert words in str(err.value) and "bad.csv" in str(err.value)


def test_identical_repeats_collapse(tmp_path: Path) -> None:
    m = mapping(date_column="date", series=[domestic(value="price")])
    frame = read_price_file(_csv(tmp_path, "2025-05-07,58000\n2025-05-07,58000\n"), m,
                            today=TODAY)
    assert frame.height == 1


def test_missing_column_names_the_column_and_the_columns_there_are(tmp_path: Path) -> None:
    m = mapping(date_column="date", series=[domestic(value="close")])
    with pytest.raises(DataError, match=r"column 'close'.*\['date', 'price'\]") as err:
        read_price_file(_csv(tmp_path, "2025-05-07,58000\n"), m, today=TODAY)
    assert err.value.field == "close"


def test_unknown_unit_in_a_row_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("date,price,unit\n2025-05-07,58000,USD/t\n2025-05-08,58000,USD/oz\n")
    m = mapping(date_column="date", series=[domestic(value="price", currency=None, unit=None,
                                                     price_unit_column="unit")])
    with pytest.raises(DataError, match="unknown unit 'oz'") as err:
        read_price_file(path, m, today=TODAY)
    assert (err.value.row, err.value.field) == (3, "unit")


def test_xlsx_error_names_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "锑"
    book.active.append(["date", "price"])
    book.active.append(["2025-05-07", "n.q."])
    book.save(path)
    m = mapping(date_column="date", series=[domestic(value="price")])
    with pytest.raises(DataError, match="sheet 锑, row 2, field price"):
        read_price_file(path, m, today=TODAY)


@pytest.mark.parametrize("change, field, words", [
    ({"currency": "XYZ"}, "series.0", "unknown currency 'XYZ'"),
    ({"unit": "oz"}, "series.0", "unknown unit 'oz'"),
    ({"colour": "red"}, "series.0.colour", "Extra inputs"),
])
def test_bad_mapping_names_file_and_field(tmp_path: Path, change, field, words) -> None:
    import yaml
    path = tmp_path / "vendor.yaml"
    body = {"id": "vendor", "description": "d", "source": SOURCE, "files": "*.csv",
            "date_column": "date", "series": [domestic(value="price") | change]}
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_mapping(path)
    assert err.value.field == field and words in str(err.value) and "vendor.yaml" in str(err.value)


# ---- the real files in ../shared/data/prices -------------------------------------------------------

def test_real_news_points_long_file_with_mixed_units_and_a_month_only_date(shared_data: Path
                                                                            ) -> None:
    path = shared_data / "prices" / "antimony_price_points_from_news_pages.csv"
    cn = {"id": "sb_cn_spot", "commodity": "antimony", "market": "china_domestic",
          "low": "low", "high": "high", "price_unit_column": "unit", "vat_included": True,
          "where": {"market": "China", "grade": "antimony ingot"}}
    rdam = {"id": "sb_rdam_du", "commodity": "antimony", "market": "rotterdam", "low": "low",
            "high": "high", "price_unit_column": "unit", "vat_included": False,
            "basis_column": "price_basis", "where": {"price_basis": "duty unpaid Rotterdam"}}
    with pytest.raises(DataError, match="'2025-09' does not parse") as err:
        read_price_file(path, mapping(date_column="date", series=[cn, rdam]))
    assert (err.value.row, err.value.field) == (25, "date")
    monthly = mapping(date_column="date", date_formats=["%Y-%m-%d", "%Y-%m"], series=[cn, rdam])
    rows = read_price_file(path, monthly).select("series_id", "date", "low", "high", "currency")
    assert rows.filter(pl.col("series_id") == "sb_cn_spot").rows() == [
        ("sb_cn_spot", date(2024, 9, 18), 25250.0, 25250.0, "USD"),   # USD as Reuters gave it
        ("sb_cn_spot", date(2024, 11, 19), 141000.0, 141000.0, "CNY")]
    assert rows.filter(pl.col("series_id") == "sb_rdam_du").rows() == [
        ("sb_rdam_du", date(2025, 6, 17), 60000.0, 61000.0, "USD"),
        ("sb_rdam_du", date(2025, 6, 24), 59500.0, 61000.0, "USD"),
        ("sb_rdam_du", date(2025, 9, 1), 58000.0, 60000.0, "USD")]


def test_real_komis_fob_china_daily_usd_per_kg(shared_data: Path) -> None:
    path = shared_data / "prices" / "komis_minor_metals_fob_china_daily_2024_2026.csv"
    fob = {"commodity": "rare_earths", "market": "fob_china", "value": "value",
           "price_unit_column": "unit", "vat_included": False, "grade_column": "grade"}
    m = mapping(date_column="date", series=[
        fob | {"id": "nd_metal_fob", "where": {"metal": "네오디뮴 (Nd)"}},
        fob | {"id": "ce_metal_fob", "where": {"metal": "세륨 (Ce)"}}])
    frame = read_price_file(path, m)
    counts = dict(frame.group_by("series_id").len().rows())
    assert counts == {"nd_metal_fob": 520, "ce_metal_fob": 519}
    first = frame.filter(pl.col("series_id") == "nd_metal_fob").sort("date").row(0, named=True)
    assert (first["date"], first["value"], first["currency"], first["unit"]) == (
        date(2024, 1, 2), 63.51, "USD", "kg")
