"""Expected row counts of the offline build, per table and year (PUDL-style).

``tests/data/expected_row_counts.csv`` holds, for every dataset of a warehouse built from the
embedded data (``chokehold refresh --offline``), its row count per year of its period column
(one row with an empty year for datasets without one). ``test_row_counts.py`` compares a fresh
build against it, so a change in what a source loads shows up as a named difference.

Refresh the file after an intended change with ``make row-counts`` (this module as a script).
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import duckdb

from chokehold.config import load_settings
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines.refresh import run_sources
from chokehold.vintages import PERIODS, snapshot_tables
from chokehold.warehouse import open_warehouse

EXPECTED = Path(__file__).parent / "data" / "expected_row_counts.csv"
FIELDS = ("table", "year", "rows")


def row_counts(con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """Rows per dataset and year (year of its period column; '' where it has none)."""
    out = []
    for table in sorted(snapshot_tables()):
        column = PERIODS.get(table, (None,))[0]
        year = (f'"{column}"' if column == "year" else f'year("{column}")') if column else "NULL"
        for value, rows in con.execute(f"SELECT {year} AS y, count(*) FROM {table} "
                                       "GROUP BY y ORDER BY y NULLS FIRST").fetchall():
            out.append({"table": table, "year": "" if value is None else str(value),
                        "rows": str(rows)})
    return out


def read_expected(path: Path = EXPECTED) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_expected(rows: list[dict[str, str]], path: Path = EXPECTED) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def build_offline(folder: Path) -> Path:
    """The offline warehouse, as ``chokehold refresh --offline`` loads it, in ``folder``."""
    path = folder / "warehouse.duckdb"
    with open_warehouse(path, create=True) as con:
        run_sources(con, load_settings(warehouse=path), OFFLINE_SOURCES, show_progress=False)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="chokehold-counts-") as folder:
        with open_warehouse(build_offline(Path(folder)), read_only=True) as con:
            rows = row_counts(con)
    write_expected(rows)
    sys.stdout.write(f"wrote {len(rows)} counts to {EXPECTED}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
