"""The Python API (``import chokehold as ck``) and the quickstart notebook, on the embedded
warehouse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import polars as pl
import pyarrow.parquet as pq
import pytest
from nbclient import NotebookClient

import chokehold as ck
from chokehold.config import PROJECT_ROOT
from chokehold.errors import ChokeholdError

NOTEBOOK = PROJECT_ROOT / "docs" / "quickstart.ipynb"


@pytest.fixture
def wh(warehouse_copy: Path):
    with ck.open(warehouse_copy) as handle:
        yield handle


def test_import_is_cheap_and_lazy() -> None:
    code = ("import sys, chokehold as ck; heavy = [m for m in ('polars', 'duckdb', 'numpy', "
            "'chokehold.api') if m in sys.modules]; print(heavy); ck.open; "
            "print('chokehold.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True"


def test_shares_units_and_known_answer(wh) -> None:
    shares = wh.shares("Japan", "rare_earths", freq="annual", basis="value")
    assert isinstance(shares, pl.DataFrame)
    china = shares.filter((pl.col("period").dt.year() == 2023) & (pl.col("partner_iso3") == "CHN"))
    assert china["share"][0] == pytest.approx(0.506, abs=0.0005)  # README's known answer
    units = ck.units(shares)
    assert units["value_usd"] == "USD" and units["share"] == "fraction (0-1)"
    assert ck.describe(shares).extra["importer"] == "JPN"
    fields = ck.to_arrow(shares).schema
    assert fields.field("hhi").metadata[b"unit"] == b"index (0-1)"
    assert fields.metadata[b"chokehold.source"] == b"baci"


def test_shares_qty_basis_and_module_function(warehouse_copy: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHOKEHOLD_WAREHOUSE", str(warehouse_copy))
    shares = ck.shares("JPN", "rare_earths", basis="qty")
    year = shares.filter(pl.col("period").dt.year() == 2023)
    assert year["share"].sum() == pytest.approx(1.0)
    assert (year["qty"] / year["qty"].sum() - year["share"]).abs().max() < 1e-9


def test_gallium_says_the_extract_lacks_its_lines(wh) -> None:
    with pytest.raises(ChokeholdError, match=r"hold no rows for gallium's HS lines \(811291\)"
                       r".*chokehold fetch baci --release V202501"):
        wh.shares("JPN", "gallium")


def test_screen_price_gap_scenario_controls(wh) -> None:
    screen = wh.screen(2023, top=5)
    assert screen.height == 5 and ck.units(screen)["imports_usd"] == "USD"
    assert screen["imports_usd"].is_sorted(descending=True)
    gap = wh.price_gap("antimony")
    row = gap.filter(pl.col("date") == pl.date(2025, 5, 7)).row(0, named=True)
    assert row["gap_usd_t"] == pytest.approx(29_182.47, abs=0.01)
    assert ck.units(gap)["gap_usd_t"] == "USD/t"
    months = wh.scenario("cn-2025-18-medium-heavy-rare-earths", "Japan", "rare_earths",
                         draws=2000, seed=7)
    again = wh.scenario("cn-2025-18-medium-heavy-rare-earths", "JPN", "rare_earths",
                        draws=2000, seed=7)
    assert months.equals(again) and months.height == 24
    assert ck.describe(months).extra["summary"]["draws"] == 2000
    assert ck.units(months)["shortfall_t_p50"] == "t"
    controls = ck.controls(as_of="2025-12-01")
    status = dict(zip(controls["id"], controls["status"]))
    assert status["cn-2025-18-medium-heavy-rare-earths"] == "in_force"
    assert status["cn-2025-61-extraterritorial-rare-earths"] == "suspended"
    assert controls.schema["announced"] == pl.Date
    with pytest.raises(ChokeholdError, match="not a date"):
        ck.controls(as_of="2023-31-12")


def test_parquet_keeps_units(wh, tmp_path: Path) -> None:
    path = ck.write_parquet(wh.price_gap("antimony"), tmp_path / "gap.parquet")
    schema = pq.read_schema(path)
    assert schema.field("domestic_usd_t_ex_vat").metadata[b"unit"] == b"USD/t"
    assert schema.metadata[b"chokehold.vintage"] == b"2026-11-22"


def test_describe_refuses_a_derived_frame(wh) -> None:
    derived = wh.screen(2023, top=3).head(2)
    with pytest.raises(ChokeholdError, match="no chokehold metadata"):
        ck.units(derived)


@pytest.mark.slow
def test_quickstart_notebook_runs_top_to_bottom(warehouse_copy: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHOKEHOLD_WAREHOUSE", str(warehouse_copy))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(PROJECT_ROOT)}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                      for o in cell.get("outputs", []))
    assert "China's share of Japan's rare-earth imports, 2023: 50.6%" in outputs
    assert "expected cumulative shortfall:" in outputs
    errors = [o for cell in nb.cells for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
