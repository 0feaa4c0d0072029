"""Terminal output for people: numbers formatted, nothing split across lines, wide results
folded into one record per block; and the note that says why an answer is empty.

JSON and CSV stay raw (see ``_shared.emit``); only the table view is formatted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

SHARE_WORDS = ("share", "ratio_of_total")
"""Columns whose 0-1 values are shares, shown as percentages."""


def note_empty(message: str) -> None:
    """Say on stderr what is empty and why (the answer itself stays an empty listing)."""
    Console(stderr=True).print(f"nothing to show: {message}", highlight=False, soft_wrap=True,
                               markup=False)


def human(value: Any, column: str = "") -> str:
    """One cell for people: thousands separators, M/bn for large amounts, shares as %."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value) if _code_like(column) else f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if any(w in column for w in SHARE_WORDS) and -1.0 <= value <= 1.0:
            return f"{value:.1%}"
        size = abs(value)
        if size >= 1e9:
            return f"{value / 1e9:,.2f} bn"
        if size >= 1e6:
            return f"{value / 1e6:,.2f} M"
        if size >= 1:
            return f"{value:,.2f}"
        return f"{value:.4g}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _code_like(column: str) -> bool:
    """Integers that are years, codes or ids: no thousands separators."""
    return any(w in column for w in ("year", "code", "m49", "pid", "hs", "batch")) or \
        column.endswith("_id") or column in ("id", "k", "t", "i", "j")


def _atomic(value: Any) -> bool:
    """Numbers, dates and booleans are never wrapped."""
    return isinstance(value, (int, float, date, datetime)) or (
        isinstance(value, str) and len(value) <= 12 and " " not in value)


TRUNCATED = ("description",)
"""Text columns cut to the room the others leave (ending in '…') rather than wrapped: a long
name beside each row (the screen's HS descriptions); JSON and CSV keep the full text."""


def _record_blocks(columns: Sequence[str], cells: list[list[str]], title: str | None) -> Text:
    """One block per record (``key  value`` lines), built as one text: one print, not one a
    line (rich's per-call cost was most of `chokehold status`)."""
    out = Text()
    if title:
        out.append(f"{title}\n")
    out.append("(too wide for this terminal: one record per block; use --format csv for a "
               "table)\n", style="dim")
    key_width = max(len(c) for c in columns)
    for n, cell_row in enumerate(cells):
        out.append(f"\n— {n + 1} —\n", style="bold")
        for c, text in zip(columns, cell_row):
            out.append(f"{c:<{key_width}}  {text}\n")
    return out


