"""The scheduled refresh on small test sources: atomic publish, lock, run log, fingerprints,
revisions, partial and failed runs, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from fakesources import data_state, months, register, write_fx, write_prices

from chokehold.cli import main
from chokehold.errors import DataError
from chokehold.pipelines.refresh import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_PARTIAL,
    RefreshFailedError,
    refresh_warehouse,
)
from chokehold.warehouse import first_row, open_warehouse, read_query
from chokehold.warehouse.staging import (
    RefreshBusyError,
    RefreshLock,
    integrity_problems,
    lock_path,
    staging_path,
)

SOURCES = ["tinyfx", "tinyprices"]


def rows(settings, sql: str, params: list | None = None) -> list[tuple]:
    with open_warehouse(settings.warehouse, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_first_refresh_publishes_and_logs_the_run(tiny) -> None:
    settings, options, _ = tiny
    outcome = refresh_warehouse(settings, SOURCES, options)
    assert (outcome.status, outcome.exit_code, outcome.published_vintage) == ("ok", 0, True)
    assert rows(settings, "SELECT date, rate FROM fx_rates ORDER BY date") == [
        (date(2024, 1, 1), 7.0), (date(2024, 2, 1), 7.01), (date(2024, 3, 1), 7.02)]
    run = rows(settings, "SELECT run_id, status, vintage_id, sources FROM refresh_runs")
    assert run == [(outcome.run_id, "ok", outcome.vintage_id, SOURCES)]
    per_source = rows(settings, "SELECT source_id, status, loads, rows_inserted, rows_updated, "
                                "periods_received, retries FROM refresh_run_sources ORDER BY 1")
    assert per_source == [
        ("tinyfx", "ok", 1, 3, 0, "2024-01-01..2024-03-01 (3)", 0),
        ("tinyprices", "ok", 1, 1, 0, "2024-01-15", 0)]
    assert not staging_path(settings.warehouse).exists()
    log = settings.refresh_log.read_text()
    assert f"run={outcome.run_id}" in log and "refresh ok" in log


def test_nothing_new_is_skipped_by_fingerprint_and_changed_file_is_not(tiny) -> None:
    settings, options, folder = tiny
    refresh_warehouse(settings, SOURCES, options)
    again = refresh_warehouse(settings, SOURCES, options)
    assert [o.status for o in again.sources] == ["skipped", "skipped"]
    assert not again.published_vintage
    write_fx(folder, months(2024, 4))  # one new month in the file: only tinyfx runs
    third = refresh_warehouse(settings, SOURCES, options)
    assert [o.status for o in third.sources] == ["ok", "skipped"]
    assert third.sources[0].total("rows_inserted") == 1
    assert third.sources[0].total("rows_unchanged") == 3
    assert third.published_vintage and third.vintage_id != again.vintage_id
    forced = refresh_warehouse(settings, SOURCES, options, force=True)
    assert [o.status for o in forced.sources] == ["ok", "ok"]
    assert rows(settings, "SELECT count(*) FROM refresh_runs") == [(4,)]


def test_revised_value_keeps_the_old_one_and_its_vintage(tiny) -> None:
    settings, options, folder = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    old_vintage = rows(settings, "SELECT DISTINCT vintage FROM fx_rates")[0][0]
    revised = months(2024, 3)
    revised["2024-02"] = 7.5
    write_fx(folder, revised)
    second = refresh_warehouse(settings, SOURCES, options)
    assert second.sources[0].total("rows_updated") == 1
    new_vintage = rows(settings, "SELECT vintage FROM fx_rates WHERE date = '2024-02-01'")[0][0]
    history = rows(settings, "SELECT table_name, row_key, column_name, old_value, new_value, "
                             "old_vintage, new_vintage, run_id FROM revisions")
    key = json.dumps({"date": "2024-02-01", "base": "USD", "quote": "XTS", "source": "tinyfx"},
                     separators=(",", ":"))
    assert history == [("fx_rates", key, "rate", "7.01", "7.5", old_vintage, new_vintage,
                        second.run_id)]
    assert old_vintage != new_vintage
    assert rows(settings, "SELECT rate FROM fx_rates WHERE date = '2024-02-01'") == [(7.5,)]
    assert first.vintage_id != second.vintage_id


def test_failed_source_leaves_the_warehouse_untouched_and_records_the_run(tiny) -> None:
    settings, options, folder = tiny
    refresh_warehouse(settings, SOURCES, options)
    before = data_state(settings.warehouse)
    write_fx(folder, months(2024, 6))
    (folder / "prices.csv").write_text("date,value\n2024-02-15,not-a-number\n")
    with pytest.raises(RefreshFailedError, match="tinyprices") as failed:
        refresh_warehouse(settings, SOURCES, options)
    assert failed.value.exit_code == EXIT_FAILED
    assert data_state(settings.warehouse) == before  # tinyfx's new months were not published
    last = rows(settings, "SELECT status, message FROM refresh_runs ORDER BY started_at DESC "
                          "LIMIT 1")[0]
    assert last[0] == "failed" and "tinyprices" in last[1]
    assert rows(settings, "SELECT source_id, r.status FROM refresh_run_sources r JOIN refresh_runs "
                          "USING (run_id) WHERE refresh_runs.status = 'failed' ORDER BY 1") == [
        ("tinyfx", "ok"), ("tinyprices", "failed")]
    assert not staging_path(settings.warehouse).exists()


@pytest.mark.slow
def test_allow_partial_publishes_the_others_and_names_the_stale_source(tiny) -> None:
    settings, options, folder = tiny
    refresh_warehouse(settings, SOURCES, options)
    write_fx(folder, months(2024, 5))
    (folder / "prices.csv").unlink()
    outcome = refresh_warehouse(settings, SOURCES, options, allow_partial=True)
    assert (outcome.status, outcome.exit_code, outcome.stale_sources) == (
        "partial", EXIT_PARTIAL, ["tinyprices"])
    assert rows(settings, "SELECT count(*) FROM fx_rates") == [(5,)]
    assert rows(settings, "SELECT stale_sources, status FROM published_vintages WHERE "
                          "vintage_id = ?", [outcome.vintage_id]) == [(["tinyprices"], "partial")]
    digest = (settings.vintages_dir / outcome.vintage_id / "digest.md").read_text()
    assert "**Stale sources**" in digest and "tinyprices" in digest
    # The stale source keeps the fingerprint of its last good load: its file back as it was is
    # nothing new; a new file runs it.
    write_prices(folder, {"2024-01-15": 100.0})
    same = refresh_warehouse(settings, SOURCES, options)
    assert [o.status for o in same.sources] == ["skipped", "skipped"]
    write_prices(folder, {"2024-01-15": 100.0, "2024-02-15": 99.0})
    retry = refresh_warehouse(settings, SOURCES, options)
    assert [o.status for o in retry.sources] == ["skipped", "ok"]


def test_source_failing_after_a_commit_is_rolled_out_of_a_partial_run(
        tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source that loaded one table then failed must not leave that half in the warehouse."""
    settings, options, folder = tiny
    refresh_warehouse(settings, SOURCES, options)
    before = rows(settings, "SELECT * FROM fx_rates ORDER BY ALL")
    import fakesources.tinyfx as tinyfx

    real = tinyfx.refresh

    def half(con, settings, **kw):
        real(con, settings, **kw)
        raise RuntimeError("second table failed")

    monkeypatch.setattr(tinyfx, "refresh", half)
    write_fx(folder, months(2024, 6))
    write_prices(folder, {"2024-01-15": 100.0, "2024-02-15": 101.0})
    outcome = refresh_warehouse(settings, SOURCES, options, allow_partial=True)
    assert outcome.status == "partial" and outcome.stale_sources == ["tinyfx"]
    assert rows(settings, "SELECT * FROM fx_rates ORDER BY ALL") == before
    assert rows(settings, "SELECT count(*) FROM prices") == [(2,)]


