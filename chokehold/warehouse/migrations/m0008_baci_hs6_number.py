"""baci_flows keeps the HS6 line as a number (hs6 UINTEGER) instead of six-character text.

Parsing and storing BACI's k as text was a third of a year's load (2 of 6 s for 11 million
rows); the trade_flows view gives it back as the six-digit text code (10121 -> '010121').
"""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "baci_flows: HS6 line stored as a number (hs6); trade_flows shows it as text"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild baci_flows with hs6 where it still has the text column hs_code."""
    text_code = con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = "
                            "'baci_flows' AND column_name = 'hs_code'").fetchall()[0][0]
    if not text_code:
        return
    table = spec("baci_flows")
    con.execute("DROP VIEW IF EXISTS trade_flows")
    con.execute(table.ddl(name="baci_flows_hs6"))
    con.execute("INSERT INTO baci_flows_hs6 SELECT batch, importer_code, exporter_code, "
                "CAST(hs_code AS UINTEGER), value_usd, qty FROM baci_flows")
    con.execute("DROP TABLE baci_flows")
    con.execute("ALTER TABLE baci_flows_hs6 RENAME TO baci_flows")
