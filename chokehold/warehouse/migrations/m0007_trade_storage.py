"""trade_flows becomes a view over reported_flows and a compact baci_flows.

A BACI year is ~11 million rows. Stored in trade_flows' twelve columns, five of them the same
on every row, the load cost twice a bare read of the file; baci_flows keeps six columns and
baci_batches the per-year constants (revision, year, release). Existing rows move across.
"""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "trade_flows: a view over reported_flows and baci_flows (+ baci_batches)"

TRADE_FLOWS_VIEW = """
CREATE OR REPLACE VIEW trade_flows AS
SELECT reporter_iso3, partner_iso3, flow, period, freq, hs_code, hs_revision, value_usd, qty,
       qty_unit, source, vintage
FROM reported_flows
UNION ALL
SELECT f.reporter_iso3, f.partner_iso3, 'import', make_date(b.year, 1, 1), 'A', f.hs_code,
       b.hs_revision, f.value_usd, f.qty, CASE WHEN f.qty IS NOT NULL THEN 't' END, 'baci',
       b.release
FROM baci_flows f JOIN baci_batches b USING (batch)
"""


def _is_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                       [name]).fetchall()[0][0] > 0


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("reported_flows", "baci_batches", "baci_flows"):
        con.execute(spec(name).ddl())
    if _is_table(con, "trade_flows"):
        con.execute("INSERT INTO reported_flows SELECT * FROM trade_flows WHERE source <> 'baci'")
        con.execute("""
            INSERT INTO baci_batches
            SELECT row_number() OVER (ORDER BY hs_revision, year), hs_revision, year, release
            FROM (SELECT hs_revision, year(period) AS year, max(vintage) AS release
                  FROM trade_flows WHERE source = 'baci' GROUP BY ALL)""")
        con.execute("""
            INSERT INTO baci_flows
            SELECT b.batch, f.reporter_iso3, f.partner_iso3, f.hs_code, f.value_usd, f.qty
            FROM trade_flows f
            JOIN baci_batches b ON b.hs_revision = f.hs_revision AND b.year = year(f.period)
            WHERE f.source = 'baci'""")
        con.execute("DROP TABLE trade_flows")
    con.execute(TRADE_FLOWS_VIEW)