def test_lock_busy_message_wait_and_stale_lock(tiny) -> None:
    settings, options, _ = tiny
    path = lock_path(settings.warehouse)
    with RefreshLock(path):
        with pytest.raises(RefreshBusyError, match=rf"refresh already running \(pid {os.getpid()}"):
            refresh_warehouse(settings, SOURCES, options)
        with pytest.raises(RefreshBusyError, match="waited 0.3 s"):
            RefreshLock(path, wait_s=0.3).__enter__()
    # A crashed holder: its record is in the file but nobody holds the flock.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    path.write_text(json.dumps({"pid": int(dead), "host": os.uname().nodename,
                                "since": "2026-01-01T00:00:00+00:00"}))
    staging_path(settings.warehouse).parent.mkdir(parents=True, exist_ok=True)
    staging_path(settings.warehouse).write_bytes(b"half-written staging copy")
    outcome = refresh_warehouse(settings, SOURCES, options)
    assert outcome.status == "ok"
    assert outcome.stale_lock is not None and outcome.stale_lock.pid == int(dead)
    assert not outcome.stale_lock.alive
    assert "cleared a stale refresh lock" in settings.refresh_log.read_text()
    assert path.read_text() == ""  # released cleanly


def test_readers_keep_their_snapshot_while_a_refresh_publishes(tiny) -> None:
    settings, options, folder = tiny
    refresh_warehouse(settings, SOURCES, options)
    reader = duckdb.connect(str(settings.warehouse), read_only=True)
    write_fx(folder, months(2024, 8))
    refresh_warehouse(settings, SOURCES, options)
    assert reader.execute("SELECT count(*) FROM fx_rates WHERE source = 'tinyfx'"
                          ).fetchall() == [(3,)]
    reader.close()
    assert rows(settings, "SELECT count(*) FROM fx_rates WHERE source = 'tinyfx'") == [(8,)]
    with open_warehouse(settings.warehouse, read_only=True) as con:
        assert integrity_problems(con) == []


