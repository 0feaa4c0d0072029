"""The refresh under faults, all on loopback: a flaky server, SIGKILL at random points, two
refreshes at once, a source down for the whole run, and secrets kept out of every output."""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import copy_warehouse
from fakesources import data_state, install, months, register, run_refresh, write_fx
from fakesources.httpfx import app
from faultserver import FAULTS, FaultServer

from chokehold.config import load_settings
from chokehold.pipelines.refresh import (
    EXIT_BUSY,
    EXIT_FAILED,
    RefreshFailedError,
    refresh_warehouse,
)
from chokehold.vintages import MANIFEST
from chokehold.warehouse import open_warehouse
from chokehold.warehouse.staging import integrity_problems

pytestmark = pytest.mark.slow  # end-to-end: `make test-fast` leaves it out

SENTINEL = "SENTINEL-KEY-7f3a9c1e"
KILL_TRIALS = 20


@pytest.fixture(autouse=True)
def _fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch)


def http_settings(root: Path, server: FaultServer, **extra):
    values = {"warehouse": root / "wh" / "warehouse.duckdb", "comtrade_base_url": server.url,
              "comtrade_api_key": SENTINEL, "http_timeout_s": 0.3, "http_max_retries": 8}
    return load_settings(**{**values, **extra})


def fx_rows(warehouse: Path) -> list[tuple]:
    with open_warehouse(warehouse, read_only=True) as con:
        return con.execute("SELECT date, base, quote, rate, source FROM fx_rates "
                           "ORDER BY ALL").fetchall()


def test_flaky_server_gives_the_same_warehouse_as_a_clean_one(tmp_path: Path) -> None:
    options = {"years": "2021-2024"}
    with FaultServer(app, rate=0.0) as clean:
        refresh_warehouse(http_settings(tmp_path / "clean", clean), ["httpfx"], options)
    with FaultServer(app, rate=0.25, seed=7) as flaky:
        settings = http_settings(tmp_path / "flaky", flaky)
        outcome = refresh_warehouse(settings, ["httpfx"], options)
    faults = sum(flaky.stats[f] for f in FAULTS)
    assert set(FAULTS) <= set(flaky.stats), f"not every fault was exercised: {flaky.stats}"
    assert 0.2 <= faults / flaky.stats.total() <= 0.3
    expected = fx_rows(tmp_path / "clean" / "wh" / "warehouse.duckdb")
    assert len(expected) == 96  # 48 months x 2 currencies
    assert fx_rows(settings.warehouse) == expected
    assert len(set(fx_rows(settings.warehouse))) == 96
    source = outcome.sources[0]
    assert source.status == "ok" and source.stats.retries == faults
    assert source.stats.periods_received == "2021-01..2024-12 (48)"
    # Incremental: a second run asks for nothing it already has.
    before = flaky.stats.total()
    with FaultServer(app, rate=0.0) as again:
        again_settings = http_settings(tmp_path / "flaky", again)
        refresh_warehouse(again_settings, ["httpfx"], {"years": "2021-2025"})
    assert {q["month"][:4] for _, q, _ in again.requests} == {"2025"}
    assert len(again.requests) == 12 and before == flaky.stats.total()


def test_source_down_for_the_whole_run(tmp_path: Path) -> None:
    folder = write_fx(tmp_path / "in", months(2024, 3))
    options = {"path": [folder], "years": "2024"}
    with FaultServer(app, rate=0.0) as up:
        settings = http_settings(tmp_path, up, http_max_retries=2)
        refresh_warehouse(settings, ["tinyfx", "httpfx"], options)
    before = data_state(settings.warehouse)
    write_fx(folder, months(2024, 6))
    with FaultServer(app, down_prefixes=("/fx",)) as down:
        settings = http_settings(tmp_path, down, http_max_retries=2)
        options["years"] = "2024-2025"
        with pytest.raises(RefreshFailedError, match="httpfx") as failed:
            refresh_warehouse(settings, ["tinyfx", "httpfx"], options)
        assert failed.value.exit_code == EXIT_FAILED
        assert data_state(settings.warehouse) == before
        outcome = refresh_warehouse(settings, ["tinyfx", "httpfx"], options, allow_partial=True)
    assert outcome.status == "partial" and outcome.stale_sources == ["httpfx"]
    assert outcome.sources[1].error is not None and "503" in outcome.sources[1].error
    assert outcome.sources[1].stats.retries == 2
    with open_warehouse(settings.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fx_rates WHERE source = 'tinyfx'"
                           ).fetchall() == [(6,)]
    digest = (settings.vintages_dir / outcome.vintage_id / "digest.md").read_text()
    assert "**Stale sources**" in digest and "httpfx" in digest


