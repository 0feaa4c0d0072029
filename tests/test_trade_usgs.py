"""USGS MCS data-release CSVs: world production and US salient statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from chokehold.errors import DataError
from chokehold.pipelines import usgs
from chokehold.warehouse import open_warehouse, read_query

LONG_HEADER = "commodity,table,section,subsection,label_or_country,year,value_raw,units_note,source_pdf"
PDF = "https://pubs.usgs.gov/periodicals/mcs2026/mcs2026-antimony.pdf"


def long_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "mcs_long.csv"
    path.write_text("\n".join([LONG_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def world(country: str, year: str, value: str) -> str:
    return f'antimony,world_production,World Mine Production,,{country},{year},{value},"metric tons",{PDF}'


def salient(label: str, year: str, value: str) -> str:
    return f'antimony,us_salient,Net import reliance,,{label},{year},{value},"metric tons",{PDF}'


def test_long_form_production_and_salient(warehouse_copy: Path, tmp_path: Path):
    path = long_file(tmp_path, world("China", "2024", '"60,000"'), world("Russia", "2024", "—"),
                     world("Other", "2024", '"5,000"'), world("World total (rounded)", "2024", '"65,000"'),
                     salient("Net import reliance", "2024", "86"),
                     salient("Net import reliance", "2025e", ">50"),
                     salient("Stocks", "2024", "W"))
    with open_warehouse(warehouse_copy) as con:
        usgs.refresh(con, None, path=[path])
        prod = read_query(con, "SELECT country_iso3, qty, unit, stage, vintage FROM production "
                               "WHERE source = 'usgs' ORDER BY 1")
        sal = read_query(con, "SELECT label, year, estimated, value, qualifier FROM usgs_salient "
                              "ORDER BY year, label")
    assert prod.rows() == [("CHN", 60000.0, "t Sb", "mine", "MCS2026"),
                           ("RUS", 0.0, "t Sb", "mine", "MCS2026")]  # 'Other' and World not stored
    assert sal.rows() == [("Net import reliance", 2024, False, 86.0, None),
                          ("Stocks", 2024, False, None, "W"),
                          ("Net import reliance", 2025, True, 50.0, ">")]


@pytest.mark.parametrize(("rows", "field", "text"), [
    ((world("China", "2024", "60000"), world("World total (rounded)", "2024", "90000")),
     "value_raw", "world total"),
    ((world("Atlantis", "2024", "5"),), "country", "is not a country"),
    ((world("China", "2024", "lots"),), "value_raw", "not a number"),
    ((salient("Net import reliance", "2024", "-4"),), "value_raw", "negative"),
])
def test_bad_rows_load_nothing(warehouse_copy: Path, tmp_path: Path, rows, field, text):
    with open_warehouse(warehouse_copy) as con, pytest.raises(DataError) as err:
        usgs.refresh(con, None, path=[long_file(tmp_path, *rows)])
    assert err.value.field == field and text in str(err.value) and "mcs_long.csv" in str(err.value)
    with open_warehouse(warehouse_copy) as con:
        assert con.execute("SELECT count(*) FROM production WHERE source = 'usgs'"
                           ).fetchall()[0][0] == 0


def test_real_release_files(shared_data: Path, warehouse_copy: Path):
    folder = shared_data / "usgs_production"
    with open_warehouse(warehouse_copy) as con:
        usgs.refresh(con, None, path=[folder / "usgs_mcs2026_selected_commodities_long.csv",
                                      folder / "usgs_mcs2024_raree_world.csv"])
        china = read_query(con, "SELECT year, qty FROM production WHERE source = 'usgs' AND "
                                "commodity = 'rare_earths' AND country_iso3 = 'CHN' ORDER BY 1")
        nir = read_query(con, "SELECT year, value, qualifier FROM usgs_salient WHERE "
                              "commodity = 'rare_earths' AND section = 'Net import reliance' AND "
                              "label = 'Compounds and metals' "
                              "ORDER BY year")
    # MCS2024: 210,000 and 240,000 t REO (2022, 2023); MCS2026: 270,000 (2024, 2025e)
    assert china.rows() == [(2022, 210000.0), (2023, 240000.0), (2024, 270000.0),
                            (2025, 270000.0)]
    assert nir.rows()[3] == (2024, 53.0, None) and nir.rows()[0] == (2021, 95.0, ">")
