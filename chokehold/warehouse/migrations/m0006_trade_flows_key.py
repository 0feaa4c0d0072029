"""trade_flows keeps its key without a DuckDB index (see key_index in tables/core.yaml)."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "trade_flows: key asserted by the loader, not a DuckDB index (bulk-load speed)"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild trade_flows without its PRIMARY KEY index if an older warehouse still has it."""
    indexed = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'trade_flows' "
        "AND constraint_type = 'PRIMARY KEY'").fetchall()[0][0]
    if not indexed:
        return
    table = spec("trade_flows")
    con.execute(table.ddl(name="trade_flows_rebuilt"))
    con.execute("INSERT INTO trade_flows_rebuilt SELECT * FROM trade_flows")
    con.execute("DROP TABLE trade_flows")
    con.execute("ALTER TABLE trade_flows_rebuilt RENAME TO trade_flows")
