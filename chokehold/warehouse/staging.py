"""Atomic publication of the warehouse, the refresh lock, and integrity checks.

A refresh never writes the live warehouse file: it copies it to ``<warehouse>.staging``, loads
there, closes it cleanly (checkpointed, no WAL) and swaps it in with ``os.replace``. A crash or
SIGKILL at any point leaves the live file either as it was or as the finished refresh made it;
readers that have the old file open keep reading it undisturbed (POSIX rename semantics).

The lock is an ``flock`` on ``<warehouse>.refresh.lock``, which the kernel releases when its
holder dies; the file also records the holder's pid, host and start time for the "already
running" message. Finding a record there after getting the lock means the last holder crashed:
its record (and its leftover staging file) are cleared and reported.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import duckdb

from chokehold.errors import ChokeholdError, WarehouseError
from chokehold.warehouse.db import first_row
from chokehold.warehouse.lake import fsync_path
from chokehold.warehouse.schema import merged_lake_tables, stored_tables

LOCK_POLL_S = 0.1


class RefreshBusyError(ChokeholdError):
    """Another refresh holds the lock (exit code 75, EX_TEMPFAIL: try again later)."""

    exit_code = 75


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    since: str

    @property
    def alive(self) -> bool:
        """Whether the holder's process still runs (only knowable on the same host)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since}"


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".refresh.lock")


def staging_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".staging")


def wal_path(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


class RefreshLock:
    """Exclusive refresh lock; waits up to ``wait_s`` seconds, then raises RefreshBusyError.

    After entering, ``stale`` is the record a crashed holder left behind (None if the last
    holder released the lock cleanly).
    """

    def __init__(self, path: Path, wait_s: float = 0.0) -> None:
        self.path = Path(path)
        self.wait_s = wait_s
        self.stale: LockHolder | None = None
        self._fd: int | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder_once_written(fd)
                    os.close(fd)
                    who = holder.describe() if holder else "holder unknown"
                    raise RefreshBusyError(
                        f"refresh already running ({who}); waited {self.wait_s:g} s for "
                        f"{self.path}. Raise refresh_lock_wait_s (CHOKEHOLD_REFRESH_LOCK_WAIT_S) "
                        "to wait longer.") from None
                time.sleep(LOCK_POLL_S)
        self.stale = _read_holder(fd)
        me = LockHolder(os.getpid(), socket.gethostname(),
                        datetime.now(UTC).isoformat(timespec="seconds"))
        _write_holder(fd, me)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _holder_once_written(fd: int, patience_s: float = 0.5) -> LockHolder | None:
    """The holder's record; a holder writes it just after taking the lock, so a refusal that
    comes between the two waits briefly for it rather than saying "holder unknown"."""
    deadline = time.monotonic() + patience_s
    while (holder := _read_holder(fd)) is None and time.monotonic() < deadline:
        time.sleep(LOCK_POLL_S / 5)
    return holder


def _read_holder(fd: int) -> LockHolder | None:
    raw = os.pread(fd, 4096, 0)
    try:
        data = json.loads(raw)
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["since"]))
    except (ValueError, KeyError, TypeError):
        return None


def _write_holder(fd: int, holder: LockHolder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder.__dict__).encode(), 0)
    os.fsync(fd)


def remove_staging(warehouse: Path) -> list[Path]:
    """Delete a staging copy (and its WAL) a crashed refresh left; call only under the lock."""
    removed = []
    for leftover in (staging_path(warehouse), wal_path(staging_path(warehouse))):
        if leftover.exists():
            leftover.unlink()
            removed.append(leftover)
    return removed


def checkpoint_live(warehouse: Path) -> None:
    """Fold a WAL another writer left beside the live file into it, so the copy is complete."""
    if not wal_path(warehouse).exists():
        return
    try:
        with duckdb.connect(str(warehouse)) as con:
            con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"{warehouse} has an un-checkpointed WAL and cannot be opened to fold it in ({exc}); "
            "close other writers and retry") from exc


def _copy_reader(warehouse: Path) -> duckdb.DuckDBPyConnection:
    checkpoint_live(warehouse)
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot read {warehouse} to stage a refresh ({exc}); is "
                             "another process writing to it?") from exc


@contextmanager
def staged_copy(warehouse: Path) -> Iterator[Path]:
    """A private copy of the warehouse to load into (a new path if none exists yet).

    The copy is deleted if the block raises; publish it with ``publish(staging, warehouse)``.
    """
    warehouse = Path(warehouse)
    remove_staging(warehouse)
    staging = staging_path(warehouse)
    reader = _copy_reader(warehouse) if warehouse.exists() else None
    try:
        if reader is not None:
            # Holding a read-only connection keeps other writers out while the bytes are copied.
            with reader:
                shutil.copyfile(warehouse, staging)  # (a full disk leaves part of a copy)
        yield staging
    except BaseException:
        remove_staging(warehouse)
        raise


def publish(staging: Path, warehouse: Path) -> None:
    """Swap a closed, checkpointed staging database in for the live one, atomically and durably."""
    if wal_path(staging).exists():
        raise WarehouseError(f"{staging} still has a WAL: close its connection before publishing")
    fsync_path(staging)
    os.replace(staging, warehouse)
    fsync_path(warehouse.parent)


def integrity_problems(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table of the spec (and merged lake table: its view) exists, has unique keys, and
    passes its NOT NULL and CHECKs."""
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    problems = []
    for table in [*stored_tables(), *merged_lake_tables()]:
        name = table.name
        if name not in existing:
            problems.append(f"{name}: table missing")
            continue
        pk = ", ".join(f'"{k}"' for k in table.primary_key)
        rules = [(c.name, rule) for c in table.columns
                 for rule in ([] if c.nullable else [f'"{c.name}" IS NOT NULL']) + list(c.checks)]
        # A CHECK holds when its expression is true or NULL, as in SQL.
        counts = ", ".join(f"count(*) FILTER (WHERE NOT coalesce({rule}, TRUE))"
                           for _, rule in rules)
        dup, *bad = first_row(con, f"SELECT (SELECT count(*) FROM (SELECT {pk} FROM {name} "
                                   f"GROUP BY ALL HAVING count(*) > 1)), {counts} FROM {name}")
        if dup:
            problems.append(f"{name}: {dup} duplicated primary keys")
        problems += [f"{name}.{col}: {n} rows fail {rule}"
                     for (col, rule), n in zip(rules, bad, strict=True) if n]
    return problems
