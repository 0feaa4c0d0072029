"""Trade and dependence: national-currency trade, USGS salient statistics, and share views."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "trade: trade_flows_national, usgs_salient, trade_shares_annual view"

TABLES = ("trade_flows_national", "usgs_salient")

# Import shares by partner per source, importer, commodity group, HS revision and year. Lines
# are matched within their own revision only (national codes by their first six digits), so a
# group is never compared across revisions silently. World totals are never in trade_flows.
# Quantities are summed in tonnes only (rows in other units give a null qty). `months` counts
# the months behind a year of monthly data (12 = complete; annual data count as 12).
SHARES_VIEW = """
CREATE OR REPLACE VIEW trade_shares_annual AS
WITH lines AS (
    SELECT f.source, f.reporter_iso3 AS importer_iso3, h.commodity_id, f.hs_revision,
           year(f.period) AS year, f.partner_iso3,
           sum(f.value_usd) AS value_usd,
           sum(CASE WHEN f.qty_unit = 't' THEN f.qty END) AS qty_t,
           CASE WHEN bool_or(f.freq = 'A') THEN 12
                ELSE count(DISTINCT f.period) END AS months
    FROM trade_flows f
    JOIN commodity_hs h ON h.hs_revision = f.hs_revision AND h.hs_code = left(f.hs_code, 6)
    WHERE f.flow = 'import'
    GROUP BY ALL
), shares AS (
    SELECT *, value_usd / nullif(sum(value_usd) OVER g, 0) AS share,
           qty_t / nullif(sum(qty_t) OVER g, 0) AS share_qty,
           max(months) OVER g AS months_in_year
    FROM lines
    WINDOW g AS (PARTITION BY source, importer_iso3, commodity_id, hs_revision, year)
)
SELECT source, importer_iso3, commodity_id, hs_revision, year, partner_iso3, value_usd, qty_t,
       share, share_qty,
       sum(share * share) OVER (PARTITION BY source, importer_iso3, commodity_id, hs_revision,
                                year) AS hhi,
       months_in_year
FROM shares
"""


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
    con.execute(SHARES_VIEW)
