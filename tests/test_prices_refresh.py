"""`refresh --source prices`: every mapped file that is new or changed, nothing from a bad one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.errors import DataError
from chokehold.pipelines.prices import refresh
from chokehold.warehouse import open_warehouse, read_query

VENDOR = {
    "id": "vendor", "description": "weekly antimony sheet",
    "source": {"id": "test_vendor", "publisher": "Test Vendor", "title": "Antimony weekly",
               "licence": "subscription, not redistributable", "url": "https://example.invalid"},
    "files": "vendor/*.csv", "date_column": "日期",
    "series": [{"id": "sb_cn_vendor", "commodity": "antimony", "market": "china_domestic",
                "value": "锑锭", "currency": "RMB", "unit": "吨", "vat_included": True,
                "frequency": "weekly"}],
}


@pytest.fixture
def project(tmp_path: Path):
    """Project data copied to tmp (so a test may add mappings), user files in tmp/raw/prices."""
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data,
                    ignore=shutil.ignore_patterns("*.duckdb*", "raw", "vintages"))
    (data / "prices" / "vendor.yaml").write_text(yaml.safe_dump(VENDOR, allow_unicode=True),
                                                 encoding="utf-8")
    files = tmp_path / "raw" / "prices" / "vendor"
    files.mkdir(parents=True)
    (files / "2025-05.csv").write_text("日期,锑锭\n2025/5/9,\"235,000\"\n2025/5/16,232500\n",
                                       encoding="utf-8-sig")
    return load_settings(warehouse=tmp_path / "w.duckdb", data_dir=data,
                         raw_dir=tmp_path / "raw"), files


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def test_loads_new_files_and_skips_unchanged_ones(project) -> None:
    settings, files = project
    with open_warehouse(settings.warehouse, create=True) as con:
        refresh(con, settings)
        assert _count(con, "SELECT count(*) FROM prices WHERE series_id = 'sb_cn_vendor'") == 2
        row = read_query(con, "SELECT p.currency, p.unit, o.original_value, o.origin, "
                              "o.source_row FROM prices p JOIN price_observations o "
                              "USING (series_id, date) WHERE date = '2025-05-09'").row(0)
        assert row == ("CNY", "t", "235,000", "vendor/2025-05.csv", 2)
        runs = _count(con, "SELECT count(*) FROM load_runs WHERE target_table = 'prices'")
        refresh(con, settings)  # nothing changed: no file is read or loaded again
        assert _count(con, "SELECT count(*) FROM load_runs WHERE target_table = 'prices'") == runs
        (files / "2025-06.csv").write_text("日期,锑锭\n2025/6/27,186500\n", encoding="utf-8")
        refresh(con, settings)
        assert _count(con, "SELECT count(*) FROM load_runs WHERE target_table = 'prices'") \
            == runs + 1
        assert _count(con, "SELECT count(*) FROM prices WHERE series_id = 'sb_cn_vendor'") == 3
        assert _count(con, "SELECT count(*) FROM sources WHERE source_id = 'test_vendor'") == 1
        mapping = settings.price_mappings_dir / "vendor.yaml"  # a changed mapping re-reads its files
        mapping.write_text(mapping.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
        refresh(con, settings)
        assert _count(con, "SELECT count(*) FROM load_runs WHERE target_table = 'prices'") \
            == runs + 3


def test_a_bad_file_loads_nothing_and_names_file_row_and_column(project) -> None:
    settings, files = project
    (files / "2025-07.csv").write_text("日期,锑锭\n2025/7/4,186500\n2025/7/11,n.q.\n",
                                       encoding="utf-8")
    with open_warehouse(settings.warehouse, create=True) as con:
        with pytest.raises(DataError) as err:
            refresh(con, settings)
        assert "2025-07.csv" in str(err.value)
        assert (err.value.row, err.value.field) == (3, "锑锭")
        assert _count(con, "SELECT count(*) FROM prices WHERE date >= '2025-07-01'") == 0


@pytest.mark.slow
def test_cli_refresh_prices_exits_non_zero_on_bad_input(project, tmp_path: Path) -> None:
    settings, files = project
    (files / "2025-08.csv").write_text("日期,锑锭\n2025/8/1,186500\n2025/8/1,190000\n",
                                       encoding="utf-8")
    env = {**os.environ, "CHOKEHOLD_DATA_DIR": str(settings.data_dir),
           "CHOKEHOLD_RAW_DIR": str(settings.raw_dir)}
    cli = Path(sys.executable).with_name("chokehold")
    done = subprocess.run([str(cli), "-w", str(settings.warehouse), "refresh", "-s", "prices"],
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "2025-08.csv" in message and "row 3" in message and "two different prices" in message
    with open_warehouse(settings.warehouse, read_only=True) as con:
        assert _count(con, "SELECT count(*) FROM prices WHERE date >= '2025-08-01'") == 0
