"""Shared fixtures: settings pointing at a temporary warehouse, and one offline warehouse per run.

Tests that need the real extracts in ../shared/data use ``shared_data`` and skip, saying so,
where that folder is absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chokehold.config import PROJECT_ROOT, Settings, load_settings
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines.refresh import run_sources
from chokehold.warehouse import open_warehouse

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's chokehold.toml or environment, or the network."""
    for var in ("CHOKEHOLD_WAREHOUSE", "CHOKEHOLD_DATA_DIR", "COMTRADE_API_KEY",
                "COMTRADE_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CHOKEHOLD_CONFIG", str(tmp_path / "no-such-chokehold.toml"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Project data, but a fresh warehouse file in tmp_path."""
    return load_settings(warehouse=tmp_path / "warehouse.duckdb", raw_dir=tmp_path / "raw")


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline warehouse, built once per test session. Do not write to it: copy it."""
    path = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    settings = load_settings(warehouse=path)
    with open_warehouse(path, create=True) as con:
        run_sources(con, settings, OFFLINE_SOURCES, show_progress=False)
    return path


def copy_warehouse(source: Path, target: Path) -> Path:
    """Copy a warehouse file and its lake (hard links: lake files are never rewritten)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    if (source.parent / "lake").is_dir():
        shutil.copytree(source.parent / "lake", target.parent / "lake", copy_function=os.link,
                        dirs_exist_ok=True)
    return target


@pytest.fixture
def warehouse_copy(built_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy of the offline warehouse (and its lake) that a test may change."""
    return copy_warehouse(built_warehouse, tmp_path / "warehouse.duckdb")


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, the real public extracts; skips where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real extracts not present at {SHARED_DATA} (shared/ sits beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def renderer(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """One report renderer (one Jupyter kernel) on the offline warehouse, for all render tests."""
    from chokehold.render.engine import Renderer

    out = tmp_path_factory.mktemp("rendered")
    with Renderer(load_settings(warehouse=built_warehouse), out, engine="builtin") as r:
        yield r


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two tiny file sources (tinyfx, tinyprices) registered, three months of FX and one price;
    returns (settings, refresh options, input folder)."""
    from fakesources import months, register, tiny_settings, write_fx, write_prices

    register(monkeypatch)
    folder = write_prices(write_fx(tmp_path / "in", months(2024, 3)), {"2024-01-15": 100.0})
    return tiny_settings(tmp_path), {"path": [folder]}, folder
