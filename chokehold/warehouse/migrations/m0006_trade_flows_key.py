"""trade_flows keeps its key without a DuckDB index (see key_index in tables/core.yaml).

m0007 later splits the table into reported_flows and baci_flows."""

from __future__ import annotations

import duckdb

DESCRIPTION = "trade_flows: key asserted by the loader, not a DuckDB index (bulk-load speed)"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild trade_flows without its PRIMARY KEY index if an older warehouse still has it."""
    indexed = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'trade_flows' "
        "AND constraint_type = 'PRIMARY KEY'").fetchall()[0][0]
    if not indexed:
        return
    # Constraints come back when m0007 moves the rows into reported_flows and baci_flows.
    con.execute("CREATE TABLE trade_flows_rebuilt AS SELECT * FROM trade_flows")
    con.execute("DROP TABLE trade_flows")
    con.execute("ALTER TABLE trade_flows_rebuilt RENAME TO trade_flows")
