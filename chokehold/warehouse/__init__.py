"""The DuckDB warehouse: opening, migrating, and idempotent transactional loads."""

from chokehold.warehouse.db import (
    LoadResult,
    first_row,
    load_frame,
    open_warehouse,
    read_query,
    transaction,
)
from chokehold.warehouse.schema import TableSpec, spec, table_specs

__all__ = [
    "LoadResult",
    "TableSpec",
    "first_row",
    "load_frame",
    "open_warehouse",
    "read_query",
    "spec",
    "table_specs",
    "transaction",
]
