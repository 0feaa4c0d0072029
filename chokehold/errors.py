"""Errors that reach the user: each says what is wrong, where, and what is valid."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


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
