"""Run sources into the warehouse: the scheduled refresh (incremental, atomic, locked, logged).

``refresh_warehouse`` is what ``chokehold refresh`` and a monthly scheduler run:

1. take the refresh lock (``<warehouse>.refresh.lock``; wait up to ``refresh_lock_wait_s``);
2. compute each source's fingerprint and skip the sources whose inputs have not changed since
   their last successful load (``source_state``);
3. copy the warehouse to ``<warehouse>.staging`` and run the other sources there, each counted
   (rows, retries, warnings, periods) into ``refresh_run_sources``;
4. if data changed, write a vintage snapshot (Parquet + manifest + digest) beside it;
5. record the run, close the staging copy and swap it in with one ``os.replace``.

A failure before step 5 leaves the live warehouse exactly as it was (the failed run is then
recorded by a second, small swap). With ``allow_partial`` the sources that worked still publish,
the run is ``partial`` and the digest names the stale sources.

A source module may define ``fingerprint(settings, **options) -> str | None``: a cheap checksum
of its inputs (file checksums, request parameters); None, or no such function, means "always
run" (e.g. an API whose new periods only a request reveals). The effective fingerprint also
covers the code the source runs (``plan.code_fingerprint``: its module, the chokehold modules it
imports, the table specs), its own options and the sources it depends on (``DEPENDS_ON``; every
source but ``reference`` depends on ``reference`` unless it says otherwise). Which sources run
with which options is the refresh plan's business (``pipelines/plan.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.progress import Progress

from chokehold import vintages
from chokehold.config import Settings
from chokehold.errors import ChokeholdError, DataError, DiskFullError, is_disk_full
from chokehold.pipelines import OFFLINE_SOURCES, source_module
from chokehold.pipelines._interrupt import (
    Interrupted,
    RefreshInterrupted,
    signal_number,
    signals_ignored,
    signals_raise,
)
from chokehold.pipelines._runlog import (
    REDACTED,
    Redactor,
    SourceStats,
    collecting,
    describe_periods,
    run_logging,
)
from chokehold.pipelines.plan import code_fingerprint, depends_on
from chokehold.warehouse import (
    LoadResult,
    first_row,
    lake,
    open_warehouse,
    spec,
    transaction,
    views,
)
from chokehold.warehouse.db import schema_current
from chokehold.warehouse.staging import (
    LockHolder,
    RefreshBusyError,
    RefreshLock,
    lock_path,
    publish,
    remove_staging,
    staged_copy,
)

EXIT_OK, EXIT_BAD_INPUT, EXIT_PARTIAL, EXIT_FAILED = 0, ChokeholdError.exit_code, 3, 4
EXIT_BUSY = RefreshBusyError.exit_code


class RefreshFailedError(ChokeholdError):
    """A source failed and nothing was published: exit code 2 when its input was bad (a
    DataError: fix the file), else 4 (network, bug: look at the log, retry)."""

    def __init__(self, message: str, *, bad_input: bool) -> None:
        super().__init__(message)
        self.exit_code = EXIT_BAD_INPUT if bad_input else EXIT_FAILED


def run_sources(con: duckdb.DuckDBPyConnection, settings: Settings, sources: Sequence[str],
                options: dict[str, Any] | None = None, *, show_progress: bool = True
                ) -> list[LoadResult]:
    """Refresh each named source in order into ``con``; the first failure stops the run.

    The plain loader (tests, one-off loads). The scheduled refresh is ``refresh_warehouse``.
    """
    modules = [(name, source_module(name)) for name in sources]
    results: list[LoadResult] = []
    with Progress(transient=True, disable=not show_progress) as progress:
        task = progress.add_task("refresh", total=len(modules))
        for name, module in modules:
            progress.update(task, description=f"loading {name}")
            results += module.refresh(con, settings, **(options or {}))
            progress.advance(task)
    return results


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SourceOutcome:
    """What one source did in a run."""

    source: str
    status: str
    fingerprint: str | None
    started_at: datetime
    finished_at: datetime
    results: list[LoadResult] = field(default_factory=list)
    stats: SourceStats = field(default_factory=SourceStats)
    error: str | None = None
    committed_loads: int = 0
    bad_input: bool = False

    def total(self, attr: str) -> int:
        return sum(getattr(r, attr) for r in self.results)

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.results)

    def record(self, run_id: str) -> dict[str, Any]:
        return {
            "run_id": run_id, "source_id": self.source, "status": self.status,
            "started_at": self.started_at, "finished_at": self.finished_at,
            "fingerprint": self.fingerprint,
            "periods_requested": self.stats.periods_requested,
            "periods_received": self.stats.periods_received,
            "loads": len(self.results), "rows_inserted": self.total("rows_inserted"),
            "rows_updated": self.total("rows_updated"),
            "rows_unchanged": self.total("rows_unchanged"),
            "rows_deleted": self.total("rows_deleted"), "retries": self.stats.retries,
            "warnings": self.stats.warnings, "error": self.error,
        }


@dataclass
class RefreshOutcome:
    """The result of ``refresh_warehouse``; ``exit_code`` is what a scheduler alerts on."""

    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime
    sources: list[SourceOutcome]
    vintage_id: str | None
    published_vintage: bool
    message: str | None = None
    stale_lock: LockHolder | None = None

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "partial": EXIT_PARTIAL}.get(self.status, EXIT_FAILED)

    @property
    def stale_sources(self) -> list[str]:
        return [o.source for o in self.sources if o.status == "failed"]


class _Rebuild(Exception):
    """A source failed after committing some of its loads: rebuild staging without it."""

    def __init__(self, outcome: SourceOutcome) -> None:
        super().__init__(outcome.source)
        self.outcome = outcome


def new_run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------------------------
# Fingerprints


def fingerprints(names: Sequence[str], settings: Settings, options: dict[str, Any]
                 ) -> dict[str, str | None]:
    """Effective fingerprint of each source (None: the source always runs): its own input
    checksum, the code it runs, its own options (``options_of``) and its dependencies'."""
    found: dict[str, str | None] = {}

    def of(name: str) -> str | None:
        if name not in found:
            module = source_module(name)
            own_options = options_of(name, options)
            own = getattr(module, "fingerprint", None)
            try:
                value = own(settings, **own_options) if own else None
            except Exception:  # noqa: BLE001 (the source itself will then report the problem)
                value = None
            deps = [of(d) for d in depends_on(name, module)]
            if value is None or any(d is None for d in deps):
                found[name] = None
            else:
                found[name] = hashlib.sha256(json.dumps(
                    [value, code_fingerprint(name), deps, own_options], sort_keys=True,
                    default=str).encode()).hexdigest()[:32]
        return found[name]

    for name in names:
        of(name)
    return {name: found[name] for name in names}


