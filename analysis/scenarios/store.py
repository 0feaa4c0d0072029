"""The thin warehouse layer of the scenarios: read trade and production, save results."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from chokehold.analysis.scenarios import asof
from chokehold.analysis.scenarios.asof import DataMode, mode_line
from chokehold.analysis.scenarios.model import Result
from chokehold.commodities import Commodity
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


@dataclass(frozen=True)
class DataCut:
    """Which loaded data a run may use: all of it ("latest"), or what was released by a date."""

    mode: DataMode = "latest"
    as_of: date | None = None

    @property
    def real_time(self) -> bool:
        return self.mode == "real-time" and self.as_of is not None

    def line(self) -> str:
        return mode_line(self.mode, self.as_of)


LATEST = DataCut()


def baci_years(con: duckdb.DuckDBPyConnection, revision: str, cut: DataCut = LATEST
               ) -> tuple[int | None, bool]:
    """The last BACI year the cut may use (None: all), and whether a used batch comes from a
    release published after the as-of date (flag ``later_release``)."""
    if not cut.real_time:
        return None, False
    rows = con.execute("SELECT year, release FROM baci_batches WHERE hs_revision = ?",
                       [revision]).fetchall()
    usable = [(y, r) for y, r in rows if asof.baci_year_released(y) <= cut.as_of]
    later = any((asof.release_date(r) or date.max) > cut.as_of for _, r in usable)  # type: ignore
    return max((y for y, _ in usable), default=0), later


def load_flows(con: duckdb.DuckDBPyConnection, lines: list[str], importers: list[str],
               revision: str, cut: DataCut = LATEST) -> pl.DataFrame:
    """BACI import rows of these lines where an importer is reporter or (for exports) partner
    (in real-time mode, only years released by the as-of date)."""
    codes = ", ".join("?" for _ in lines)
    who = ", ".join("?" for _ in importers)
    last, _ = baci_years(con, revision, cut)
    return read_query(con, f"""
        SELECT reporter_iso3, partner_iso3, period, hs_code, value_usd, qty, qty_unit
        FROM trade_flows
        WHERE source = 'baci' AND flow = 'import' AND freq = 'A' AND hs_revision = ?
          AND hs_code IN ({codes}) AND year(period) <= ?
          AND (reporter_iso3 IN ({who}) OR partner_iso3 IN ({who}))
        ORDER BY reporter_iso3, partner_iso3, period, hs_code""",
        [revision, *lines, 9999 if last is None else last, *importers, *importers])


def last_baci_year(con: duckdb.DuckDBPyConnection, revision: str) -> int:
    return int(first_row(con, "SELECT max(year) FROM baci_batches WHERE hs_revision = ?",
                         [revision])[0])


def main_importers(con: duckdb.DuckDBPyConnection, lines: list[str], revision: str,
                   issuer: str, year: int, n: int, minimum_usd: float,
                   among: list[str] | None = None) -> list[str]:
    """The ``n`` largest importers (value) of these lines from ``issuer`` in ``year`` with at
    least ``minimum_usd``, optionally only among some countries."""
    codes = ", ".join("?" for _ in lines)
    frame = read_query(con, f"""
        SELECT reporter_iso3, sum(value_usd) AS value_usd FROM trade_flows
        WHERE source = 'baci' AND flow = 'import' AND freq = 'A' AND hs_revision = ?
          AND hs_code IN ({codes}) AND partner_iso3 = ? AND year(period) = ?
        GROUP BY 1 HAVING sum(value_usd) >= ? ORDER BY 2 DESC, 1""",
        [revision, *lines, issuer, year, minimum_usd])
    return [c for c in frame["reporter_iso3"] if among is None or c in among][:n]


def load_production(con: duckdb.DuckDBPyConnection,
                    commodities: dict[str, Commodity] | None = None,
                    cut: DataCut = LATEST) -> pl.DataFrame:
    """Production rows of each commodity's preferred source (``production.source`` in
    data/commodities.yaml): sources are never summed. Without ``commodities``, every row."""
    frame = read_query(con, "SELECT country_iso3, commodity, year, qty, unit, source "
                            "FROM production")
    if commodities is not None:
        preferred = {c.id: c.production.source for c in commodities.values() if c.production}
        frame = frame.filter(pl.col("source") == pl.col("commodity").replace_strict(
            preferred, default=None, return_dtype=pl.String))
    if cut.real_time:
        frame = frame.filter(pl.col("year").map_elements(
            lambda y: asof.wmd_year_released(y) <= cut.as_of, return_dtype=pl.Boolean))
    return frame.drop("source")


def load_published_consumption(con: duckdb.DuckDBPyConnection, cut: DataCut = LATEST
                               ) -> pl.DataFrame:
    """US consumption as USGS publishes it (t of content): apparent consumption ("Consumption,
    apparent", or "Consumption" / "Apparent, all forms"), else reported consumption; one row
    per commodity and year, from the latest loaded edition released by the cut."""
    frame = read_query(con, """
        SELECT 'USA' AS country_iso3, commodity, year, value, unit_note, vintage,
               CASE WHEN label = section THEN label ELSE section || ', ' || label END AS label,
               CASE WHEN section = 'Consumption, reported' THEN 1 ELSE 0 END AS preference
        FROM usgs_salient
        WHERE value IS NOT NULL
          AND (section IN ('Consumption, apparent', 'Consumption, reported')
               OR (section = 'Consumption' AND label ILIKE 'apparent%'))""")
    if cut.real_time:
        frame = frame.filter(pl.col("vintage").map_elements(
            lambda v: asof.mcs_edition_released(int(v[-4:])) <= cut.as_of
            if v[-4:].isdigit() else False, return_dtype=pl.Boolean))
    kilograms = pl.col("unit_note").str.to_lowercase().str.contains("kilogram")
    return (frame.sort("vintage", pl.col("preference"), descending=[False, True])
            .group_by("country_iso3", "commodity", "year").last()
            .select("country_iso3", "commodity", "year",
                    pl.when(kilograms).then(pl.col("value") / 1000).otherwise(pl.col("value"))
                    .alias("qty"),
                    pl.format("USGS {}, US salient statistics, {} ({})", "vintage", "label",
                              "unit_note").alias("citation"))
            .sort("commodity", "year"))


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
        "value_at_risk_usd", "rank_shortfall", "rank_value",
        pl.when(pl.col("flags").fill_null("") != "")
        .then(pl.concat_str([pl.lit("flags: "), pl.col("flags"),
                             pl.lit("; ") + pl.col("note").fill_null("")]).str.strip_suffix("; "))
        .otherwise(pl.col("note")).alias("note"))
    load_frame(con, "exposure_matrix", frame, source_id=SOURCE_ID, origin="scenario matrix",
               replace_scope=f"as_of = DATE '{as_of.isoformat()}' AND scenario = "
                             f"'{scenario.replace(chr(39), chr(39) * 2)}'")
