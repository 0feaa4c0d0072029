"""The thin warehouse layer of the scenarios: read trade and production, save results."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import duckdb
import polars as pl
from chokehold.analysis.scenarios.model import Result

from chokehold.errors import WarehouseError
from chokehold.warehouse import first_row, load_frame, read_query

SOURCE_ID = "chokehold_scenarios"


def trade_revision(con: duckdb.DuckDBPyConnection) -> str:
    """The HS revision of the BACI rows (the latest, should several be loaded)."""
    row = first_row(con, "SELECT hs_revision FROM trade_flows WHERE source = 'baci' "
                         "GROUP BY hs_revision ORDER BY max(period) DESC LIMIT 1")
    if row is None:
        raise WarehouseError("no BACI trade in the warehouse; run `chokehold refresh --offline`")
    return row[0]


def load_flows(con: duckdb.DuckDBPyConnection, lines: list[str], importers: list[str],
               revision: str) -> pl.DataFrame:
    """BACI import rows of these lines where an importer is reporter or (for exports) partner."""
    codes = ", ".join("?" for _ in lines)
    who = ", ".join("?" for _ in importers)
    return read_query(con, f"""
        SELECT reporter_iso3, partner_iso3, period, hs_code, value_usd, qty, qty_unit
        FROM trade_flows
        WHERE source = 'baci' AND flow = 'import' AND freq = 'A' AND hs_revision = ?
          AND hs_code IN ({codes})
          AND (reporter_iso3 IN ({who}) OR partner_iso3 IN ({who}))
        ORDER BY reporter_iso3, partner_iso3, period, hs_code""",
        [revision, *lines, *importers, *importers])


def load_production(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_query(con, "SELECT country_iso3, commodity, year, qty, unit FROM production")


def known_countries(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT iso3 FROM countries").fetchall()}


def run_id(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_run(con: duckdb.DuckDBPyConnection, result: Result, *, control: str, importer: str,
             commodity: str, scenario: str, horizon: int) -> str:
    """Save a run (summary, resolved parameters, monthly bands); the same inputs, the same id."""
    parameters = [p.record() for p in result.parameters.values()]
    summary = result.summary
    key = {"control": control, "importer": importer, "commodity": commodity,
           "scenario": scenario, "parameters": parameters, "draws": summary["draws"],
           "seed": summary["seed"]}
    rid = run_id(key)
    runs = pl.DataFrame([{
        "run_id": rid, "created_at": datetime.now(UTC).replace(tzinfo=None),
        "control_id": control, "importer_iso3": importer, "commodity": commodity,
        "scenario": scenario, "draws": summary["draws"], "seed": summary["seed"],
        "horizon_months": horizon, "applies": summary["applies"],
        "parameters": json.dumps(parameters),
        **{k: summary[k] for k in ("peak_shortfall_share_p10", "peak_shortfall_share_p50",
                                   "peak_shortfall_share_p90", "cumulative_shortfall_t_p50",
                                   "expected_cumulative_shortfall_t", "value_at_risk_usd",
                                   "peak_price_change_p50")},
    }])
    months = result.months.select(
        pl.lit(rid).alias("run_id"), pl.col("month").cast(pl.Int32), "shortfall_t_p10",
        "shortfall_t_p50", "shortfall_t_p90", "shortfall_share_p50", "price_change_p10",
        "price_change_p50", "price_change_p90", "stock_t_p50")
    existing = first_row(con, "SELECT count(*) FROM scenario_runs WHERE run_id = ?", [rid])[0]
    if not existing:
        load_frame(con, "scenario_runs", runs, source_id=SOURCE_ID, origin="scenario run")
    load_frame(con, "scenario_months", months, source_id=SOURCE_ID, origin="scenario run",
               replace_scope=f"run_id = '{rid}'")
    return rid


def save_matrix(con: duckdb.DuckDBPyConnection, matrix: pl.DataFrame, *, scenario: str,
                as_of: date, draws: int, seed: int) -> None:
    """Replace the saved matrix for this date and scenario."""
    frame = matrix.select(
        "as_of", pl.lit(scenario).alias("scenario"), "control_id", "importer_iso3", "commodity",
        pl.lit(draws).alias("draws"), pl.lit(seed).alias("seed"), "licence_level", "applies",
        "supplier_share", "coverage", "expected_cumulative_shortfall_t",
        "cumulative_shortfall_t_p50", "peak_shortfall_share_p50", "peak_shortfall_share_p90",
        "value_at_risk_usd", "rank_shortfall", "rank_value", "note")
    load_frame(con, "exposure_matrix", frame, source_id=SOURCE_ID, origin="scenario matrix",
               replace_scope=f"as_of = DATE '{as_of.isoformat()}' AND scenario = "
                             f"'{scenario.replace(chr(39), chr(39) * 2)}'")
