"""The DuckDB warehouse: opening, migrating, and idempotent transactional loads."""

from chokehold.warehouse.db import (
    Load,
    LoadResult,
    first_row,
    load_frame,
    load_frames,
    open_warehouse,
    read_query,
    transaction,
)
from chokehold.warehouse.schema import TableSpec, spec, table_specs

__all__ = [
    "Load",
    "LoadResult",
    "TableSpec",
    "first_row",
    "load_frame",
    "load_frames",
    "open_warehouse",
    "read_query",
    "spec",
    "table_specs",
    "transaction",
]
