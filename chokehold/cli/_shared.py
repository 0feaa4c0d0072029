"""What every command shares: settings from the context, warehouse access, output formats."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any

import duckdb
import polars as pl
import typer

from chokehold.config import Settings
from chokehold.warehouse import open_warehouse
from chokehold.warehouse.staging import RefreshLock, lock_path


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FORMAT_OPTION = typer.Option("--format", "-f", help="table for people; json or csv for scripts.")


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj


def open_read(ctx: typer.Context) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only (upgraded first if its schema is older than this code)."""
    return open_warehouse(settings_of(ctx).warehouse, read_only=True)


@contextmanager
def open_write(ctx: typer.Context) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, writable, under the refresh lock: a write outside a refresh (a saved
    scenario run, ...) waits for a running refresh (``refresh_lock_wait_s``) or is refused with
    exit 75, instead of landing in a file the refresh's swap then replaces."""
    settings = settings_of(ctx)
    with RefreshLock(lock_path(settings.warehouse), settings.refresh_lock_wait_s), \
            open_warehouse(settings.warehouse) as con:
        yield con


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def records(frame: pl.DataFrame | Sequence[dict]) -> list[dict]:
    rows = frame.to_dicts() if isinstance(frame, pl.DataFrame) else list(frame)
    return [{k: _jsonable(v) for k, v in row.items()} for row in rows]


def emit(data: pl.DataFrame | Sequence[dict], fmt: OutputFormat, title: str | None = None) -> None:
    """Print rows as a rich table, a JSON array of objects, or CSV."""
    rows = records(data)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    columns = list(data.columns) if isinstance(data, pl.DataFrame) else (
        list(rows[0]) if rows else [])
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(map(str, v)) if isinstance(v, list) else v
                             for k, v in row.items()})
        sys.stdout.write(buffer.getvalue())
        return
    from chokehold.cli._output import print_table

    print_table(columns, rows, title)