PER_SOURCE = "per_source"
"""Key of ``options`` holding each source's own options (the plan's), by source."""


def options_of(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A source's own options where the run gives them per source, else the shared ones."""
    per_source = options.get(PER_SOURCE) or {}
    if name in per_source:
        return dict(per_source[name])
    return {k: v for k, v in options.items() if k != PER_SOURCE}


@dataclass(frozen=True)
class LiveState:
    """What a refresh reads of the live warehouse before it runs: one read-only open."""

    fingerprints: dict[str, str | None] = field(default_factory=dict)
    """Fingerprint of each source's last successful load."""
    published_ids: set[str] = field(default_factory=set)
    """Every vintage id it has published (pruned ones included)."""
    lake_root: Path | None = None
    lake_paths: set[str] = field(default_factory=set)
    """The lake files its catalog lists now."""


def live_state(warehouse: Path) -> LiveState:
    """The live warehouse's fingerprints, published vintages and lake catalog (all empty for
    a missing file; parts an older schema lacks stay empty)."""
    if not warehouse.exists():
        return LiveState()
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return LiveState()
    with con:
        def read(query: str) -> list[tuple]:
            try:
                return con.execute(query).fetchall()
            except duckdb.Error:  # a table this warehouse's schema does not have yet
                return []

        fingerprints = dict(read("SELECT source_id, fingerprint FROM source_state"))
        published = {r[0] for r in read("SELECT vintage_id FROM published_vintages")}
        try:
            root, paths = lake.root(con), {e.path for e in lake.catalog(con)}
        except duckdb.Error:  # an older warehouse (no catalog yet): its lake is not in use
            root, paths = None, set()
    return LiveState(fingerprints, published, root, paths)


# ---------------------------------------------------------------------------------------------
# Running one source


PERIOD_COLUMNS = {table: period for table, (period, _) in vintages.PERIODS.items()}


def _periods_received(con: duckdb.DuckDBPyConnection, results: list[LoadResult]) -> str | None:
    """Periods held by the rows the source's loads delivered (by source and vintage)."""
    periods: set[object] = set()
    for r in results:
        column = PERIOD_COLUMNS.get(r.table)
        if column is None or "source" not in spec(r.table).column_names:
            continue
        periods |= {row[0] for row in con.execute(
            f'SELECT DISTINCT "{column}" FROM {r.table} WHERE source = ? '
            f"AND vintage IS NOT DISTINCT FROM ?", [r.source_id, r.vintage]).fetchall()}
    return describe_periods(periods)


def _scrub_secrets(con: duckdb.DuckDBPyConnection, redact: Redactor) -> None:
    """Blank secrets a source put into provenance text (e.g. an API key in a URL it loaded)."""
    for secret in redact.secrets:
        for table, column in (("vintages", "location"), ("load_runs", "message")):
            con.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?) "
                        f"WHERE contains({column}, ?)", [secret, REDACTED, secret])


