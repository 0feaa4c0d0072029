"""A refresh with nothing new records its run (every source skipped) without staging a copy of
the warehouse; where the live file cannot be written (a reader holds it open) it stages as
before. Speed is measured in benchmarks/bench_cli.py."""

from __future__ import annotations

import duckdb
import pytest
from fakesources import data_state

from chokehold.pipelines import refresh as refresh_module
from chokehold.pipelines.refresh import refresh_warehouse
from chokehold.warehouse.staging import staging_path, wal_path

SOURCES = ["tinyfx", "tinyprices"]


def _runs(warehouse) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT r.status, r.vintage_id, list(s.status ORDER BY s.source_id) "
                           "FROM refresh_runs r JOIN refresh_run_sources s USING (run_id) "
                           "GROUP BY r.run_id, r.status, r.vintage_id, r.started_at "
                           "ORDER BY r.started_at").fetchall()


def test_nothing_new_records_the_run_without_staging(tiny, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    settings, options, _ = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    before = data_state(settings.warehouse)

    def no_staging(*_a, **_k):
        raise AssertionError("a refresh with nothing new staged a copy")

    monkeypatch.setattr(refresh_module, "staged_copy", no_staging)
    again = refresh_warehouse(settings, SOURCES, options)
    assert (again.status, again.exit_code, again.published_vintage) == ("ok", 0, False)
    assert again.vintage_id == first.vintage_id
    assert [o.status for o in again.sources] == ["skipped", "skipped"]
    assert _runs(settings.warehouse) == [("ok", first.vintage_id, ["ok", "ok"]),
                                         ("ok", first.vintage_id, ["skipped", "skipped"])]
    assert data_state(settings.warehouse) == before
    assert not wal_path(settings.warehouse).exists()
    assert not staging_path(settings.warehouse).exists()


def test_nothing_new_with_a_reader_holding_the_file_stages_as_before(tiny) -> None:
    settings, options, _ = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    with duckdb.connect(str(settings.warehouse), read_only=True) as reader:
        again = refresh_warehouse(settings, SOURCES, options)
        # the reader keeps the file it opened (the swap replaced the path, not its bytes)
        assert reader.execute("SELECT count(*) FROM refresh_runs").fetchall() == [(1,)]
    assert [o.status for o in again.sources] == ["skipped", "skipped"]
    assert _runs(settings.warehouse)[-1] == ("ok", first.vintage_id, ["skipped", "skipped"])
