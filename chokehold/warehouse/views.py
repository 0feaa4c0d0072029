"""The current definitions of the warehouse's views over its storage tables.

Migrations that change a view's tables create the views from here (as they create tables from
the specs), so a fresh warehouse and an upgraded one end with the same definitions.
"""

from __future__ import annotations

import duckdb

BACI_COUNTRIES = """
CREATE OR REPLACE VIEW baci_countries AS
SELECT TRY_CAST(code AS USMALLINT) AS code, iso3, name FROM country_codes
WHERE scheme = 'baci' AND TRY_CAST(code AS USMALLINT) IS NOT NULL
"""
"""BACI's numeric country codes (country_codes, scheme baci) typed as baci_flows stores them."""

TRADE_FLOWS = """
CREATE OR REPLACE VIEW trade_flows AS
SELECT reporter_iso3, partner_iso3, flow, period, freq, hs_code, hs_revision, value_usd, qty,
       qty_unit, source, vintage
FROM reported_flows
UNION ALL
SELECT m.iso3, x.iso3, 'import', make_date(b.year, 1, 1), 'A', lpad(CAST(f.hs6 AS VARCHAR), 6, '0'),
       b.hs_revision, f.value_usd, f.qty, CASE WHEN f.qty IS NOT NULL THEN 't' END, 'baci',
       b.release
FROM baci_flows f
JOIN baci_batches b USING (batch)
LEFT JOIN baci_countries m ON m.code = f.importer_code
LEFT JOIN baci_countries x ON x.code = f.exporter_code
"""
"""Every trade row in one shape: reported rows as stored, BACI rows named and dated."""


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create baci_countries and trade_flows over the current storage tables."""
    con.execute(BACI_COUNTRIES)
    con.execute(TRADE_FLOWS)
