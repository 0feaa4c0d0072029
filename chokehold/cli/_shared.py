"""What every command shares: settings from the context, warehouse access, output formats.

Light on purpose (no Polars, no pydantic at import): ``chokehold status`` starts with this."""

from __future__ import annotations

import csv
import functools
import inspect
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from contextvars import ContextVar
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import duckdb
import typer
from rich.console import Console

from chokehold.errors import ChokeholdError, is_disk_full
from chokehold.warehouse import open_warehouse
from chokehold.warehouse.staging import RefreshLock, lock_path

if TYPE_CHECKING:
    import polars as pl

    from chokehold.config import Settings


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"


FORMAT_OPTION = typer.Option("--format", "-f", help="table for people; json or csv for scripts; "
                             "parquet or xlsx (with --output FILE) for files.")
OUTPUT_OPTION = typer.Option("--output", "-o", help="Write the listing to FILE (any --format; "
                             "parquet and xlsx need it) instead of the terminal.")
OUTPUT_FILE: ContextVar[Path | None] = ContextVar("chokehold_output_file", default=None)
"""The --output of the running command (set by ``with_output_option``)."""


def with_output_option(callback: Callable[..., Any]) -> Callable[..., Any]:
    """The command ``callback`` with an ``--output FILE`` option that ``emit`` honours; added to
    every command that has a ``fmt`` parameter, so no command repeats it."""
    signature = inspect.signature(callback, eval_str=True)
    if "fmt" not in signature.parameters or "output" in signature.parameters:
        return callback

    @functools.wraps(callback)
    def wrapper(*args: Any, output: Path | None = None, **kwargs: Any) -> Any:
        token = OUTPUT_FILE.set(output)
        try:
            return callback(*args, **kwargs)
        finally:
            OUTPUT_FILE.reset(token)

    extra = inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Path | None, OUTPUT_OPTION])
    params = [*signature.parameters.values(), extra]
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of the running command (loaded on first use: a bad chokehold.toml or
    CHOKEHOLD_* variable is reported, exit 2, by the first command that needs them)."""
    from chokehold.cli import LazySettings

    obj = ctx.find_root().obj
    return obj.get() if isinstance(obj, LazySettings) else obj


def warehouse_of(ctx: typer.Context) -> Path:
    """The warehouse file of the running command (without loading all settings when only the
    defaults and --warehouse apply)."""
    from chokehold.cli import LazySettings

    obj = ctx.find_root().obj
    return obj.warehouse() if isinstance(obj, LazySettings) else obj.warehouse


def open_read(ctx: typer.Context) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only (upgraded first if its schema is older than this code)."""
    return open_warehouse(warehouse_of(ctx), read_only=True)


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


def _is_frame(data: Any) -> bool:
    """Whether ``data`` is a Polars frame (Polars is not imported to find out)."""
    pl = sys.modules.get("polars")
    return pl is not None and isinstance(data, pl.DataFrame)


def records(frame: pl.DataFrame | Sequence[dict]) -> list[dict]:
    rows = frame.to_dicts() if _is_frame(frame) else list(frame)
    return [{k: _jsonable(v) for k, v in row.items()} for row in rows]


def emit(data: pl.DataFrame | Sequence[dict], fmt: OutputFormat, title: str | None = None) -> None:
    """Print rows as a rich table, a JSON array of objects, or CSV; or write them to --output
    (parquet and xlsx carry each column's unit and the sources; see cli/_output.py)."""
    from chokehold.cli import _output

    target = OUTPUT_FILE.get()
    if target is None and fmt in (OutputFormat.parquet, OutputFormat.xlsx):
        raise ChokeholdError(f"--format {fmt.value} writes a file: add --output FILE")
    if target is not None:
        _check_output(target)
    rows = records(data)
    columns = list(data.columns) if _is_frame(data) else (list(rows[0]) if rows else [])
    if target is None:
        _print(rows, columns, fmt, title)
        return
    with _replaced_whole(target) as partial:
        if fmt is OutputFormat.parquet:
            import polars as pl

            frame = data if _is_frame(data) else pl.DataFrame(list(data))
            _output.write_parquet(frame, partial, title)
        elif fmt is OutputFormat.xlsx:
            _output.write_xlsx(columns, rows, partial, title)
        else:
            with open(partial, "w", encoding="utf-8") as out, redirect_stdout(out):
                _print(rows, columns, fmt, title)
    Console(stderr=True).print(f"wrote {len(rows)} rows to {target}", highlight=False,
                               soft_wrap=True, markup=False)


def _check_output(target: Path) -> None:
    """Refuse, in one line, an --output that cannot be a file, before anything is written
    (any other failure to write it is ``_writing``'s)."""
    if target.is_dir():
        raise ChokeholdError(f"--output {target} is a folder: give a file name in it")
    if not target.parent.is_dir():
        raise ChokeholdError(f"--output {target}: folder {target.parent} does not exist")


@contextmanager
def _replaced_whole(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target`` that replaces it once written: a failed write (a
    full disk, Ctrl-C) leaves the old file, or none, never part of one. A target that is not
    a file (``/dev/stdout``, a pipe) is written as it is: it cannot be replaced."""
    if target.exists() and not target.is_file():
        with _writing(target):
            yield target
        return
    partial = target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")
    try:
        with _writing(target):
            yield partial
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """An OSError while writing --output as one line (exit 2); a full disk stays exit 4."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise
        raise ChokeholdError(f"--output {target}: cannot write it ({exc.strerror or exc})"
                             ) from exc


def _print(rows: list[dict], columns: list[str], fmt: OutputFormat, title: str | None) -> None:
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
        return
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

    # Data are not emoji codes (and rich's emoji table alone takes ~40 ms to import).
    print_table(columns, rows, title, console=Console(file=sys.stdout, emoji=False))
