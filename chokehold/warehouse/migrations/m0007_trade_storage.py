"""trade_flows becomes a view over reported_flows and a compact baci_flows.

A BACI year is ~11 million rows. Stored in trade_flows' twelve columns, five of them the same
on every row, the load cost twice a bare read of the file; baci_flows keeps six columns, four
of them numbers (countries by BACI code), and baci_batches the per-year constants (revision,
year, release). Existing rows move across.
"""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "trade_flows: a view over reported_flows and baci_flows (+ baci_batches, baci_countries)"

TRADE_FLOWS_VIEW = """
CREATE OR REPLACE VIEW trade_flows AS
SELECT reporter_iso3, partner_iso3, flow, period, freq, hs_code, hs_revision, value_usd, qty,
       qty_unit, source, vintage
FROM reported_flows
UNION ALL
SELECT m.iso3, x.iso3, 'import', make_date(b.year, 1, 1), 'A', f.hs_code, b.hs_revision,
       f.value_usd, f.qty, CASE WHEN f.qty IS NOT NULL THEN 't' END, 'baci', b.release
FROM baci_flows f
JOIN baci_batches b USING (batch)
LEFT JOIN baci_countries m ON m.code = f.importer_code
LEFT JOIN baci_countries x ON x.code = f.exporter_code
"""
BACI_COUNTRIES_VIEW = """
CREATE OR REPLACE VIEW baci_countries AS
SELECT TRY_CAST(code AS USMALLINT) AS code, iso3, name FROM country_codes
WHERE scheme = 'baci' AND TRY_CAST(code AS USMALLINT) IS NOT NULL
"""


def _is_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                       [name]).fetchall()[0][0] > 0


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("reported_flows", "baci_batches", "baci_flows"):
        con.execute(spec(name).ddl())
    con.execute(BACI_COUNTRIES_VIEW)
    if _is_table(con, "trade_flows"):
        con.execute("INSERT INTO reported_flows SELECT * FROM trade_flows WHERE source <> 'baci'")
        con.execute("""
            INSERT INTO baci_batches
            SELECT row_number() OVER (ORDER BY hs_revision, year), hs_revision, year, release
            FROM (SELECT hs_revision, year(period) AS year, max(vintage) AS release
                  FROM trade_flows WHERE source = 'baci' GROUP BY ALL)""")
        con.execute("""
            INSERT INTO baci_flows
            WITH code AS (SELECT iso3, min(code) AS code FROM baci_countries GROUP BY iso3)
            SELECT b.batch, m.code, x.code, f.hs_code, f.value_usd, f.qty
            FROM trade_flows f
            JOIN baci_batches b ON b.hs_revision = f.hs_revision AND b.year = year(f.period)
            LEFT JOIN code m ON m.iso3 = f.reporter_iso3
            LEFT JOIN code x ON x.iso3 = f.partner_iso3
            WHERE f.source = 'baci'""")
        con.execute("DROP TABLE trade_flows")
    con.execute(TRADE_FLOWS_VIEW)
