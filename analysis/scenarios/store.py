"""The scenarios' data: trade and production through the read layer, cut to what a real-time
run may use, and results saved."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from chokehold.analysis import read
from chokehold.analysis.scenarios import asof
from chokehold.analysis.scenarios.asof import DataMode, mode_line
from chokehold.analysis.scenarios.model import Result
from chokehold.commodities import Commodity
from chokehold.warehouse import load_frame

SOURCE_ID = "chokehold_scenarios"


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
    usable = [(y, r) for y, r in read.baci_releases(con, revision)
              if asof.baci_year_released(y) <= cut.as_of]
    later = any((asof.release_date(r) or date.max) > cut.as_of for _, r in usable)  # type: ignore
    return max((y for y, _ in usable), default=0), later


def load_flows(con: duckdb.DuckDBPyConnection, lines: list[str], importers: list[str],
               revision: str, cut: DataCut = LATEST) -> pl.DataFrame:
    """BACI import rows of these lines where an importer is reporter or (for exports) partner
    (in real-time mode, only years released by the as-of date)."""
    return read.baci_line_flows(con, lines, importers, revision, baci_years(con, revision, cut)[0])


def main_importers(con: duckdb.DuckDBPyConnection, lines: list[str], revision: str,
                   issuer: str, year: int, n: int, minimum_usd: float,
                   among: list[str] | None = None) -> list[str]:
    """The ``n`` largest importers (value) of these lines from ``issuer`` in ``year`` with at
    least ``minimum_usd``, optionally only among some countries."""
    return [c for c in read.baci_importers_from(con, lines, revision, issuer, year, minimum_usd)
            if among is None or c in among][:n]


def load_production(con: duckdb.DuckDBPyConnection,
                    commodities: dict[str, Commodity] | None = None,
                    cut: DataCut = LATEST) -> pl.DataFrame:
    """Production of every commodity from its preferred source (``read.world_production``:
    sources are never summed); ``commodities`` (data/commodities.yaml as loaded) names the
    sources where given, else the warehouse's ``commodities`` table does."""
    sources = None if commodities is None else {
        c.id: c.production.source for c in commodities.values() if c.production}
    frame = read.world_production(con, sources)
    if cut.real_time:
        frame = frame.filter(pl.col("year").map_elements(
            lambda y: asof.wmd_year_released(y) <= cut.as_of, return_dtype=pl.Boolean))
    return frame


def load_published_consumption(con: duckdb.DuckDBPyConnection, cut: DataCut = LATEST
                               ) -> pl.DataFrame:
    """US consumption as USGS publishes it (t of content): apparent consumption ("Consumption,
    apparent", or "Consumption" / "Apparent, all forms"), else reported consumption; one row
    per commodity and year, from the latest loaded edition released by the cut."""
    frame = read.published_consumption(con)
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
    if not read.scenario_run_saved(con, rid):
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
