"""Small test sources for the refresh tests: a CSV file source, a slowed one and an HTTP one.

They load ``fx_rates`` only and depend on nothing (``DEPENDS_ON = ()``), so a refresh of them
takes well under a second. ``register(monkeypatch)`` adds them to ``chokehold.pipelines.SOURCES``;
``install()`` does the same outside pytest (subprocesses).
"""

from __future__ import annotations

from pathlib import Path

from chokehold.config import Settings, load_settings
from chokehold.pipelines import SOURCES
from chokehold.vintages import snapshot_tables, table_digests
from chokehold.warehouse import open_warehouse

FAKE_SOURCES = {
    "tinyfx": "fakesources.tinyfx",
    "tinyprices": "fakesources.tinyprices",
    "slowfx": "fakesources.slowfx",
    "httpfx": "fakesources.httpfx",
}


def install() -> None:
    SOURCES.update(FAKE_SOURCES)


def register(monkeypatch) -> None:
    for name, module in FAKE_SOURCES.items():
        monkeypatch.setitem(SOURCES, name, module)


def write_fx(folder: Path, rates: dict[str, float]) -> Path:
    """``<folder>/fx.csv`` with one row per month ('2024-01') and rate."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["month,rate", *(f"{m}-01,{r}" for m, r in sorted(rates.items()))]
    (folder / "fx.csv").write_text("\n".join(lines) + "\n")
    return folder


def write_prices(folder: Path, values: dict[str, float]) -> Path:
    """``<folder>/prices.csv`` with one row per date ('2024-01-15') and value."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["date,value", *(f"{d},{v}" for d, v in sorted(values.items()))]
    (folder / "prices.csv").write_text("\n".join(lines) + "\n")
    return folder


def tiny_settings(root: Path, **overrides: object) -> Settings:
    """Settings with the warehouse (and so its logs and vintages) under ``root/wh``."""
    return load_settings(warehouse=root / "wh" / "warehouse.duckdb", raw_dir=root / "raw",
                         **overrides)


def data_state(warehouse: Path) -> dict[str, dict]:
    """Row count and content hash of every analysis table (what 'the same warehouse' means);
    source vintages without their fetch times, which differ from run to run."""
    with open_warehouse(warehouse, read_only=True) as con:
        state = table_digests(con, [t for t in snapshot_tables() if t != "vintages"])
        state["vintages"] = con.execute(
            "SELECT source_id, vintage, location, sha256 FROM vintages ORDER BY ALL").fetchall()
    return state


def months(first_year: int, n: int, base: float = 7.0) -> dict[str, float]:
    """``n`` consecutive months from January of ``first_year``, with distinct rates."""
    return {f"{first_year + i // 12}-{i % 12 + 1:02d}": round(base + 0.01 * i, 4) for i in range(n)}


def run_refresh(settings_kwargs: dict, sources: list[str], options: dict,
                allow_partial: bool = False) -> None:
    """Process entry point for kill and concurrency tests: exits with the CLI's exit code."""
    import sys  # noqa: PLC0415

    from chokehold.errors import ChokeholdError  # noqa: PLC0415
    from chokehold.pipelines.refresh import refresh_warehouse  # noqa: PLC0415

    install()
    try:
        outcome = refresh_warehouse(load_settings(**settings_kwargs), sources, options,
                                    allow_partial=allow_partial)
    except ChokeholdError as exc:
        sys.exit(exc.exit_code)
    sys.exit(outcome.exit_code)
