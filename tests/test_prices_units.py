"""Users' own price files: scaled and Chinese units (data/units.yaml), revisions that remove,
and truncated files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.errors import DataError, UnknownValueError
from chokehold.pipelines.price_units import (
    UNITS_FILE,
    PriceUnit,
    parse_price_unit,
    usd_per_tonne,
    vocabulary,
)
from chokehold.pipelines.prices import refresh
from chokehold.warehouse import open_warehouse, read_query

SMM_SOURCE = {"id": "smm_test", "publisher": "Shanghai Metals Market (SMM)",
              "title": "PrNd oxide price history (export)", "licence": "subscription",
              "url": "https://www.metal.com"}
SMM = {
    "id": "smm_prnd", "description": "SMM price-history export, PrNd oxide",
    "source": SMM_SOURCE, "files": "smm/*.csv", "skip_rows": 1, "date_column": "日期",
    "series": [{"id": "prnd_oxide_cn", "commodity": "rare_earths", "market": "china_domestic",
                "low": "最低价", "high": "最高价", "price_unit_column": "单位",
                "vat_included": True, "frequency": "daily", "grade": "Pr6O11+Nd2O3>=99%"}],
}
# The shape of an SMM (上海有色网) price-history export: a title line, then 日期 / 品名 / 规格 /
# 最低价 / 最高价 / 均价 / 涨跌 / 单位, prices in 万元/吨, a source footnote; GB18030.
SMM_FILE = (
    "上海有色网 SMM 氧化镨钕 历史价格,,,,,,,\n"
    "日期,品名,规格,最低价,最高价,均价,涨跌,单位\n"
    "2025-05-06,氧化镨钕,Pr6O11+Nd2O3≥99%,42.20,42.50,42.35,-0.10,万元/吨\n"
    "2025-05-07,氧化镨钕,Pr6O11+Nd2O3≥99%,42.35,42.65,42.50,+0.15,万元/吨\n"
    "2025-05-08,氧化镨钕,Pr6O11+Nd2O3≥99%,42.40,42.80,42.60,+0.10,万元/吨\n"
    "2025-05-09,氧化镨钕,Pr6O11+Nd2O3≥99%,42.40,42.80,42.60,0.00,万元/吨\n"
    "数据来源：上海有色网（SMM）,,,,,,,\n"
)


@pytest.mark.parametrize("text, expected", [
    ("10k CNY/t", PriceUnit("CNY", "t", 10_000)),
    ("万元/吨", PriceUnit("CNY", "t", 10_000)),
    ("元/吨", PriceUnit("CNY", "t", 1)),
    ("元/公斤", PriceUnit("CNY", "kg", 1)),
    ("CNY/kg", PriceUnit("CNY", "kg", 1)),
    ("USD/lb", PriceUnit("USD", "lb", 1)),
    ("美元/磅", PriceUnit("USD", "lb", 1)),
    ("USD/mtu", PriceUnit("USD", "mtu", 1)),
])
def test_unit_vocabulary_with_scale(text: str, expected: PriceUnit) -> None:
    assert parse_price_unit(text) == expected


def test_unknown_and_scaled_conversions() -> None:
    with pytest.raises(UnknownValueError, match="unknown currency '万日'"):
        parse_price_unit("万日/吨")
    assert usd_per_tonne(42.5, "万元", "吨", 7.2) == pytest.approx(425_000 / 7.2)
    assert usd_per_tonne(300, "USD", "mtu", None) == 30_000


def test_unit_factors_are_data_and_the_view_joins_the_table(warehouse_copy: Path) -> None:
    raw = yaml.safe_load(UNITS_FILE.read_text(encoding="utf-8"))
    assert raw["units"]["lb"]["units_per_tonne"] == pytest.approx(1000 / 0.45359237, rel=1e-15)
    assert set(vocabulary().units) == {"t", "kg", "lb", "mtu"}
    with open_warehouse(warehouse_copy) as con:
        table = dict(con.execute("SELECT unit, units_per_tonne FROM units").fetchall())
        assert table == {u: b["units_per_tonne"] for u, b in raw["units"].items()}
        before = con.execute("SELECT usd_per_t FROM prices_usd WHERE currency = 'USD' "
                             "AND unit = 't' ORDER BY series_id, date LIMIT 1").fetchall()[0][0]
        con.execute("UPDATE units SET units_per_tonne = 2 WHERE unit = 't'")
        after = con.execute("SELECT usd_per_t FROM prices_usd WHERE currency = 'USD' "
                            "AND unit = 't' ORDER BY series_id, date LIMIT 1").fetchall()[0][0]
    assert after == pytest.approx(2 * before)


@pytest.fixture
def project(tmp_path: Path):
    """Project data in tmp with the SMM mapping; the user's files in tmp/raw/prices/smm."""
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data,
                    ignore=shutil.ignore_patterns("*.duckdb*", "raw", "vintages"))
    (data / "prices" / "smm_prnd.yaml").write_text(yaml.safe_dump(SMM, allow_unicode=True),
                                                   encoding="utf-8")
    files = tmp_path / "raw" / "prices" / "smm"
    files.mkdir(parents=True)
    (files / "prnd_oxide.csv").write_bytes(SMM_FILE.encode("gb18030"))
    return load_settings(warehouse=tmp_path / "w.duckdb", data_dir=data,
                         raw_dir=tmp_path / "raw"), files


