"""Errors that reach the user: each says what is wrong, where, and what is valid."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

SOURCE_ROW = "_source_row"
"""The column in which readers keep each row's line in its file (1 = the first data row)."""


class ChokeholdError(Exception):
    """A problem the user can fix; the CLI prints it and exits non-zero (exit code 2)."""

    exit_code = 2


class DataError(ChokeholdError):
    """Bad input data: names the file (or URL), row and field where known."""

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        sheet: str | None = None,
    ) -> None:
        self.source, self.row, self.field, self.sheet = source, row, field, sheet
        where = [f"{label} {value}" for label, value in (
            ("file", source), ("sheet", sheet), ("row", row), ("field", field)
        ) if value is not None]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class UnknownValueError(ChokeholdError):
    """A name (country, commodity, control, ...) that is not known; lists the valid ones."""

    def __init__(self, kind: str, value: object, valid: Iterable[object]) -> None:
        valid_list = sorted(str(v) for v in valid)
        shown = ", ".join(valid_list[:60]) + (" ..." if len(valid_list) > 60 else "")
        super().__init__(f"unknown {kind} {value!r}; valid: {shown}")
        self.kind, self.value, self.valid = kind, value, valid_list


class WarehouseError(ChokeholdError):
    """The warehouse file is missing, corrupt, or of a schema this code cannot use."""


NO_SPACE_TEXTS = ("No space left on device", "os error 28")
"""How a full disk reads in the errors of libraries that do not raise OSError (DuckDB's
IOException and FatalException, polars' ComputeError, pyarrow's ArrowIOError)."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a write to a full disk."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if any(text in str(seen) for text in NO_SPACE_TEXTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DiskFullError(ChokeholdError):
    """A write failed because its disk is full (exit code 4: free space and run again)."""

    exit_code = 4

    def __init__(self, doing: str, exc: BaseException) -> None:
        super().__init__(f"no space left on device while {doing} ({_first_line(exc)}); free "
                         "space on that disk and run again")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def fail_where(frame: pl.DataFrame, condition: pl.Expr | pl.Series, *, source: str | Path,
               field: str, message: str | Callable[[object], str],
               show: str | None = None) -> None:
    """Raise a DataError at the first row (lowest ``_source_row``) where ``condition`` holds,
    naming the file, row and field; ``message`` may be a function of that row's ``show`` (or
    ``field``) value. The one file-and-row check every reader uses."""
    bad = frame.filter(condition)
    if not bad.height:
        return
    first = bad.sort(SOURCE_ROW).row(0, named=True) if SOURCE_ROW in bad.columns \
        else bad.row(0, named=True)
    text = message(first.get(show or field)) if callable(message) else message
    row = first.get(SOURCE_ROW)
    raise DataError(text, source=source, row=int(row) if row is not None else None, field=field)
