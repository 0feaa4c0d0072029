"""The 0.1% de-minimis calculator: hand-computed shares, the status timeline, and bad BOMs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from chokehold.analysis.deminimis import deminimis, read_bom
from chokehold.cli import app
from chokehold.commodities import load_commodities
from chokehold.config import PROJECT_ROOT
from chokehold.errors import DataError, UnknownValueError
from chokehold.registry import load_registry

MEASURE = load_registry(PROJECT_ROOT / "data" / "controls",
                        load_commodities(PROJECT_ROOT / "data" / "commodities.yaml")
                        )["cn-2025-61-extraterritorial-rare-earths"]
FX = pl.DataFrame({"date": [date(2025, 8, 1), date(2025, 8, 1), date(2025, 9, 1),
                            date(2025, 9, 1)],
                   "base": ["USD"] * 4, "quote": ["CNY", "JPY", "CNY", "JPY"],
                   "rate": [7.0, 140.0, 7.2, 148.0]})
HEADER = "component,value,currency,country_of_origin,element,element_value,element_origin\n"


def bom(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "bom.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


MIXED = ("magnet,7200,CNY,JPN,Dy,7.2,CHN\n"      # 1,000 USD; Dy worth 1 USD, Chinese origin
         "magnet,7200,CNY,JPN,Nd,72,CHN\n"       # Nd is not a listed element
         "housing,1000,USD,DEU,,,\n"             # 1,000 USD, no controlled content
         "coil,14800,jpy,Japan,Tb,148,\n")        # 100 USD; Tb of Japanese origin (default)


def test_hand_computed_share_below_threshold(tmp_path: Path):
    result = deminimis(read_bom(bom(tmp_path, MIXED)), FX, MEASURE, as_of=date(2025, 10, 20))
    assert result["item_value_usd"] == pytest.approx(2100)
    assert result["controlled_value_usd"] == pytest.approx(1.0)
    assert result["controlled_share"] == pytest.approx(1 / 2100)
    assert result["reaches_threshold"] is False and result["licence_needed"] is False
    counted = {(e["element"], e["element_origin"]): e["counted"] for e in result["elements"]}
    assert counted == {("Dy", "CHN"): True, ("Nd", "CHN"): False, ("Tb", "JPN"): False}
    assert {f["currency"]: f["per_usd"] for f in result["fx"]} == {"CNY": 7.2, "JPY": 148.0,
                                                                  "USD": 1.0}


@pytest.mark.parametrize("day, status, needed", [
    (date(2025, 10, 1), "not_announced", False),
    (date(2025, 10, 20), "in_force", True),
    (date(2025, 12, 1), "suspended", False),     # suspended 2025-11-10 to 2026-11-10
    (date(2026, 11, 10), "suspended", False),
    (date(2026, 11, 11), "unknown", None),      # unknown is never "not needed" (issue 14)
])
def test_threshold_reached_exactly_and_the_status_timeline(tmp_path: Path, day, status, needed):
    # Dy worth exactly 0.1% of the item: the rule says "0.1% or more"
    path = bom(tmp_path, "magnet,1000,USD,JPN,Dy,1,CHN\n")
    result = deminimis(read_bom(path), FX, MEASURE, as_of=day)
    assert result["controlled_share"] == pytest.approx(0.001)
    assert result["reaches_threshold"] is True
    assert (result["status_on_date"], result["licence_needed"]) == (status, needed)
    assert result["status_known"] is (status != "unknown")
    if status == "unknown":
        assert "the suspended status recorded ends 2026-11-10; no later status" in result["reason"]


def test_given_item_value_and_the_rate_of_the_month_before(tmp_path: Path):
    path = bom(tmp_path, "magnet,700,CNY,JPN,Dy,7,CHN\n")
    # on 2025-08-20 the latest rate is August's 7.0 CNY per USD: Dy = 1 USD; item 500 USD
    result = deminimis(read_bom(path), FX, MEASURE, as_of=date(2025, 8, 20), item_value=500)
    assert result["item_value_usd"] == 500 and result["controlled_share"] == pytest.approx(0.002)


def test_unknown_currency_names_it_and_lists_valid_ones(tmp_path: Path):
    path = bom(tmp_path, "magnet,100,EUR,DEU,Dy,1,CHN\n")
    with pytest.raises(UnknownValueError, match=r"'EUR'; valid: CNY, JPY, USD"):
        deminimis(read_bom(path), FX, MEASURE, as_of=date(2025, 10, 20))
    with pytest.raises(DataError, match="no CNY per USD rate on or before 2015-01-01"):
        deminimis(read_bom(bom(tmp_path, MIXED)), FX, MEASURE, as_of=date(2015, 1, 1))


@pytest.mark.parametrize("body, row, field", [
    ("magnet,,USD,JPN,Dy,1,CHN\n", 2, "value"),
    ("magnet,10,USD,JPN,Dy,1,CHN\nmagnet,abc,USD,JPN,,,\n", 3, "value"),
    ("magnet,10,,JPN,,,\n", 2, "currency"),
    ("magnet,10,USD,,,,\n", 2, "country_of_origin"),
    ("magnet,10,USD,JPN,Dy,,CHN\n", 2, "element_value"),
    ("magnet,10,USD,JPN,,2,CHN\n", 2, "element"),
    ("magnet,10,USD,JPN,Dy,20,CHN\n", 2, "element_value"),
    ("magnet,-10,USD,JPN,,,\n", 2, "value"),
    ("magnet,10,USD,Atlantis,,,\n", 2, "country_of_origin"),
    ("magnet,10,USD,JPN,Dy,1,CHN\nmagnet,12,USD,JPN,Tb,1,CHN\n", 3, "component"),
])
def test_bad_bom_names_row_and_field(tmp_path: Path, body, row, field):
    with pytest.raises(DataError) as err:
        read_bom(bom(tmp_path, body))
    assert (err.value.row, err.value.field) == (row, field)


def test_missing_column_is_named(tmp_path: Path):
    with pytest.raises(DataError, match="currency"):
        read_bom(bom(tmp_path, "magnet,10,JPN\n", header="component,value,country_of_origin\n"))


def test_cli_json(built_warehouse: Path, tmp_path: Path):
    path = bom(tmp_path, "magnet,1000,USD,JPN,Dy,2,CHN\nmagnet,1000,USD,JPN,Tb,1,CHN\n")
    result = CliRunner().invoke(app, ["--warehouse", str(built_warehouse), "deminimis", str(path),
                                      "--as-of", "2025-10-20", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["controlled_share"] == pytest.approx(0.003)
    assert out["licence_needed"] is True and out["status_on_date"] == "in_force"
    bad = CliRunner().invoke(app, ["--warehouse", str(built_warehouse), "deminimis",
                                   str(bom(tmp_path, "magnet,1,EUR,JPN,,,\n")), "--as-of",
                                   "2025-10-20", "--format", "json"])
    assert isinstance(bad.exception, UnknownValueError) and "EUR" in str(bad.exception)
