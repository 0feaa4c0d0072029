"""reported_flows moves to the lake: one content-named Parquet file per source, frequency,
reporter and year, listed by the catalog lake_files, read through a view.

Until now the table stayed in the DuckDB file and each publish wrote a copy to the lake by
source, frequency and reporter. Those catalog entries are dropped (vintages that list the
files keep them until retention prunes the vintages); the rows are written in the new
partitions, then the table is dropped. If the migration fails, its transaction rolls back and
the files it wrote are orphans that the next refresh removes.
"""

from __future__ import annotations

import duckdb

from chokehold.warehouse import lake, lake_tables
from chokehold.warehouse.schema import spec

DESCRIPTION = "lake: reported_flows as Parquet partitions by source, freq, reporter and year"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reported_flows'"
                       ).fetchall()[0][0]:
        return
    table, root = spec("reported_flows"), lake.root(con)
    con.execute("DELETE FROM lake_files WHERE table_name = 'reported_flows'")
    parts = lake_tables.partitions(con, table, "reported_flows")
    for entry in lake_tables.write_partitions(con, root, table, "reported_flows", parts):
        lake.record(con, entry)
    con.execute("DROP TABLE reported_flows")
