"""The command line as a user meets it: status, sql, schema, summary and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.helpers import run_cli


def test_sql_reads_and_formats(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "sql",
                     "SELECT iso3, m49 FROM countries WHERE iso3 IN ('JPN', 'USA') ORDER BY iso3",
                     "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"iso3": "JPN", "m49": 392}, {"iso3": "USA", "m49": 840}]


def test_sql_refuses_writes(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "sql", "DELETE FROM prices")
    assert result.exit_code == 2
    assert "read-only" in result.stderr and "DELETE" in result.stderr


def test_comtrade_codes_are_there_for_sources(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "sql",
                     "SELECT code, iso3 FROM country_codes WHERE scheme='comtrade' "
                     "AND code IN ('842', '490', '251') ORDER BY code", "--format", "csv")
    assert result.stdout.splitlines() == ["code,iso3", "251,FRA", "490,TWN", "842,USA"]


def test_status_lists_tables_and_latest_periods(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "status", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {r["table"]: r["rows"] for r in json.loads(result.stdout)}
    assert rows["trade_flows"] > 1_000_000 and rows["control_measures"] == 11
    with duckdb.connect(str(built_warehouse), read_only=True) as con:  # lake tables: catalog
        for table in ("baci_flows", "reported_flows", "trade_flows", "fx_rates"):
            assert rows[table] == con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_summary_prints_china_share(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "summary")
    assert result.exit_code == 0, result.stderr
    assert "China's share of Japan's rare-earth imports" in result.stdout
    assert "│ 2024 │" in result.stdout and "rotterdam" in result.stdout


def test_summary_names_both_bases(capsys, monkeypatch, built_warehouse: Path) -> None:
    """By value China supplied 37.8% of Japan's 2024 rare-earth imports, by tonnage 66.1%."""
    monkeypatch.setenv("COLUMNS", "220")
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "summary")
    assert "by value, USD, and by tonnage" in result.stdout
    assert "china share value" in result.stdout and "china share tonnage" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ 2024 │"))
    assert "37.8%" in row and "66.1%" in row and "15,969.39" in row


def test_missing_warehouse_is_a_clear_error(capsys, tmp_path: Path) -> None:
    result = run_cli(capsys, "--warehouse", str(tmp_path / "none.duckdb"), "status")
    assert result.exit_code == 2
    assert "no warehouse at" in result.stderr and "refresh --offline" in result.stderr


def test_env_var_chooses_the_warehouse(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHOKEHOLD_WAREHOUSE", str(tmp_path / "from-env.duckdb"))
    result = run_cli(capsys, "status")
    assert result.exit_code == 2 and "from-env.duckdb" in result.stderr


def test_toml_config_chooses_the_warehouse(capsys, monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "chokehold.toml"
    config.write_text(f'warehouse = "{tmp_path / "from-toml.duckdb"}"\n', encoding="utf-8")
    monkeypatch.setenv("CHOKEHOLD_CONFIG", str(config))
    result = run_cli(capsys, "status")
    assert result.exit_code == 2 and "from-toml.duckdb" in result.stderr


def test_schema_documents_units(capsys) -> None:
    result = run_cli(capsys, "schema", "--format", "json")
    rows = json.loads(result.stdout)
    value = next(r for r in rows if r["table"] == "trade_flows" and r["column"] == "value_usd")
    assert value["unit"] == "USD"
