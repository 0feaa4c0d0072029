"""A refresh with nothing new records its run (every source skipped) without staging a copy of
the warehouse; where the live file cannot be written (a reader holds it open) it stages as
before. Speed is measured in benchmarks/bench_cli.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


NOTHING_NEW_CLI = """
import sys
sys.path.insert(0, {tests!r})
from fakesources import install
install()
from chokehold.cli import run
code = run(["-w", {warehouse!r}, "refresh", "-s", "tinyfx", "-s", "tinyprices", "--path", {folder!r}])
heavy = {{"polars", "pyarrow", "numpy", "pandas"}} & {{m.split(".")[0] for m in sys.modules}}
print("HEAVY", code, sorted(heavy), file=sys.stderr)
"""


def test_nothing_new_through_the_cli_imports_no_frame_library(tiny, tmp_path: Path) -> None:
    """Deciding that nothing is new and recording it needs no polars (0.2 s of the 1 s that
    benchmarks/bench_cli.py allows): the refresh, vintage, lake and warehouse modules take it
    from chokehold._lazy, as the sources do."""
    settings, options, folder = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    code = NOTHING_NEW_CLI.format(tests=str(Path(__file__).parent), folder=str(folder),
                                  warehouse=str(settings.warehouse))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "CHOKEHOLD_CONFIG": str(tmp_path / "none.toml")},
                            check=False)
    assert "HEAVY 0 []" in result.stderr, result.stderr
    assert _runs(settings.warehouse)[-1] == ("ok", first.vintage_id, ["skipped", "skipped"])
