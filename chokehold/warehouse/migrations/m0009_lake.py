"""Bulk facts move to the lake: baci_flows becomes immutable Parquet partitions (one file per
HS revision and year, named by its SHA-256) listed by the catalog lake_files, and a view.

Each batch's rows are written to ``<lake>/baci_flows/hs_revision=<rev>/year=<year>/`` in the
lake's column types (signed: SMALLINT countries, INTEGER hs6), then the table is dropped. If the
migration fails, its transaction rolls back and the files it wrote are orphans that the next
refresh removes.
"""

from __future__ import annotations

import duckdb

from chokehold.warehouse import lake
from chokehold.warehouse.schema import spec

DESCRIPTION = "lake: baci_flows as Parquet partitions under <warehouse dir>/lake, catalog lake_files"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(spec("warehouse_meta").ddl())
    con.execute(spec("lake_files").ddl())
    is_table = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'baci_flows'"
                           ).fetchall()[0][0]
    if not is_table:
        return
    root = lake.root(con)
    batches = con.execute("SELECT batch, hs_revision, year, release FROM baci_batches "
                          "WHERE batch IN (SELECT DISTINCT batch FROM baci_flows) ORDER BY batch"
                          ).fetchall()
    for batch, revision, year, release in batches:
        part = lake.part_dir("baci_flows", hs_revision=revision, year=year)
        tmp = lake.write_temp(con, root, part, lake_select(f"baci_flows WHERE batch = {batch}"))
        lake.record(con, lake.seal(con, root, "baci_flows", part, tmp, release))
    con.execute("DROP TABLE baci_flows")


def lake_select(relation: str) -> str:
    """baci_flows rows of a relation in the lake file's columns and types."""
    return ("SELECT CAST(exporter_code AS SMALLINT) AS exporter_code, "
            "CAST(importer_code AS SMALLINT) AS importer_code, CAST(hs6 AS INTEGER) AS hs6, "
            f"CAST(value_usd AS DOUBLE) AS value_usd, CAST(qty AS DOUBLE) AS qty FROM {relation}")