def print_table(columns: Sequence[str], rows: Sequence[dict], title: str | None = None,
                console: Console | None = None) -> None:
    """A rich table whose numbers and dates never split; if it cannot fit the terminal, one
    record per block instead (and a pointer to --format csv)."""
    console = console or Console()
    if not rows:
        console.print(f"{title + ': ' if title else ''}(no rows)", highlight=False, markup=False)
        return
    cells = [[human(row.get(c), c) for c in columns] for row in rows]
    empty = [c for i, c in enumerate(columns) if not any(r[i] for r in cells)]
    if empty and len(empty) < len(columns):  # nothing to read in them (JSON and CSV keep them)
        kept = [i for i, c in enumerate(columns) if c not in empty]
        columns, cells = [columns[i] for i in kept], [[r[i] for i in kept] for r in cells]
        title = f"{title or ''} (empty here: {', '.join(empty)})".strip()
    atomic = [all(_atomic(row.get(c)) for row in rows) for c in columns]
    # The narrowest the table can be: atomic cells whole, text at 12, headers wrapped at spaces.
    headers = [c.replace("_", " ") for c in columns]
    widths = [max([max(len(w) for w in h.split()),
                   *((len(r[i]) if atomic[i] else min(12, len(r[i]))) for r in cells)])
              for i, h in enumerate(headers)]
    need = sum(w + 3 for w in widths) + 1
    if need > console.width and rows:
        console.print(_record_blocks(columns, cells, title), overflow="fold", end="")
        return
    table = Table(title=Text(title) if title else None, show_lines=False)
    cut = [i for i, col in enumerate(columns) if col in TRUNCATED and not atomic[i]]
    for i, col in enumerate(columns):
        numeric = rows and all(isinstance(row.get(col), (int, float)) and
                               not isinstance(row.get(col), bool) for row in rows
                               if row.get(col) is not None)
        if cut:  # every column at its narrowest, the cut one takes the rest (exact widths:
            #      rich's own sharing can overshoot the terminal by a few columns)
            room = console.width - sum(w + 3 for j, w in enumerate(widths) if j not in cut) - 1
            table.add_column(headers[i], width=(max(widths[i], room // len(cut) - 3)
                                                if i in cut else widths[i]),
                             no_wrap=i in cut, overflow="ellipsis" if i in cut else "fold",
                             justify="right" if numeric else "left")
            continue
        table.add_column(headers[i], overflow="fold", min_width=widths[i] if atomic[i] else None,
                         justify="right" if numeric else "left")
    for cell_row in cells:  # as Text: no markup parsed (a "[...]" in a name stays), no emoji
        table.add_row(*map(Text, cell_row))
    console.print(table)


# ---------------------------------------------------------------------------------------------
# Files: --format parquet / xlsx (and csv / json) written to --output FILE


def column_notes(columns: Sequence[str]) -> list[dict[str, str | None]]:
    """Unit and meaning of each column, from the warehouse schema (tables/*.yaml) where a table
    defines a column of that name (the first such table, alphabetically, is named)."""
    from chokehold.warehouse import table_specs

    known: dict[str, tuple[str, Any]] = {}
    for name, spec in sorted(table_specs().items()):
        for col in spec.columns:
            known.setdefault(col.name, (name, col))
    notes = []
    for c in columns:
        table, col = known.get(c, (None, None))
        notes.append({"column": c, "unit": getattr(col, "unit", None),
                      "description": getattr(col, "description", None), "defined_in": table})
    return notes


def about(title: str | None, rows: Sequence[dict]) -> dict[str, str]:
    """File-level provenance: what was asked, when, and the sources and vintages in the rows."""
    import sys

    def distinct(key: str) -> str:
        return "; ".join(sorted({str(r[key]) for r in rows if r.get(key) is not None}))

    return {"title": title or "", "command": " ".join(["chokehold", *sys.argv[1:]]),
            "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "sources": distinct("source"), "vintages": distinct("vintage")}


def write_parquet(frame: Any, path: Any, title: str | None) -> None:
    """Parquet with each column's unit and description in its field metadata and the file's
    provenance in the schema metadata (key ``chokehold``)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame.to_arrow()
    notes = {n["column"]: n for n in column_notes(table.column_names)}
    fields = [f.with_metadata({k: str(v) for k, v in notes[f.name].items()
                               if v is not None and k != "column"}) for f in table.schema]
    meta = {"chokehold": json.dumps({**about(title, frame.to_dicts()),
                                     "columns": list(notes.values())}, ensure_ascii=False)}
    table = table.cast(pa.schema(fields, metadata=meta))
    pq.write_table(table, path)


def write_xlsx(columns: Sequence[str], rows: Sequence[dict], path: Any, title: str | None
               ) -> None:
    """A workbook: sheet ``data`` (raw values), sheet ``columns`` (unit, description, table of
    each column) and sheet ``about`` (title, command, time, sources, vintages)."""
    from openpyxl import Workbook

    book = Workbook()
    data = book.active
    data.title = "data"
    data.append(list(columns))
    for row in rows:
        data.append([_excel(row.get(c)) for c in columns])
    notes = book.create_sheet("columns")
    notes.append(["column", "unit", "description", "defined_in"])
    for note in column_notes(columns):
        notes.append([note["column"], note["unit"], note["description"], note["defined_in"]])
    info = book.create_sheet("about")
    for key, value in about(title, rows).items():
        info.append([key, value])
    book.save(path)


def _excel(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return value
