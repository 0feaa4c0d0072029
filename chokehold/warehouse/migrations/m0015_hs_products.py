"""HS product descriptions (hs_products), shown beside HS codes in the screen."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "hs_products: HS six-digit descriptions"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(spec("hs_products").ddl())
