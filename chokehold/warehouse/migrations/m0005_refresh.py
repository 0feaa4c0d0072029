"""The scheduled refresh: run log, per-source fingerprints, revisions, published vintages."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "refresh: refresh_runs, refresh_run_sources, source_state, revisions, published_vintages"

TABLES = ("refresh_runs", "refresh_run_sources", "source_state", "revisions", "published_vintages")


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
