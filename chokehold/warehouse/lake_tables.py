"""Lake tables that load_frame merges by key (``storage: lake`` with ``partition_by``).

``reported_flows`` is loaded like any table (staged, checked, merged by key, counted into
load_runs, old values of revised rows kept in revisions), but its rows live in the lake: one
content-named Parquet file per partition (source, frequency, reporter, year; docs/lake.md),
listed by the catalog ``lake_files``. A load reads only the partitions its rows fall in,
writes a new file for each partition whose rows change (beside the old one, which vintages may
still reference) and records it in the load's transaction; an unchanged partition keeps its
file. A rolled-back or killed load leaves only orphan files, which the next refresh removes.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from chokehold.errors import WarehouseError
from chokehold.warehouse import db, lake, views
from chokehold.warehouse.schema import TableSpec

HIVE_VALUE = re.compile(r"[A-Za-z0-9_.+-]+")
"""What a partition value may be: it is a folder name (key=value)."""


def _literal(value: object) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def _partition_columns(table: TableSpec) -> str:
    return ", ".join(f'{expr} AS "{key}"' for key, expr in table.partition_by)


def part_name(table: TableSpec, values: tuple) -> str:
    """The partition folder of a row's partition values (``reported_flows/source=.../year=...``)."""
    for (key, _), value in zip(table.partition_by, values, strict=True):
        if not HIVE_VALUE.fullmatch(str(value)):
            raise WarehouseError(f"{table.name}: {key} {value!r} cannot name a lake partition "
                                 "(letters, digits and _.+- only)")
    return lake.part_dir(table.name, **{k: v for (k, _), v in zip(table.partition_by, values)})


def partitions(con: duckdb.DuckDBPyConnection, table: TableSpec, relation: str) -> list[tuple]:
    """The partition values of a relation's rows."""
    return con.execute(f"SELECT DISTINCT {_partition_columns(table)} FROM {relation} "
                       "ORDER BY ALL").fetchall()


def write_partitions(con: duckdb.DuckDBPyConnection, lake_dir: Path, table: TableSpec,
                     relation: str, parts: list[tuple]) -> list[lake.PartFile]:
    """Write each partition's rows of ``relation`` (in the table's columns, ordered by key, so
    the same rows make the same file) as a sealed, content-named file; not yet recorded."""
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    order = ", ".join(f'"{k}"' for k in table.primary_key)
    entries = []
    for values in parts:
        where = " AND ".join(f"({expr}) = {_literal(v)}"
                             for (_, expr), v in zip(table.partition_by, values))
        part = part_name(table, values)
        tmp = lake.write_temp(con, lake_dir, part,
                              f"SELECT {cols} FROM {relation} WHERE {where} ORDER BY {order}")
        entries.append(lake.seal(con, lake_dir, table.name, part, tmp, None))
    return entries


def merge(con: duckdb.DuckDBPyConnection, table: TableSpec, load: db.Load, origin: str,
          load_id: str) -> db.LoadResult:
    """Merge a frame into a lake table by key, in the caller's transaction (see module doc)."""
    lake_dir = lake.root(con)
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    keys = ", ".join(f'"{k}"' for k in table.primary_key)
    join = " AND ".join(f's."{k}" = t."{k}"' for k in table.primary_key)
    compared = [c for c in table.value_columns if c != "vintage"]
    same = " AND ".join(f's."{c}" IS NOT DISTINCT FROM t."{c}"' for c in compared) or "TRUE"
    db._stage(con, table, load.frame, origin, load.checks)
    touched = set(partitions(con, table, "_stage"))
    if load.replace_scope is not None:
        touched |= set(partitions(con, table, f"(SELECT * FROM {table.name} "
                                              f"WHERE {load.replace_scope})"))
    known = {e.part: e for e in lake.catalog(con, table.name)}
    names = {part_name(table, values) for values in touched}
    old_files = sorted(lake_dir / known[p].path for p in names if p in known)
    old_rows = views.lake_table_select(table, old_files)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lake_old AS {old_rows}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _classified AS SELECT s.*, "
                f"CASE WHEN t.\"{table.primary_key[0]}\" IS NULL THEN 'insert' "
                f"WHEN {same} THEN 'same' ELSE 'update' END AS _action "
                f"FROM _stage s LEFT JOIN _lake_old t ON {join}")
    counts = dict(con.execute("SELECT _action, count(*) FROM _classified GROUP BY _action"
                              ).fetchall())
    gone = (f"({load.replace_scope}) AND ({keys}) NOT IN (SELECT ({keys}) FROM _stage)"
            if load.replace_scope is not None else "FALSE")
    deleted = db.first_row(con, f"SELECT count(*) FROM _lake_old WHERE {gone}")[0]
    if counts.get("update") or deleted:
        db._record_revisions(con, table, load_id, load.vintage, compared,
                             gone if deleted else None, target="_lake_old")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _lake_new AS
        SELECT {cols} FROM _lake_old t WHERE NOT ({gone}) AND NOT EXISTS (
            SELECT 1 FROM _classified s WHERE s._action = 'update' AND {join})
        UNION ALL SELECT {cols} FROM _classified WHERE _action <> 'same'""")
    changed = set(partitions(con, table, "(SELECT * FROM _classified WHERE _action <> 'same')"))
    changed |= set(partitions(con, table, f"(SELECT * FROM _lake_old WHERE {gone})"))
    kept = set(partitions(con, table, "_lake_new"))
    for entry in write_partitions(con, lake_dir, table, "_lake_new", sorted(changed & kept)):
        lake.record(con, entry)
    for values in changed - kept:
        lake.drop(con, table.name, part_name(table, values))
    for temp in ("_lake_new", "_classified", "_lake_old", "_stage"):
        con.execute(f"DROP TABLE {temp}")
    if changed:
        views.create_views(con, lake_dir)
    return db.LoadResult(table.name, load.source_id, load.vintage, sum(counts.values()),
                         counts.get("insert", 0), counts.get("update", 0), counts.get("same", 0),
                         deleted)