def _load_count(con: duckdb.DuckDBPyConnection) -> int:
    return first_row(con, "SELECT count(*) FROM load_runs")[0]


def run_source(con: duckdb.DuckDBPyConnection, settings: Settings, name: str,
               fingerprint: str | None, options: dict[str, Any], redact: Redactor,
               log: logging.Logger) -> SourceOutcome:
    """Run one source into ``con``, catching its failure into the outcome."""
    started = _now()
    loads_before = _load_count(con)
    log.info("source %s: starting", name)
    bad_input = False
    with collecting() as stats:
        try:
            results = source_module(name).refresh(con, settings, **options_of(name, options))
            error = None
        except Exception as exc:  # noqa: BLE001 (any failure of a source is reported, not raised)
            error = redact(str(DiskFullError("loading it", exc)) if is_disk_full(exc)
                           else f"{type(exc).__name__}: {exc}")
            results = []
            bad_input = isinstance(exc, DataError)
    outcome = SourceOutcome(name, "failed" if error else "ok", fingerprint, started, _now(),
                            results, stats, error, _load_count(con) - loads_before, bad_input)
    stats.warnings = [redact(w) for w in stats.warnings]
    if error:
        log.error("source %s failed: %s", name, error)
        return outcome
    _scrub_secrets(con, redact)
    if stats.periods_received is None:
        stats.periods_received = _periods_received(con, results)
    log.info("source %s: %d loads, %d inserted, %d updated, %d unchanged, %d deleted, "
             "%d retries, %d warnings", name, len(results), outcome.total("rows_inserted"),
             outcome.total("rows_updated"), outcome.total("rows_unchanged"),
             outcome.total("rows_deleted"), stats.retries, len(stats.warnings))
    return outcome