def test_integrity_check_finds_a_broken_row(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path, create=True) as con:
        assert integrity_problems(con) == []
        con.execute("DROP TABLE prices")
        con.execute("CREATE TABLE prices AS SELECT 's' AS series_id, 'c' AS commodity, "
                    "'m' AS market, DATE '2024-01-01' AS date, -1.0 AS value, 'USD' AS currency, "
                    "'t' AS unit, false AS vat_included, 'x' AS source, 'v' AS vintage")
        problems = integrity_problems(con)
    assert problems == ["prices.value: 1 rows fail value > 0"]


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["chokehold", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.slow
def test_cli_exit_codes_and_listings(tiny, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    settings, _, folder = tiny
    settings.warehouse.parent.mkdir(parents=True)  # the refresh refuses a missing folder
    base = ["--warehouse", str(settings.warehouse)]
    refresh = [*base, "refresh", "-s", "tinyfx", "-s", "tinyprices", "--path", str(folder)]
    assert run_cli(monkeypatch, *refresh) == 0
    (folder / "prices.csv").unlink()
    write_fx(folder, months(2024, 4))
    assert run_cli(monkeypatch, *refresh) == EXIT_FAILED
    assert "refresh" in capsys.readouterr().err
    assert run_cli(monkeypatch, *refresh, "--allow-partial") == EXIT_PARTIAL
    write_prices(folder, {"2024-01-15": 100.0})
    write_fx(folder, months(2024, 5))
    import fakesources.tinyfx as tinyfx

    def bad_input(*_, **__):
        raise DataError("value 'x' is not a number", source="fx.csv", row=3, field="rate")

    monkeypatch.setattr(tinyfx, "refresh", bad_input)
    assert run_cli(monkeypatch, *refresh) == 2  # bad input: fix the file
    assert "fx.csv, row 3, field rate" in capsys.readouterr().err
    monkeypatch.undo()
    register(monkeypatch)
    with RefreshLock(lock_path(settings.warehouse)):
        assert run_cli(monkeypatch, *refresh) == EXIT_BUSY
    assert "refresh already running" in capsys.readouterr().err
    assert run_cli(monkeypatch, *base, "runs", "--format", "json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in listed] == ["failed", "partial", "failed", "ok"]
    assert listed[1]["failed"] == "tinyprices"
    assert run_cli(monkeypatch, *base, "runs", "--run", "last", "--format", "csv") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("source_id,status,")
    assert run_cli(monkeypatch, *base, "vintages", "list", "--format", "json") == 0
    vintages = json.loads(capsys.readouterr().out)
    assert [v["status"] for v in vintages] == ["partial", "ok"]
    assert all(v["on_disk"] for v in vintages)
    assert run_cli(monkeypatch, *base, "refresh", "-s", "nosuch") == 2
    assert "unknown source 'nosuch'" in capsys.readouterr().err


def test_first_failed_refresh_leaves_an_empty_warehouse_with_its_record(tiny) -> None:
    settings, options, folder = tiny
    (folder / "fx.csv").unlink()
    with pytest.raises(RefreshFailedError):
        refresh_warehouse(settings, SOURCES, options)
    assert rows(settings, "SELECT status FROM refresh_runs") == [("failed",)]
    assert rows(settings, "SELECT count(*) FROM fx_rates") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM published_vintages") == [(0,)]


def test_run_record_counts_match_load_runs(tiny) -> None:
    settings, options, _ = tiny
    outcome = refresh_warehouse(settings, SOURCES, options)
    with open_warehouse(settings.warehouse, read_only=True) as con:
        loads = first_row(con, "SELECT sum(rows_inserted) FROM load_runs")[0]
        frame = read_query(con, "SELECT sum(rows_inserted) AS n FROM refresh_run_sources "
                                "WHERE run_id = ?", [outcome.run_id])
    assert frame["n"][0] == loads == 4


def test_sources_report_retries_warnings_and_periods_by_call_or_by_log() -> None:
    import logging

    from chokehold.config import load_settings
    from chokehold.pipelines._runlog import (
        collecting,
        note_periods,
        note_retry,
        note_warning,
        run_logging,
    )

    note_retry()  # outside a refresh: ignored
    log = logging.getLogger("chokehold.pipelines._http")
    with run_logging(load_settings(), "test", log_file=Path(os.devnull)), collecting() as stats:
        note_retry()
        note_warning("row 7 has no quantity")
        note_periods(requested=["2024-02", "2024-01", "2024-03"], received=["2024-01"])
        log.warning("%s: attempt %d failed (%s); retrying", "https://x/y", 1, "HTTP 503")
        log.warning("partner code 999 unknown, row dropped")
        log.info("GET https://x/y (attempt 2)")
    assert stats.retries == 2
    assert stats.warnings == ["row 7 has no quantity", "partner code 999 unknown, row dropped"]
    assert (stats.periods_requested, stats.periods_received) == ("2024-01..2024-03 (3)",
                                                                 "2024-01")


def test_refresh_refuses_to_copy_a_warehouse_another_writer_holds(tiny) -> None:
    from chokehold.errors import WarehouseError

    settings, options, folder = tiny
    refresh_warehouse(settings, SOURCES, options)
    write_fx(folder, months(2024, 4))
    writer = duckdb.connect(str(settings.warehouse))
    try:
        with pytest.raises(WarehouseError, match="another process writing"):
            refresh_warehouse(settings, SOURCES, options)
    finally:
        writer.close()
    assert refresh_warehouse(settings, SOURCES, options).status == "ok"
