"""The read layer: the one place analysis, the CLI and the reports query the warehouse.

Each function takes a connection and returns a frame (or a small value); what a number means
is decided here once, so ``chokehold trade ...`` and a rendered report print the same figure.
Production is never summed across sources: each commodity names its preferred source in
data/commodities.yaml (``production: {source, unit, basis}``, loaded into ``commodities``) and
:func:`production` reads that source's rows only unless the caller names another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from chokehold.analysis import dependence as dep
from chokehold.analysis import summaries
from chokehold.analysis.defaults import SUPPLIER, TRADE_SOURCE
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.warehouse import first_row, read_query
from chokehold.warehouse.db import LATEST_PERIODS


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
    """Production of every commodity, each from its preferred source (or ``sources[id]``):
    the rows scenario inputs need (country_iso3, commodity, year, qty, unit)."""
    frames = [production(con, cid, (sources or {}).get(cid)) for cid in commodity_ids(con)]
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