# ---------------------------------------------------------------------------------------------
# Recording


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert (or replace) ``rows`` in one statement (a DuckDB statement costs ~5 ms)."""
    if not rows:
        return
    cols = spec(table).column_names
    one = f"({', '.join('?' for _ in cols)})"
    con.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) "
                f"VALUES {', '.join(one for _ in rows)}", [row[c] for row in rows for c in cols])


def _record_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any],
                outcomes: list[SourceOutcome]) -> None:
    _insert(con, "refresh_runs", [run])
    _insert(con, "refresh_run_sources", [o.record(run["run_id"]) for o in outcomes])


def _record_failed_run(warehouse: Path, run: dict[str, Any], outcomes: list[SourceOutcome],
                       log: logging.Logger) -> bool:
    """Add a failed run's record to the live warehouse (by a small swap: data unchanged; a
    first run that fails leaves an empty warehouse holding just that record). On a full disk
    the record is logged instead, and the live warehouse stays as it was: False."""
    try:
        with staged_copy(warehouse) as staging:
            with open_warehouse(staging, create=True) as con:
                _record_run(con, run, outcomes)
                con.execute("CHECKPOINT")
            publish(staging, warehouse)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        log.error("the disk is full: run %s (%s) is recorded in this log only", run["run_id"],
                  run["status"])
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The refresh


def refresh_warehouse(settings: Settings, sources: Sequence[str] | None = None,
                      options: dict[str, Any] | None = None, *, allow_partial: bool = False,
                      force: bool = False, show_progress: bool = False,
                      source_options: dict[str, dict[str, Any]] | None = None) -> RefreshOutcome:
    """Refresh ``sources`` (default: the offline ones) atomically; see the module docstring.

    ``options`` go to every source; ``source_options`` (the refresh plan's) give each named
    source its own instead.

    Raises RefreshBusyError when another refresh holds the lock past the wait, and
    RefreshFailedError (after recording the run) when a source fails without ``allow_partial``.
    """
    names = list(sources or OFFLINE_SOURCES)
    for name in names:
        source_module(name)  # unknown names fail here, before anything runs
    options = dict(options or {})
    if source_options:
        options[PER_SOURCE] = source_options
    started = _now()
    run_id = new_run_id(started)
    redact = Redactor(settings)
    with run_logging(settings, run_id) as log:
        log.info("refresh starting: sources %s, options %s, warehouse %s", ", ".join(names),
                 redact(json.dumps(options, default=str, sort_keys=True)), settings.warehouse)
        try:
            lock = RefreshLock(lock_path(settings.warehouse), settings.refresh_lock_wait_s)
            lock.__enter__()
        except RefreshBusyError as exc:
            log.error("%s", exc)
            raise
        try:
            with signals_raise():
                return _locked_refresh(settings, names, options, run_id, started, allow_partial,
                                       force, show_progress, lock.stale, redact, log)
        except (KeyboardInterrupt, Interrupted) as exc:
            with signals_ignored():
                _record_interrupted(settings, names, options, run_id, started, redact, exc, log)
            raise RefreshInterrupted(signal_number(exc), run_id) from None
        finally:
            lock.__exit__(None, None, None)


def _record_interrupted(settings: Settings, names: list[str], options: dict[str, Any],
                        run_id: str, started: datetime, redact: Redactor,
                        exc: BaseException, log: logging.Logger) -> None:
    """Record a run stopped by a signal (its staging is already gone: nothing published)."""
    name = signal.Signals(signal_number(exc)).name
    log.error("refresh interrupted by %s; nothing published", name)
    _record_failed_run(settings.warehouse, {
        "run_id": run_id, "started_at": started, "finished_at": _now(), "status": "interrupted",
        "sources": names, "options": redact(json.dumps(options, default=str, sort_keys=True)),
        "vintage_id": _current_vintage(settings.warehouse),
        "code_revision": vintages.code_revision(), "host": socket.gethostname(),
        "pid": os.getpid(), "message": f"interrupted by {name}; nothing published"}, [], log)


def _locked_refresh(settings: Settings, names: list[str], options: dict[str, Any], run_id: str,
                    started: datetime, allow_partial: bool, force: bool, show_progress: bool,
                    stale: LockHolder | None, redact: Redactor, log: logging.Logger
                    ) -> RefreshOutcome:
    if stale is not None:
        log.warning("cleared a stale refresh lock left by %s (%s)", stale.describe(),
                    "still running?" if stale.alive else "no longer running")
    live = live_state(settings.warehouse)
    for leftover in _remove_leftovers(settings, live):
        log.warning("removed %s left by an interrupted refresh", leftover)
    fps = fingerprints(names, settings, options)
    todo = [n for n in names if force or fps[n] is None or live.fingerprints.get(n) != fps[n]]
    log.info("sources to run: %s (skipped, inputs unchanged: %s)", ", ".join(todo) or "none",
             ", ".join(n for n in names if n not in todo) or "none")
    run = {"run_id": run_id, "started_at": started, "sources": names,
           "options": redact(json.dumps(options, default=str, sort_keys=True)),
           "code_revision": vintages.code_revision(), "host": socket.gethostname(),
           "pid": os.getpid()}
    outcome = None if todo else _record_nothing_new(settings, names, fps, run)
    excluded: dict[str, SourceOutcome] = {}
    while outcome is None:
        try:
            outcome = _build_and_publish(settings, names, todo, fps, options, run, allow_partial,
                                         excluded, show_progress, redact, log)
        except _Rebuild as rebuild:
            excluded[rebuild.outcome.source] = rebuild.outcome
            log.warning("source %s failed after committing %d loads; rebuilding staging "
                        "without it", rebuild.outcome.source, rebuild.outcome.committed_loads)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            outcome = RefreshOutcome(run_id, "failed", started, _now(), [],
                                     _current_vintage(settings.warehouse), False,
                                     str(DiskFullError("publishing the refresh", exc)))
    outcome.stale_lock = stale
    if outcome.status == "failed":
        # what the run wrote beside its staging goes now, not at the next refresh: on a full
        # disk that space is needed (for the run's own record, first)
        for leftover in _remove_leftovers(settings, live_state(settings.warehouse)):
            log.info("removed %s, written by the failed run", leftover)
        recorded = _record_failed_run(settings.warehouse, {**run, **_run_end(outcome)},
                                      outcome.sources, log)
        log.error("refresh failed: %s", outcome.message)
        raise RefreshFailedError(
            f"refresh {run_id} failed, nothing published: {outcome.message}"
            + ("" if recorded else " (the run is recorded in its log only)"),
            bad_input=any(o.bad_input for o in outcome.sources))
    log.info("refresh %s: vintage %s%s", outcome.status, outcome.vintage_id,
             " (new)" if outcome.published_vintage else " (unchanged)")
    return outcome


def _remove_leftovers(settings: Settings, live: LiveState) -> list[Path]:
    """Delete what no published state references: a staging copy, unfinished or unpublished
    vintages, lake files of neither (a crashed or failed refresh's); call under the lock."""
    return [*remove_staging(settings.warehouse), *vintages.remove_incomplete(settings),
            *vintages.remove_orphans(settings, live.published_ids),
            *remove_lake_orphans(settings, live)]


def _record_nothing_new(settings: Settings, names: list[str], fps: dict[str, str | None],
                        run: dict[str, Any]) -> RefreshOutcome | None:
    """Every source is skipped: record the run (each source 'skipped') in the live warehouse
    itself, under the refresh lock as ``open_write`` does, instead of staging a copy, running
    nothing in it and swapping it in. None when that cannot be done (the file is open in
    another process, its schema or views are older than this code, no vintage is published
    yet): the run then goes the staged way."""
    try:
        con = duckdb.connect(str(settings.warehouse))
    except duckdb.Error:
        return None
    with con:
        if not schema_current(con):
            return None
        latest = _latest_vintage(con)
        if latest is None:
            return None
        now = _now()
        outcomes = [SourceOutcome(name, "skipped", fps[name], now, now) for name in names]
        with transaction(con):
            con.execute("UPDATE revisions SET run_id = ? WHERE run_id IS NULL", [run["run_id"]])
            finished = _now()
            _record_run(con, {**run, "finished_at": finished, "status": "ok",
                              "vintage_id": latest, "message": None}, outcomes)
        con.execute("CHECKPOINT")
        lake.repair_current(con)  # a crash after the last publish may have left it behind
    return RefreshOutcome(run["run_id"], "ok", run["started_at"], finished, outcomes, latest,
                          False)


def _run_end(outcome: RefreshOutcome) -> dict[str, Any]:
    return {"finished_at": outcome.finished_at, "status": outcome.status,
            "vintage_id": outcome.vintage_id, "message": outcome.message}


def _build_and_publish(settings: Settings, names: list[str], todo: list[str],
                       fps: dict[str, str | None], options: dict[str, Any], run: dict[str, Any],
                       allow_partial: bool, excluded: dict[str, SourceOutcome],
                       show_progress: bool, redact: Redactor, log: logging.Logger
                       ) -> RefreshOutcome:
    with staged_copy(settings.warehouse) as staging:
        con = open_warehouse(staging, create=True, memory_limit=settings.duckdb_memory_limit)
        try:
            lake.set_root(con, settings.lake_dir)
            outcomes = _run_all(con, settings, names, todo, fps, options, allow_partial,
                                excluded, show_progress, redact, log)
            failed = [o for o in outcomes if o.status == "failed"]
            if failed and (not allow_partial or len(failed) == len(todo) == len(names)):
                con.close()
                remove_staging(settings.warehouse)
                message = "; ".join(f"{o.source}: {o.error}" for o in failed)
                return RefreshOutcome(run["run_id"], "failed", run["started_at"], _now(),
                                      outcomes, _current_vintage(settings.warehouse), False,
                                      message)
            status = "partial" if failed else "ok"
            return _publish(con, staging, settings, run, outcomes, status, log)
        except BaseException:
            con.close()
            raise


def _run_all(con: duckdb.DuckDBPyConnection, settings: Settings, names: list[str],
             todo: list[str], fps: dict[str, str | None], options: dict[str, Any],
             allow_partial: bool, excluded: dict[str, SourceOutcome], show_progress: bool,
             redact: Redactor, log: logging.Logger) -> list[SourceOutcome]:
    outcomes: list[SourceOutcome] = []
    with Progress(transient=True, disable=not show_progress) as progress:
        task = progress.add_task("refresh", total=len(names))
        for name in names:
            progress.update(task, description=f"refreshing {name}")
            if name in excluded:
                outcome = excluded[name]
            elif name not in todo:
                now = _now()
                outcome = SourceOutcome(name, "skipped", fps[name], now, now)
            else:
                outcome = run_source(con, settings, name, fps[name], options, redact, log)
            outcomes.append(outcome)
            progress.advance(task)
            if outcome.status == "failed" and name not in excluded:
                if not allow_partial:
                    break
                if outcome.committed_loads:
                    raise _Rebuild(outcome)
    return outcomes


def remove_lake_orphans(settings: Settings, live: LiveState) -> list[Path]:
    """Delete lake files that neither the live catalog nor any vintage on disk references
    (files of a crashed refresh, partitions of pruned vintages); call under the lock."""
    return lake.remove_orphans(live.lake_root or settings.lake_root,
                               live.lake_paths | lake.referenced(vintages.available(settings)))


def _current_vintage(warehouse: Path) -> str | None:
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return _latest_vintage(con)
    except duckdb.Error:
        return None


def _latest_vintage(con: duckdb.DuckDBPyConnection) -> str | None:
    """The most recently published vintage's id (None before the first publish)."""
    row = first_row(con, "SELECT vintage_id FROM published_vintages "
                         "ORDER BY published_at DESC, vintage_id DESC LIMIT 1")
    return row[0] if row else None


def _publish(con: duckdb.DuckDBPyConnection, staging: Path, settings: Settings,
             run: dict[str, Any], outcomes: list[SourceOutcome], status: str,
             log: logging.Logger) -> RefreshOutcome:
    """Record the run in staging, snapshot a vintage if data changed, then swap staging in."""
    run_id = run["run_id"]
    views.create_views(con)
    for o in outcomes:
        if o.status == "ok":
            con.execute("INSERT OR REPLACE INTO source_state VALUES (?, ?, ?, ?)",
                        [o.source, o.fingerprint, run_id, o.finished_at])
    con.execute("UPDATE revisions SET run_id = ? WHERE run_id IS NULL", [run_id])
    previous = _latest_vintage(con)
    stale = [o.source for o in outcomes if o.status == "failed"]
    snapshot = None
    if any(o.changed for o in outcomes) or previous is None:
        snapshot = _snapshot(con, settings, run_id, status, stale, outcomes, previous, log)
    pruned: list[str] = []
    if snapshot is not None:
        pruned = _apply_retention(con, settings)
    finished = _now()
    vintage_id = snapshot.vintage_id if snapshot else previous
    message = (f"stale sources: {', '.join(stale)}" if stale else None)
    _record_run(con, {**run, "finished_at": finished, "status": status,
                      "vintage_id": vintage_id, "message": message}, outcomes)
    con.execute("CHECKPOINT")
    con.close()
    if snapshot is not None:
        vintages.finalize(snapshot)
    publish(staging, settings.warehouse)
    try:
        lake.write_current(settings.warehouse)
    except OSError as exc:  # published already: the next refresh rewrites it
        if not is_disk_full(exc):
            raise
        log.warning("published, but the disk is full: %s/_current.json is one publish behind",
                    settings.lake_root)
    for vintage_id_pruned in pruned:
        shutil.rmtree(settings.vintages_dir / vintage_id_pruned, ignore_errors=True)
        log.info("retention: removed vintage %s", vintage_id_pruned)
    for orphan in remove_lake_orphans(settings, live_state(settings.warehouse)) if pruned else []:
        log.info("retention: removed lake file %s", orphan)
    return RefreshOutcome(run_id, status, run["started_at"], finished, outcomes, vintage_id,
                          snapshot is not None, message)


def _snapshot(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, status: str,
              stale: list[str], outcomes: list[SourceOutcome], previous: str | None,
              log: logging.Logger) -> vintages.Snapshot | None:
    redact = Redactor(settings)
    state = {r[0]: r[1:] for r in con.execute(
        "SELECT source_id, fingerprint, last_ok_run, last_ok_at::VARCHAR FROM source_state"
    ).fetchall()}
    inputs = [dict(zip(("source_id", "vintage", "location", "sha256"),
                       (redact(v) if v is not None else None for v in row)))
              for row in con.execute("SELECT source_id, vintage, location, sha256 FROM vintages "
                                     "ORDER BY ALL").fetchall()]
    extra = {
        "status": status, "stale_sources": stale, "previous": previous,
        "warehouse": str(settings.warehouse),
        "sources": [{"source": o.source, "status": o.status, "fingerprint": o.fingerprint,
                     "last_ok_run": state.get(o.source, (None, None, None))[1],
                     "last_ok_at": state.get(o.source, (None, None, None))[2],
                     "error": o.error} for o in outcomes],
        "inputs": inputs,
    }
    published_at = _now()
    snapshot = vintages.write_snapshot(con, settings, run_id=run_id, published_at=published_at,
                                       extra=extra)
    if first_row(con, "SELECT count(*) FROM published_vintages WHERE vintage_id = ? "
                      "AND pruned_at IS NULL", [snapshot.vintage_id])[0]:
        shutil.rmtree(snapshot.folder)
        return None
    previous_folder = settings.vintages_dir / previous if previous else None
    if previous_folder is not None and (previous_folder / vintages.MANIFEST).exists():
        vintages.write_text(snapshot.folder / vintages.MANIFEST,
                            json.dumps(snapshot.manifest, default=str))
        diff = vintages.diff_folders(previous_folder, snapshot.folder, settings.diff_tolerance,
                                     memory_limit=settings.duckdb_memory_limit)
        digest = diff.markdown()
        vintages.write_text(snapshot.folder / "digest.json",
                            json.dumps(diff.to_dict(max_revised=1000), indent=2, default=str))
    else:
        digest = (f"# Digest: vintage {snapshot.vintage_id}\n\nFirst vintage"
                  + (f" (stale sources: {', '.join(stale)})" if stale else "") + ".\n")
    vintages.write_text(snapshot.folder / "digest.md", redact(digest))
    con.execute("INSERT INTO published_vintages VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [snapshot.vintage_id, run_id, published_at, snapshot.manifest["content_hash"],
                 status, stale, snapshot.manifest["code_revision"], str(snapshot.final)])
    log.info("vintage %s written (%s)", snapshot.vintage_id, snapshot.final)
    return snapshot


def _apply_retention(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """Mark the vintages retention drops as pruned; return the ids of pruned vintages whose
    folders still exist (they are deleted after the swap, so a crash never loses a live one)."""
    live = con.execute("SELECT vintage_id, published_at FROM published_vintages "
                       "WHERE pruned_at IS NULL").fetchall()
    keep = vintages.retained(live, settings.vintage_keep_last, settings.vintage_keep_quarter_ends)
    drop = sorted(vid for vid, _ in live if vid not in keep)
    for vid in drop:
        con.execute("UPDATE published_vintages SET pruned_at = ? WHERE vintage_id = ?",
                    [_now(), vid])
    pruned = con.execute("SELECT vintage_id FROM published_vintages WHERE pruned_at IS NOT NULL"
                         ).fetchall()
    return [vid for (vid,) in pruned if (settings.vintages_dir / vid).exists()]