def test_chinese_header_file_in_wan_yuan_per_tonne_loads_at_full_scale(project) -> None:
    settings, _ = project
    with open_warehouse(settings.warehouse, create=True) as con:
        refresh(con, settings)
        row = read_query(con, "SELECT p.value, p.currency, p.unit, o.low, o.high, "
                              "o.original_value, o.published_unit, o.scale, o.source_row "
                              "FROM prices p JOIN price_observations o USING (series_id, date) "
                              "WHERE series_id = 'prnd_oxide_cn' AND date = '2025-05-07'"
                         ).row(0, named=True)
    assert row["value"] == pytest.approx(425_000)  # 42.35-42.65 万元/吨, not 42.5 CNY/t
    assert (row["currency"], row["unit"]) == ("CNY", "t")
    assert (row["low"], row["high"]) == (pytest.approx(423_500), pytest.approx(426_500))
    assert row["original_value"] == "42.35-42.65"
    assert (row["published_unit"], row["scale"], row["source_row"]) == ("万元/吨", 10_000, 4)


def test_a_scale_key_in_the_mapping(project) -> None:
    settings, files = project
    spec = {**SMM, "series": [{**SMM["series"][0], "price_unit_column": None,
                               "currency": "CNY", "unit": "t", "scale": 10_000}]}
    spec["series"][0].pop("price_unit_column")
    (settings.price_mappings_dir / "smm_prnd.yaml").write_text(
        yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with open_warehouse(settings.warehouse, create=True) as con:
        refresh(con, settings)
        values = [r[0] for r in con.execute("SELECT value FROM prices WHERE series_id = "
                                            "'prnd_oxide_cn' ORDER BY date").fetchall()]
    assert values == pytest.approx([423_500, 425_000, 426_000, 426_000])


def test_a_republished_file_that_removes_quotes_deletes_and_records_them(project) -> None:
    settings, files = project
    with open_warehouse(settings.warehouse, create=True) as con:
        refresh(con, settings)
        # Re-published: 05-07 is now n/a, the last row (05-09) is gone, 05-08 revised.
        lines = SMM_FILE.splitlines(keepends=True)
        lines[3] = "2025-05-07,氧化镨钕,Pr6O11+Nd2O3≥99%,n/a,n/a,n/a,,万元/吨\n"
        lines[4] = lines[4].replace("42.40,42.80,42.60", "42.50,42.90,42.70")
        del lines[5]
        (files / "prnd_oxide.csv").write_bytes("".join(lines).encode("gb18030"))
        refresh(con, settings)
        dates = [str(r[0]) for r in con.execute("SELECT date FROM prices WHERE series_id = "
                                                "'prnd_oxide_cn' ORDER BY date").fetchall()]
        deleted = read_query(con, "SELECT table_name, row_key FROM revisions WHERE "
                                  "column_name = '*' AND row_key LIKE '%prnd_oxide_cn%' "
                                  "ORDER BY table_name, row_key")
        revised = con.execute("SELECT old_value, new_value FROM revisions WHERE table_name = "
                              "'prices' AND column_name = 'value'").fetchall()
        load = con.execute("SELECT rows_deleted FROM load_runs WHERE target_table = 'prices' "
                           "ORDER BY finished_at DESC LIMIT 1").fetchall()[0][0]
    assert dates == ["2025-05-06", "2025-05-08"]
    assert deleted["table_name"].to_list() == ["price_observations"] * 2 + ["prices"] * 2
    assert any("2025-05-07" in k for k in deleted["row_key"])
    assert any("2025-05-09" in k for k in deleted["row_key"])
    assert [(float(a), float(b)) for a, b in revised] == [(426_000, 427_000)]
    assert load == 2


@pytest.mark.parametrize("tail, words", [
    (b"2025-05-0\n", "date '2025-05-0' does not parse"),
    (b"2025-05-0", "the last line has 1 of the header's 8 cells"),
    (b"2025-05-10,\xd1\xf5\xbb\xaf\xef\xd6\xeb\xbf,x,42.4", "the file is truncated"),
])
def test_a_truncated_last_line_is_refused_naming_the_row(project, tail: bytes, words: str
                                                         ) -> None:
    settings, files = project
    path = files / "prnd_oxide.csv"
    body = SMM_FILE.rsplit("数据", 1)[0].encode("gb18030")
    path.write_bytes(body + tail)
    with open_warehouse(settings.warehouse, create=True) as con:
        with pytest.raises(DataError, match=words) as info:
            refresh(con, settings)
        assert con.execute("SELECT count(*) FROM prices WHERE series_id = 'prnd_oxide_cn'"
                           ).fetchall()[0][0] == 0
    assert "row 7" in str(info.value) and "prnd_oxide.csv" in str(info.value)


def test_asian_metal_style_xlsx_in_yuan_per_kilogram(tmp_path: Path) -> None:
    """An Asian Metal (亚洲金属网) style price-history sheet: a title, 日期 / 产品 / 最低价 /
    最高价 / 平均价 / 单位 with 元/公斤, Excel date cells, a 注 footnote."""
    import datetime as dt

    import openpyxl

    from chokehold.pipelines.price_mapping import PriceMapping, read_price_file

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "价格走势"
    sheet.append(["亚洲金属网 氧化镝 99.5%min 中国 出厂价"])
    sheet.append(["日期", "产品", "最低价", "最高价", "平均价", "单位"])
    sheet.append([dt.datetime(2025, 4, 3), "氧化镝", 1650, 1700, 1675, "元/公斤"])
    sheet.append([dt.datetime(2025, 4, 10), "氧化镝", 1680, 1720, 1700, "元/公斤"])
    sheet.append(["注：价格含税", None, None, None, None, None])
    path = tmp_path / "asianmetal_dy2o3.xlsx"
    book.save(path)
    mapping = PriceMapping(
        id="asianmetal", description="Dy oxide", source={**SMM_SOURCE, "id": "asianmetal"},
        files="*.xlsx", sheet="价格走势", skip_rows=1, date_column="日期",
        series=[{"id": "dy2o3_cn", "commodity": "rare_earths", "market": "china_domestic",
                 "low": "最低价", "high": "最高价", "price_unit_column": "单位",
                 "vat_included": True, "frequency": "weekly"}])
    rows = read_price_file(path, mapping).sort("date").to_dicts()
    assert [(r["value"], r["unit"], r["currency"], r["scale"]) for r in rows] == [
        (1675, "kg", "CNY", 1.0), (1700, "kg", "CNY", 1.0)]
    assert rows[0]["published_unit"] == "元/公斤"
    assert usd_per_tonne(rows[0]["value"], rows[0]["currency"], rows[0]["unit"], 7.3) \
        == pytest.approx(1_675_000 / 7.3)
