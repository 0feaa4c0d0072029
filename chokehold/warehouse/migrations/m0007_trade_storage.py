"""trade_flows becomes a view over reported_flows and a compact baci_flows.

A BACI year is ~11 million rows. Stored in trade_flows' twelve columns, five of them the same
on every row, the load cost twice a bare read of the file; baci_flows keeps six columns, four
of them numbers (countries by BACI code), and baci_batches the per-year constants (revision,
year, release). Existing rows move across. (Tables and views are created in their current
shape: since m0008 the HS6 line is a number; views.py creates the view trade_flows.)
"""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec
from chokehold.warehouse.views import BACI_COUNTRIES

DESCRIPTION = "trade_flows: a view over reported_flows and baci_flows (+ baci_batches, baci_countries)"


def _is_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                       [name]).fetchall()[0][0] > 0


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("reported_flows", "baci_batches", "baci_flows"):
        con.execute(spec(name).ddl())
    con.execute(BACI_COUNTRIES)  # the move below maps ISO3 back to codes with it
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
            SELECT b.batch, m.code, x.code, CAST(f.hs_code AS UINTEGER), f.value_usd, f.qty
            FROM trade_flows f
            JOIN baci_batches b ON b.hs_revision = f.hs_revision AND b.year = year(f.period)
            LEFT JOIN code m ON m.iso3 = f.reporter_iso3
            LEFT JOIN code x ON x.iso3 = f.partner_iso3
            WHERE f.source = 'baci'""")
        con.execute("DROP TABLE trade_flows")
