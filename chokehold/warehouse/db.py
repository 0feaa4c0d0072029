"""Open the warehouse (migrating it if older, refusing it if newer) and load frames into it.

Every load is one transaction: the frame is cast and checked against the table spec in a
staging table, then merged by primary key. Rows whose values (all but ``vintage``) are already
there are left alone, so loading the same data twice changes nothing; the old values of rows a
load revises or deletes are kept in ``revisions``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import duckdb

from chokehold.errors import DataError, WarehouseError
from chokehold.warehouse import views
from chokehold.warehouse.migrations import all_migrations, migration_ids
from chokehold.warehouse.schema import TableSpec, spec, table_specs

if TYPE_CHECKING:  # polars is imported where a frame is made, not to open the warehouse
    import polars as pl

Frame: TypeAlias = "pl.DataFrame | duckdb.DuckDBPyRelation"
"""What load_frame takes: a Polars frame, or a DuckDB relation on the same connection (bulk
loads that never leave DuckDB)."""

SOURCE_ROW = "_source_row"
"""Optional frame column with the row number in the source file, used in error messages."""


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot open warehouse {path}: {exc}. If the file is corrupt, move it aside and "
            "rebuild it with `chokehold refresh --offline`."
        ) from exc


def applied_migrations(con: duckdb.DuckDBPyConnection) -> set[str]:
    try:
        return {row[0] for row in con.execute("SELECT id FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:  # a new file: no migration applied yet
        return set()


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Apply the migrations the warehouse lacks; refuse one newer than this code."""
    known = all_migrations()
    applied = applied_migrations(con)
    unknown = applied - {m.id for m in known}
    if unknown:
        raise WarehouseError(
            f"warehouse {path} was written by a newer chokehold (unknown migrations "
            f"{sorted(unknown)}); upgrade chokehold or use another --warehouse."
        )
    pending = [m for m in known if m.id not in applied]
    if not pending:
        return []
    con.execute("BEGIN")
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(id VARCHAR PRIMARY KEY, description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        for migration in pending:
            migration.apply(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.id, migration.description, _now()],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return [m.id for m in pending]


def open_warehouse(
    path: Path, *, read_only: bool = False, create: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at ``path``, brought up to this code's schema.

    ``create`` makes a new file when none exists; otherwise a missing file is an error that says
    how to build one. A read-only open of an older warehouse upgrades it first. ``memory_limit``
    (e.g. ``"2GB"``, ``Settings.duckdb_memory_limit``) caps DuckDB, which then spills to disk.
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise WarehouseError(
                f"no warehouse at {path}; build it with `chokehold refresh --offline` "
                "(or point --warehouse / CHOKEHOLD_WAREHOUSE at an existing file)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=read_only)
    if read_only and not schema_current(con):
        con.close()
        with _connect(path, read_only=False) as upgrade:
            migrate(upgrade, path)
            views.create_views(upgrade)
        con = _connect(path, read_only=True)
    elif not read_only:
        migrate(con, path)
        views.create_views(con)
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


def schema_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse has every migration of this code and its views (no upgrade due)."""
    return applied_migrations(con) == set(migration_ids()) and views.current(con)


def read_query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a query and return a Polars frame."""
    return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()


def read_rows(con: duckdb.DuckDBPyConnection, sql: str,
              params: list | None = None) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts (no Polars: for quick listings)."""
    cursor = con.execute(sql, params) if params else con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


LATEST_PERIODS = """
    SELECT 'trade_flows' AS dataset, source, freq AS series, max(period) AS latest,
           count(*) AS rows FROM reported_flows GROUP BY ALL
    UNION ALL SELECT 'trade_flows', 'baci', 'A', make_date(max(b.year), 1, 1), count(*)
    FROM baci_flows JOIN baci_batches b USING (batch) HAVING count(*) > 0
    UNION ALL SELECT 'prices', source, series_id, max(date), count(*) FROM prices GROUP BY ALL
    UNION ALL SELECT 'fx_rates', source, base || '/' || quote, max(date), count(*)
    FROM fx_rates GROUP BY ALL
    UNION ALL SELECT 'production', source, commodity, make_date(max(year), 1, 1), count(*)
    FROM production GROUP BY ALL
    ORDER BY 1, 2, 3"""
"""The newest observation per dataset, source and series: the one 'latest period' query.
trade_flows is counted in its two parts (the view is reported_flows UNION ALL baci_flows with
their batch, as annual ``baci`` rows): the view's country joins would cost 6x the count."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    source_id: str
    vintage: str | None
    rows_in: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.rows_inserted or self.rows_updated or self.rows_deleted)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any error."""
    con.execute("BEGIN")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, fully consuming the result (DuckDB 2 requires that)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def _row_of(con: duckdb.DuckDBPyConnection, sql: str) -> int | None:
    row = first_row(con, sql)
    return None if row is None else int(row[0])


def _check_columns(table: TableSpec, columns: list[str], origin: str) -> None:
    missing = [c for c in table.column_names if c not in columns]
    extra = [c for c in columns if c not in table.column_names and c != SOURCE_ROW]
    if missing or extra:
        what = f"missing columns {missing}" if missing else f"unexpected columns {extra}"
        raise DataError(f"{what} for table {table.name}", source=origin,
                        field=(missing or extra)[0])


def _is_polars(frame: Any) -> bool:
    """Whether ``frame`` is a Polars frame (without importing Polars when nothing did)."""
    pl = sys.modules.get("polars")
    return pl is not None and isinstance(frame, pl.DataFrame)


@contextmanager
def _incoming(con: duckdb.DuckDBPyConnection, frame: Frame,
              numbered: bool) -> Iterator[dict[str, str]]:
    """The frame as the relation ``_incoming`` (with ``_source_row`` if ``numbered``); yields
    its column types."""
    columns = list(frame.columns)
    if _is_polars(frame):
        if numbered and SOURCE_ROW not in columns:
            frame = frame.with_row_index(SOURCE_ROW, offset=1)
        con.register("_incoming", frame)
    else:
        if numbered and SOURCE_ROW not in columns:
            frame = frame.project(f"*, row_number() OVER () AS {SOURCE_ROW}")
        frame.create_view("_incoming", replace=True)
    try:
        probe = con.sql("SELECT * FROM _incoming LIMIT 0")
        yield {name: str(kind).upper() for name, kind in zip(probe.columns, probe.types)}
    finally:
        try:
            if _is_polars(frame):
                con.unregister("_incoming")
            else:
                con.execute("DROP VIEW IF EXISTS _incoming")
        except duckdb.TransactionException:
            pass  # a failed statement aborted the transaction; its rollback drops the view


def _casts(table: TableSpec, types: dict[str, str]) -> str:
    """The spec's columns from ``_incoming``, cast where the frame's type differs."""
    return ", ".join(f'"{c.name}"' if types[c.name] == c.type.upper() else
                     f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in table.columns)


def _stage(con: duckdb.DuckDBPyConnection, table: TableSpec, frame: Frame, origin: str,
           checks: tuple[tuple[str, str], ...] = ()) -> None:
    """Cast the frame into a temp table ``_stage``, naming the first row that breaks the spec.

    Each kind of check is one set-wise scan computing, per column, the first failing row; a
    column already of the spec's type is not re-parsed. Errors name the smallest failing row
    of the first column (in spec order) that fails.
    """
    _check_columns(table, list(frame.columns), origin)
    with _incoming(con, frame, numbered=True) as types:
        to_parse = [c for c in table.columns if types[c.name] != c.type.upper()]
        _first_failure(con, "_incoming", [
            (c.name, f'"{c.name}" IS NOT NULL AND TRY_CAST("{c.name}" AS {c.type}) IS NULL',
             f"value does not parse as {c.type}") for c in to_parse], origin)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS SELECT {_casts(table, types)}, "
                    f"{SOURCE_ROW} FROM _incoming")
    rules = []
    for col in table.columns:
        if not col.nullable or col.name in table.primary_key:
            rules.append((col.name, f'"{col.name}" IS NULL', "missing value"))
        rules += [(col.name, f"NOT ({check})", f"fails check {check}") for check in col.checks]
    rules += [(field, f"NOT ({check})", f"fails check {check}") for field, check in checks]
    _first_failure(con, "_stage", rules, origin)
    pk = ", ".join(table.primary_key)
    dup = first_row(con, f"SELECT max({SOURCE_ROW}), {pk} FROM _stage GROUP BY {pk} "
                         "HAVING count(*) > 1 LIMIT 1")
    if dup is not None:
        raise DataError(f"duplicate primary key {dict(zip(table.primary_key, dup[1:]))}",
                        source=origin, row=int(dup[0]), field=table.primary_key[0])


def _first_failure(con: duckdb.DuckDBPyConnection, relation: str,
                   rules: list[tuple[str, str, str]], origin: str) -> None:
    """One scan: for each (field, failing condition, message), the first failing row; raise
    for the first rule that fails."""
    if not rules:
        return
    found = first_row(con, "SELECT " + ", ".join(
        f"min({SOURCE_ROW}) FILTER (WHERE {cond})" for _, cond, _ in rules) + f" FROM {relation}")
    for (field, _, message), row in zip(rules, found):
        if row is not None:
            raise DataError(message, source=origin, row=int(row), field=field)


@dataclass(frozen=True)
class Load:
    """One frame to merge into one table (the arguments of ``load_frame``)."""

    table: str
    frame: Frame
    source_id: str
    vintage: str | None = None
    origin: str | Path | None = None
    sha256: str | Future[str] | None = None
    """The input's checksum; a Future (hashing a large file while it loads) is awaited only
    when the load is recorded."""
    replace_scope: str | None = None
    checks: tuple[tuple[str, str], ...] = ()
    """(field, SQL predicate) pairs every row of this load must satisfy, beyond the spec's."""


class _NotAppendable(Exception):
    """A direct append failed a check; the staged path finds and names the first bad row."""


def load_frame(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    frame: Frame,
    *,
    source_id: str,
    vintage: str | None = None,
    origin: str | Path | None = None,
    sha256: str | None = None,
    replace_scope: str | None = None,
) -> LoadResult:
    """Validate ``frame`` against the table spec and merge it by primary key, in one transaction.

    ``replace_scope`` is a SQL predicate over the table's key columns naming the rows this frame
    is the whole truth for (e.g. ``"batch IN (3, 4)"``, or ``"TRUE"``); rows in that scope whose
    key is not in the frame are deleted. Without it, rows are only inserted or updated. (Over
    key columns, so that a key is in or out of the scope whatever its values: an empty scope
    can then take the frame by a plain append.)

    Raises DataError naming the origin (file or URL), source row and field of the first bad
    value; the warehouse is then unchanged.
    """
    return load_frames(con, [Load(table_name, frame, source_id, vintage, origin, sha256,
                                  replace_scope)])[0]


def load_frames(con: duckdb.DuckDBPyConnection, loads: list[Load], *,
                diagnose: Callable[[], None] | None = None,
                then: Callable[[], list[LoadResult]] | None = None) -> list[LoadResult]:
    """Load several frames in one transaction: all of them, or none (see ``load_frame``).

    Where a load's scope (``replace_scope``, else the whole table) holds no rows yet, the frame
    is appended straight into the table and checked there (the table's NOT NULL and CHECK
    constraints, then its key), so a bulk first load is written once. If that fails, all is
    rolled back; ``diagnose`` may then raise a sharper error (e.g. the file and line), and the
    loads rerun staged, which names the first bad row and field. ``then`` runs in the same
    transaction after the loads (e.g. recording lake partitions) and adds its results.
    """
    try:
        with transaction(con):
            return [_load(con, load, append=True) for load in loads] + (then() if then else [])
    except _NotAppendable:
        if diagnose is not None:
            diagnose()
    with transaction(con):
        return [_load(con, load, append=False) for load in loads] + (then() if then else [])


def _load(con: duckdb.DuckDBPyConnection, load: Load, *, append: bool) -> LoadResult:
    table = spec(load.table)
    if table.view:
        parts = [t.name for t in table_specs().values() if t.part_of == table.name]
        raise WarehouseError(f"{table.name} is a view: load its tables ({', '.join(parts)})")
    if table.lake and not table.partition_by:
        raise WarehouseError(f"{table.name} is stored in the lake: its pipeline writes partition "
                             "files (chokehold.warehouse.lake), not load_frame")
    origin = str(load.origin or load.source_id)
    started = _now()
    load_id = uuid.uuid4().hex[:12]
    scope = load.replace_scope or "TRUE"
    if table.lake:  # merged by key, partition by partition, into content-named files
        from chokehold.warehouse import lake_tables

        result = lake_tables.merge(con, table, load, origin, load_id)
    elif append and first_row(con, f"SELECT count(*) FROM (SELECT 1 FROM {table.name} "
                                 f"WHERE {scope} LIMIT 1)")[0] == 0:
        result = _append(con, table, load, origin, scope)
    else:
        result = _merge_staged(con, table, load, origin, load_id)
    sha256 = load.sha256.result() if isinstance(load.sha256, Future) else load.sha256
    _record_load(con, load_id, result, started, origin, sha256)
    return result


def _append(con: duckdb.DuckDBPyConnection, table: TableSpec, load: Load, origin: str,
            scope: str) -> LoadResult:
    """Insert every row of the frame into the (empty) scope, then assert the scope and key."""
    _check_columns(table, list(load.frame.columns), origin)
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    with _incoming(con, load.frame, numbered=False) as types:
        try:
            inserted = first_row(con, f"INSERT INTO {table.name} ({cols}) "
                                      f"SELECT {_casts(table, types)} FROM _incoming")[0]
        except (duckdb.ConstraintException, duckdb.ConversionException,
                duckdb.InvalidInputException) as exc:
            raise _NotAppendable(str(exc)) from exc
    # Bulk tables carry no CHECK constraints (see TableSpec.key_index): one scan asserts the
    # scope, the column checks and the load's own checks. A check holds when true or null.
    checks = [c for _, c in load.checks]
    if not table.key_index:
        checks += [check for col in table.columns for check in col.checks]
    failing = " OR ".join(f"NOT coalesce({check}, TRUE)" for check in checks) or "FALSE"
    in_scope, bad = first_row(con, f"SELECT count(*), count(*) FILTER (WHERE {failing}) "
                                   f"FROM {table.name} WHERE {scope}")
    if in_scope != inserted or bad:
        raise _NotAppendable("rows outside the replace scope, or a check fails")
    pk = ", ".join(f'"{k}"' for k in table.primary_key)
    if not table.key_index and first_row(
            con, f"SELECT count(*) FROM (SELECT 1 FROM {table.name} WHERE {scope} "
                 f"GROUP BY {pk} HAVING count(*) > 1 LIMIT 1)")[0]:
        raise _NotAppendable("duplicate key")
    return LoadResult(table.name, load.source_id, load.vintage, inserted, inserted, 0, 0, 0)


def _merge_staged(con: duckdb.DuckDBPyConnection, table: TableSpec, load: Load, origin: str,
                  load_id: str) -> LoadResult:
    """Stage and check the frame, classify rows against the table by key, and merge."""
    compared = [c for c in table.value_columns if c != "vintage"]
    join = " AND ".join(f's."{k}" = t."{k}"' for k in table.primary_key)
    same = " AND ".join(f's."{c}" IS NOT DISTINCT FROM t."{c}"' for c in compared) or "TRUE"
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    _stage(con, table, load.frame, origin, load.checks)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _classified AS SELECT s.*, "
        f"CASE WHEN t.\"{table.primary_key[0]}\" IS NULL THEN 'insert' "
        f"WHEN {same} THEN 'same' ELSE 'update' END AS _action "
        f"FROM _stage s LEFT JOIN {table.name} t ON {join}"
    )
    counts = dict(con.execute("SELECT _action, count(*) FROM _classified GROUP BY _action"
                              ).fetchall())
    keys = ", ".join(f'"{k}"' for k in table.primary_key)
    gone = f"({load.replace_scope}) AND ({keys}) NOT IN (SELECT ({keys}) FROM _stage)"
    deleted = 0
    if load.replace_scope is not None:
        deleted = first_row(con, f"SELECT count(*) FROM {table.name} WHERE {gone}")[0]
    if counts.get("update") or deleted:
        _record_revisions(con, table, load_id, load.vintage, compared, gone if deleted else None)
    if deleted:
        con.execute(f"DELETE FROM {table.name} WHERE {gone}")
    _merge(con, table, cols, join)
    con.execute("DROP TABLE _classified")
    con.execute("DROP TABLE _stage")
    rows_in = sum(counts.values())
    return LoadResult(table.name, load.source_id, load.vintage, rows_in, counts.get("insert", 0),
                      counts.get("update", 0), counts.get("same", 0), deleted)


def _merge(con: duckdb.DuckDBPyConnection, table: TableSpec, cols: str, join: str) -> None:
    """Write the new and changed rows of ``_classified`` into the table."""
    if table.key_index:
        con.execute(f"INSERT OR REPLACE INTO {table.name} ({cols}) "
                    f"SELECT {cols} FROM _classified WHERE _action <> 'same'")
        return
    con.execute(f"DELETE FROM {table.name} t USING _classified s "
                f"WHERE s._action = 'update' AND {join}")
    con.execute(f"INSERT INTO {table.name} ({cols}) "
                f"SELECT {cols} FROM _classified WHERE _action <> 'same'")


def _record_revisions(con: duckdb.DuckDBPyConnection, table: TableSpec, load_id: str,
                      vintage: str | None, compared: list[str], deleted_where: str | None,
                      target: str | None = None) -> None:
    """Keep the old values of revised rows (one row per changed column) and of deleted rows;
    ``target`` holds the old rows (default: the table)."""
    target = target or table.name
    key = "to_json(struct_pack({}))::VARCHAR".format(
        ", ".join(f'"{k}" := t."{k}"' for k in table.primary_key))
    has_vintage = "vintage" in table.column_names
    old_vintage = 't."vintage"' if has_vintage else "NULL"
    new_vintage = 's."vintage"' if has_vintage else "?"
    join = " AND ".join(f's."{k}" = t."{k}"' for k in table.primary_key)
    now = _now()
    for col in compared:
        params = [load_id, table.name, col] + ([] if has_vintage else [vintage]) + [now]
        con.execute(
            f"INSERT INTO revisions (load_id, table_name, row_key, column_name, old_value, "
            f"new_value, old_vintage, new_vintage, recorded_at) "
            f"SELECT ?, ?, {key}, ?, CAST(t.\"{col}\" AS VARCHAR), CAST(s.\"{col}\" AS VARCHAR), "
            f"{old_vintage}, {new_vintage}, ? FROM _classified s JOIN {target} t ON {join} "
            f"WHERE s._action = 'update' AND s.\"{col}\" IS DISTINCT FROM t.\"{col}\"",
            params)
    if deleted_where is not None:
        row = "to_json(struct_pack({}))::VARCHAR".format(
            ", ".join(f'"{c}" := t."{c}"' for c in compared)) if compared else "NULL"
        con.execute(
            f"INSERT INTO revisions (load_id, table_name, row_key, column_name, old_value, "
            f"new_value, old_vintage, new_vintage, recorded_at) "
            f"SELECT ?, ?, {key}, '*', {row}, NULL, {old_vintage}, ?, ? FROM {target} t "
            f"WHERE {deleted_where}",
            [load_id, table.name, vintage, now])


def record_load(con: duckdb.DuckDBPyConnection, result: LoadResult, *, started: datetime,
                origin: str | Path, sha256: str | Future[str] | None) -> str:
    """Count a load that did not go through load_frame (lake partitions) into load_runs;
    returns its load id."""
    digest = sha256.result() if isinstance(sha256, Future) else sha256
    load_id = uuid.uuid4().hex[:12]
    _record_load(con, load_id, result, started, str(origin), digest)
    return load_id


def _record_load(con: duckdb.DuckDBPyConnection, load_id: str, result: LoadResult,
                 started: datetime, origin: str, sha256: str | None) -> None:
    finished = _now()
    if result.vintage is not None:
        con.execute(
            "INSERT OR IGNORE INTO vintages VALUES (?, ?, ?, ?, ?)",
            [result.source_id, result.vintage, finished, origin, sha256],
        )
    con.execute(
        "INSERT INTO load_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL)",
        [load_id, result.source_id, result.table, result.vintage, started,
         finished, result.rows_in, result.rows_inserted, result.rows_updated,
         result.rows_unchanged, result.rows_deleted],
    )