def test_secrets_never_reach_logs_records_manifests_or_digests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    folder = write_fx(tmp_path / "in", months(2024, 3))
    with FaultServer(app, rate=0.3, seed=3) as flaky:
        settings = http_settings(tmp_path, flaky)
        refresh_warehouse(settings, ["tinyfx", "httpfx"], {"path": [folder], "years": "2024"})
    write_fx(folder, months(2024, 4))
    with FaultServer(app, down_prefixes=("/fx",)) as down:
        settings = http_settings(tmp_path, down, http_max_retries=1)
        refresh_warehouse(settings, ["tinyfx", "httpfx"], {"path": [folder], "years": "2025"},
                          allow_partial=True)
    # The key was really in play: sent to the server, in the URLs the source logged and raised.
    assert any(h.get("Ocp-Apim-Subscription-Key") == SENTINEL for _, _, h in flaky.requests)
    log = settings.refresh_log.read_text()
    assert "retrying http://" in log and "[REDACTED]" in log
    leaks = [str(p) for p in settings.warehouse.parent.rglob("*")
             if p.is_file() and p.suffix != ".duckdb" and SENTINEL.encode() in p.read_bytes()]
    assert leaks == []
    with open_warehouse(settings.warehouse, read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE data_type LIKE 'VARCHAR%'").fetchall()
        hits = {(t, c): con.execute(f'SELECT count(*) FROM "{t}" WHERE "{c}"::VARCHAR LIKE ?',
                                    [f"%{SENTINEL}%"]).fetchall()[0][0] for t, c in columns}
        redacted = con.execute("SELECT count(*) FROM refresh_run_sources "
                               "WHERE error LIKE '%[REDACTED]%'").fetchall()[0][0]
    assert {k: v for k, v in hits.items() if v} == {}
    assert redacted == 1
    from chokehold.cli import main  # noqa: PLC0415

    for args in (["runs", "-f", "json"], ["runs", "--run", "last", "-f", "json"],
                 ["vintages", "list", "-f", "json"], ["vintages", "show", "latest", "-f", "json"],
                 ["diff", "--from", "previous", "-f", "json"]):
        monkeypatch.setattr(sys, "argv", ["chokehold", "-w", str(settings.warehouse), *args])
        monkeypatch.setenv("COMTRADE_API_KEY", SENTINEL)
        main()
        out = capsys.readouterr()
        assert out.out and SENTINEL not in out.out + out.err


# ---------------------------------------------------------------------------------------------
# Process-level faults: a forkserver with the code preloaded keeps each trial fast.


@pytest.fixture(scope="module")
def processes():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fakesources", "fakesources.slowfx",
                                    "chokehold.pipelines.refresh"])
    warm = context.Process(target=install)  # starts the forkserver, so timings exclude it
    warm.start()
    warm.join()
    return context


def slow_setup(root: Path) -> tuple[dict, dict, Path]:
    """A small warehouse loaded by slowfx with six months; its next input has twelve."""
    folder = write_fx(root / "in", months(2024, 6))
    kwargs = {"warehouse": root / "wh" / "warehouse.duckdb", "refresh_lock_wait_s": 0.0}
    refresh_warehouse(load_settings(**kwargs), ["slowfx"], {"path": [folder]})
    revised = months(2024, 12)
    revised["2024-03"] = 9.99
    write_fx(folder, revised)
    return kwargs, {"path": [folder]}, folder


def vintage_folders_consistent(warehouse: Path) -> bool:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        live = con.execute("SELECT path FROM published_vintages WHERE pruned_at IS NULL"
                           ).fetchall()
    return all((Path(p) / MANIFEST).exists() for (p,) in live)


KILL_AFTER = (None, "source slowfx: starting", "vintage ", "refresh ok")
"""Where trials aim their kill: at start-up, while loading, with the snapshot written but not
yet published, and just after the publish (the log line follows the swap)."""


def wait_for(log: Path, offset: int, marker: str | None, proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while marker is not None and time.monotonic() < deadline and proc.is_alive():
        if marker in log.read_text()[offset:]:
            return
        time.sleep(0.005)


def test_sigkill_at_random_points_leaves_before_or_after(tmp_path: Path, processes) -> None:
    kwargs, options, folder = slow_setup(tmp_path / "base")
    (folder / "delay").write_text("0.03")
    base = tmp_path / "base" / "wh"
    before = data_state(base / "warehouse.duckdb")
    after_settings = load_settings(**{**kwargs, "warehouse": tmp_path / "after" / "w.duckdb"})
    copy_warehouse(base / "warehouse.duckdb", after_settings.warehouse)
    refresh_warehouse(after_settings, ["slowfx"], options)
    after = data_state(after_settings.warehouse)
    assert after != before
    rng = random.Random(20260301)
    seen = {"before": 0, "after": 0}
    for trial in range(KILL_TRIALS):
        root = tmp_path / f"trial{trial}"
        shutil.copytree(base, root / "wh")
        trial_kwargs = {**kwargs, "warehouse": root / "wh" / "warehouse.duckdb"}
        log = root / "wh" / "logs" / "refresh.log"
        offset = len(log.read_text())
        proc = processes.Process(target=run_refresh, args=(trial_kwargs, ["slowfx"], options))
        proc.start()
        marker = KILL_AFTER[trial % len(KILL_AFTER)]
        wait_for(log, offset, marker, proc)
        time.sleep(0 if marker == KILL_AFTER[-1] else rng.uniform(0, 0.25))
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it had already finished
            pass
        proc.join()
        warehouse = trial_kwargs["warehouse"]
        with open_warehouse(warehouse, read_only=True) as con:
            assert integrity_problems(con) == [], f"trial {trial}"
        state = data_state(warehouse)
        assert state in (before, after), f"trial {trial}: neither before nor after"
        assert vintage_folders_consistent(warehouse), f"trial {trial}"
        seen["before" if state == before else "after"] += 1
        if state == before and trial % 8 in (1, 2):  # the next refresh recovers, clearing leftovers
            outcome = refresh_warehouse(load_settings(**trial_kwargs), ["slowfx"], options)
            assert outcome.status == "ok" and data_state(warehouse) == after
            assert not list(warehouse.parent.glob("*.staging*"))
            assert not list((warehouse.parent / "vintages").glob(".tmp-*"))
            with duckdb.connect(str(warehouse), read_only=True) as con:
                published = {r[0] for r in con.execute(
                    "SELECT vintage_id FROM published_vintages").fetchall()}
            on_disk = {p.name for p in (warehouse.parent / "vintages").iterdir()}
            assert on_disk == published  # no orphan snapshot left behind
        shutil.rmtree(root)
    assert seen["before"] >= 3 and seen["after"] >= 3, seen


def refresh_together(processes, kwargs: dict, options: dict) -> list[int]:
    """Start two refreshes of slowfx at once; their exit codes, in start order."""
    procs = [processes.Process(target=run_refresh, args=(kwargs, ["slowfx"], options))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return [p.exitcode for p in procs]


def test_two_refreshes_started_together(tmp_path: Path, processes) -> None:
    kwargs, options, folder = slow_setup(tmp_path)
    (folder / "delay").write_text("0.3")
    assert sorted(refresh_together(processes, kwargs, options)) == [0, EXIT_BUSY]
    warehouse = kwargs["warehouse"]
    with open_warehouse(warehouse, read_only=True) as con:
        assert integrity_problems(con) == []
        assert con.execute("SELECT count(*) FROM fx_rates").fetchall() == [(12,)]
    assert "refresh already running (pid" in (warehouse.parent / "logs" / "refresh.log"
                                             ).read_text()
    # With a wait, the second one queues behind the first and then finds nothing new.
    write_fx(folder, months(2024, 14))
    waiting = {**kwargs, "refresh_lock_wait_s": 30.0}
    assert refresh_together(processes, waiting, options) == [0, 0]
    with open_warehouse(warehouse, read_only=True) as con:
        statuses = con.execute("SELECT s.status FROM refresh_runs r JOIN refresh_run_sources s "
                               "USING (run_id) ORDER BY r.started_at DESC LIMIT 2").fetchall()
        assert con.execute("SELECT count(*) FROM fx_rates").fetchall() == [(14,)]
    assert sorted(s for (s,) in statuses) == ["ok", "skipped"]
