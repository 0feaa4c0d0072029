"""The command line as a newcomer meets it (issue 14): usage errors, configuration errors,
interruptions. Each answer is one short message and an honest exit code, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from fakesources import data_state, months, register, write_fx
from helpers import run_cli

from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.pipelines.refresh import refresh_warehouse

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("args", [
    [], ["trade", "shares"], ["trade", "shares", "-i", "JPN", "-c", "rare_earths", "-f", "xml"],
    ["controls", "list", "--as-of", "2023-13-45"], ["no-such-command"], ["--no-such-option"],
])
def test_usage_errors_exit_2_with_a_short_message(capsys, args: list[str]) -> None:
    result = run_cli(capsys, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Usage:" in result.stderr + result.stdout


def test_version_and_short_help(capsys) -> None:
    from importlib.metadata import version

    shown = run_cli(capsys, "--version")
    assert (shown.exit_code, shown.stdout.strip()) == (0, f"chokehold {version('chokehold')}")
    short = run_cli(capsys, "-h")
    assert short.exit_code == 0 and "refresh" in short.stdout
    sub = run_cli(capsys, "status", "-h")
    assert sub.exit_code == 0 and "--format" in sub.stdout


# ---------------------------------------------------------------------------------------------
# Configuration and environment


@pytest.mark.parametrize(("toml", "env", "expected"), [
    ('warehouse = "x\n', {}, "not valid TOML"),
    ('wharehouse = "x.duckdb"\n', {},
     "unknown key 'wharehouse'; valid keys: baci_base_url, comtrade_api_key"),
    ("http_max_retries = -1\n", {}, "key 'http_max_retries': Input should be greater than"),
    ("", {"CHOKEHOLD_HTTP_TIMEOUT_S": "abc"}, "environment variable CHOKEHOLD_HTTP_TIMEOUT_S"),
])
def test_configuration_errors_name_the_file_and_key(
        capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict,
        expected: str) -> None:
    config = tmp_path / "chokehold.toml"
    config.write_text(toml)
    monkeypatch.setenv("CHOKEHOLD_CONFIG", str(config))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_cli(capsys, "status")
    assert result.exit_code == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    if toml.strip():
        assert str(config) in result.stderr or "CHOKEHOLD_" in result.stderr


def test_impossible_date_in_a_control_file(capsys, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data, ignore=shutil.ignore_patterns("*.duckdb*", "raw"))
    measure = data / "controls" / "cn-2023-23-gallium-germanium.yaml"
    text = measure.read_text()
    assert "\neffective: 2023-08-01\n" in text
    measure.write_text(text.replace("\neffective: 2023-08-01\n", "\neffective: 2023-31-12\n"))
    monkeypatch.setenv("CHOKEHOLD_DATA_DIR", str(data))
    for args in (["controls", "list"], ["controls", "show", "cn-2023-23-gallium-germanium"]):
        result = run_cli(capsys, *args)
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"{measure}" in result.stderr.replace("\n", "")
        assert "line 7" in result.stderr and "'2023-31-12' is not a date" in result.stderr


def test_empty_bom_file(capsys, built_warehouse: Path, tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_text("")
    result = run_cli(capsys, "-w", str(built_warehouse), "deminimis", str(bom))
    assert result.exit_code == 2
    assert "the file is empty" in result.stderr and "component, value" in result.stderr


def test_refresh_refuses_a_warehouse_in_a_missing_folder(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "w.duckdb"
    result = run_cli(capsys, "-w", str(missing), "refresh", "--offline")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and str(missing.parent) in result.stderr
    assert not missing.parent.parent.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_refresh_refuses_a_read_only_folder(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run_cli(capsys, "-w", str(folder / "w.duckdb"), "refresh", "--offline")
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 2 and "not writable" in result.stderr


def test_refresh_preflight_write_probe(tmp_path: Path) -> None:
    """The probe that refuses read-only folders, exercised where root ignores permissions: a
    path whose parent is a file cannot hold a warehouse."""
    from chokehold.cli.runs import check_warehouse_folder
    from chokehold.errors import ChokeholdError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ChokeholdError, match="does not exist|not a folder"):
        check_warehouse_folder(blocker / "w.duckdb")
    check_warehouse_folder(tmp_path / "w.duckdb")
    assert list(tmp_path.iterdir()) == [blocker]  # the probe leaves nothing behind


# ---------------------------------------------------------------------------------------------
# Interruptions: SIGINT and SIGTERM during a refresh


RUNNER = """
import sys
sys.path.insert(0, {tests!r})
from fakesources import install
install()
sys.argv = ["chokehold", *sys.argv[1:]]
from chokehold.cli import main
main()
"""


@pytest.mark.slow  # a fault run: a refresh interrupted in a subprocess
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_refresh_is_recorded_and_publishes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, code: int) -> None:
    register(monkeypatch)
    folder = write_fx(tmp_path / "in", months(2024, 6))
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    refresh_warehouse(load_settings(warehouse=warehouse), ["slowfx"], {"path": [folder]})
    before = data_state(warehouse)
    write_fx(folder, months(2024, 12))
    (folder / "delay").write_text("2")
    log = warehouse.parent / "logs" / "refresh.log"
    offset = len(log.read_text())
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER.format(tests=str(TESTS)), "-w", str(warehouse), "refresh",
         "--source", "slowfx", "--path", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CHOKEHOLD_CONFIG": str(tmp_path / "none.toml")})
    deadline = time.monotonic() + 60
    while "source slowfx: starting" not in log.read_text()[offset:]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0 and "interrupted by " in err, err
    assert data_state(warehouse) == before
    with duckdb.connect(str(warehouse), read_only=True) as con:
        last = con.execute("SELECT status, message FROM refresh_runs ORDER BY started_at DESC "
                           "LIMIT 1").fetchone()
    assert last[0] == "interrupted" and signal.Signals(signum).name in last[1]
    assert not list(warehouse.parent.glob("*.staging*"))


# ---------------------------------------------------------------------------------------------
# Writes outside a refresh take the refresh lock


SCENARIO_RUN = ["scenario", "run", "--control", "cn-2025-18-medium-heavy-rare-earths",
                "--importer", "JPN", "--commodity", "rare_earths", "--draws", "200", "--format",
                "json", "--save"]


def test_scenario_save_during_a_refresh_is_refused_not_lost(capsys, warehouse_copy: Path) -> None:
    from chokehold.warehouse.staging import RefreshLock, lock_path

    def saved_runs() -> int:
        with duckdb.connect(str(warehouse_copy), read_only=True) as con:
            return con.execute("SELECT count(*) FROM scenario_runs").fetchone()[0]

    with RefreshLock(lock_path(warehouse_copy)):  # what a running refresh holds
        busy = run_cli(capsys, "-w", str(warehouse_copy), *SCENARIO_RUN)
    assert busy.exit_code == 75
    assert "refresh already running" in busy.stderr and "saved as run" not in busy.stderr
    assert saved_runs() == 0
    done = run_cli(capsys, "-w", str(warehouse_copy), *SCENARIO_RUN)
    assert done.exit_code == 0 and json.loads(done.stdout)["run_id"]
    assert saved_runs() == 1


# ---------------------------------------------------------------------------------------------
# Honest answers: empty, unknown, nonsense refused, names accepted


def test_empty_answers_say_why(capsys, built_warehouse: Path) -> None:
    w = ["-w", str(built_warehouse)]
    listing = run_cli(capsys, *w, "controls", "list", "--as-of", "1900-01-01", "-f", "json")
    assert listing.exit_code == 0 and json.loads(listing.stdout) == []
    assert "no measure in the registry" in listing.stderr and "2023-07-03" in listing.stderr
    matrix = run_cli(capsys, *w, "scenario", "matrix", "--as-of", "1990-01-01")
    assert matrix.exit_code == 2 and "no modelled measure is in force on 1990-01-01" in matrix.stderr
    gap = run_cli(capsys, *w, "prices", "gap", "-c", "tungsten")
    assert gap.exit_code == 0 and "no tungsten price gap" in gap.stderr
    top = run_cli(capsys, *w, "trade", "screen", "--year", "2022", "--top", "-1")
    assert top.exit_code == 2 and "--top" in top.stderr
    years = run_cli(capsys, *w, "refresh", "--source", "comtrade", "--years", "2024-2022")
    assert years.exit_code == 2 and "runs backwards; write 2022-2024" in years.stderr


def test_reliance_without_usgs_data_says_so(capsys, built_warehouse: Path) -> None:
    result = run_cli(capsys, "-w", str(built_warehouse), "trade", "reliance", "--commodity",
                     "rare_earths")
    assert result.exit_code == 2 and "holds no USGS data" in result.stderr
    assert "valid: " not in result.stderr


def test_country_names_accepted_by_trade(capsys, built_warehouse: Path) -> None:
    by_name = run_cli(capsys, "-w", str(built_warehouse), "trade", "shares", "--importer", "Japan",
                      "-c", "rare_earths", "-f", "json")
    by_code = run_cli(capsys, "-w", str(built_warehouse), "trade", "shares", "--importer", "JPN",
                      "-c", "rare_earths", "-f", "json")
    assert by_name.exit_code == 0, by_name.stderr
    assert json.loads(by_name.stdout) == json.loads(by_code.stdout) != []


def test_unknown_status_is_not_not_needed(capsys, built_warehouse: Path, tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_text("component,value,currency,country_of_origin,element,element_value,"
                   "element_origin\nmagnet,1000,USD,JPN,Dy,5,CHN\n")
    w = ["-w", str(built_warehouse)]
    result = run_cli(capsys, *w, "deminimis", str(bom), "--as-of", "2026-12-01", "-f", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["licence_needed"] is None and out["status_known"] is False
    assert "ends 2026-11-10; no later status in the registry" in out["reason"]
    listing = run_cli(capsys, *w, "controls", "list", "--as-of", "2026-12-01", "-f", "json")
    notes = {r["id"]: r["status_note"] for r in json.loads(listing.stdout)
             if r["status"] == "unknown"}
    assert notes["cn-2025-61-extraterritorial-rare-earths"] == (
        "unknown (the suspended status recorded ends 2026-11-10; no later status in the registry)")


def test_tables_fit_80_columns_without_splitting_numbers(capsys, built_warehouse: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli(capsys, "-w", str(built_warehouse), "summary")
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "│ 2010 │     79.6% │" in result.stdout  # a share as %, the year unseparated
    wide = run_cli(capsys, "-w", str(built_warehouse), "sql",
                   "SELECT * FROM trade_flows WHERE reporter_iso3 = 'JPN' LIMIT 2")
    assert "one record per block; use --format csv" in wide.stdout
    assert max(len(line) for line in wide.stdout.splitlines()) <= 80


def test_empty_columns_are_named_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table leaves out columns with nothing in any row, saying which (JSON and CSV keep
    them): a refresh log whose error column is empty fits where it would not."""
    from rich.console import Console

    from chokehold.cli._output import print_table

    console = Console(width=80, record=True)
    rows = [{"source": "world_mining_data", "status": "ok", "rows": 1200, "error": None,
             "periods": ""}, {"source": "fx", "status": "ok", "rows": 3, "error": None,
                              "periods": ""}]
    print_table(list(rows[0]), rows, title="Refresh", console=console)
    text = console.export_text()
    assert "Refresh (empty here: error, periods)" in text
    assert "error" not in text.replace("empty here: error", "")
    assert "│ world_mining_data │ ok     │ 1,200 │" in text


def test_table_text_is_shown_as_it_is() -> None:
    """Cells and titles are text, never rich markup: a bracket in a name or a source stays."""
    from rich.console import Console

    from chokehold.cli._output import print_table

    console = Console(width=80, record=True)
    print_table(["series", "n"], [{"series": "Nd oxide [99.5%] :smile:", "n": 1}],
                title="Prices [CNY/t]", console=console)
    text = console.export_text()
    assert "Nd oxide [99.5%] :smile:" in text and "Prices [CNY/t]" in text


def test_refresh_with_nothing_new_says_so_in_one_line(capsys, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch)
    folder = write_fx(tmp_path / "in", months(2024, 3))
    warehouse = tmp_path / "warehouse.duckdb"
    args = ("-w", str(warehouse), "refresh", "-s", "tinyfx", "--path", str(folder))
    first = run_cli(capsys, *args)
    assert first.exit_code == 0 and "tinyfx" in first.stdout and "inserted" in first.stdout
    again = run_cli(capsys, *args)
    assert again.exit_code == 0
    assert again.stdout.count("\n") == 1
    assert again.stdout.startswith("Refresh ") and again.stdout.rstrip().endswith(
        "nothing new; inputs unchanged since the last load of tinyfx (--force runs them anyway)")


# ---------------------------------------------------------------------------------------------
# Exports: parquet and xlsx with units and sources


def test_listings_export_parquet_and_xlsx_with_units(capsys, built_warehouse: Path,
                                                     tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    w = ["-w", str(built_warehouse)]
    shares = ["trade", "shares", "-i", "JPN", "-c", "rare_earths"]
    raw = json.loads(run_cli(capsys, *w, *shares, "-f", "json").stdout)
    parquet = tmp_path / "shares.parquet"
    done = run_cli(capsys, *w, *shares, "-f", "parquet", "-o", str(parquet))
    assert done.exit_code == 0 and f"wrote {len(raw)} rows to {parquet}" in done.stderr
    table = pq.read_table(parquet)
    assert table.num_rows == len(raw) and table.column("value_usd")[0].as_py() == raw[0]["value_usd"]
    assert table.schema.field("value_usd").metadata[b"unit"] == b"USD"
    about = json.loads(table.schema.metadata[b"chokehold"])
    assert about["sources"] == "baci" and about["command"].startswith("chokehold ")
    xlsx = tmp_path / "controls.xlsx"
    listed = run_cli(capsys, *w, "controls", "list", "-f", "xlsx", "--output", str(xlsx))
    assert listed.exit_code == 0, listed.stderr
    book = load_workbook(xlsx)
    assert book.sheetnames == ["data", "columns", "about"]
    header = [c.value for c in book["data"][1]]
    assert header[:3] == ["id", "title", "announced"] and book["data"].max_row > 5
    notes = {r[0]: r for r in book["columns"].iter_rows(min_row=2, values_only=True)}
    assert set(notes) == set(header)
    missing = run_cli(capsys, *w, "controls", "list", "-f", "xlsx")
    assert missing.exit_code == 2 and "add --output FILE" in missing.stderr


def test_every_listing_takes_output_file(capsys, built_warehouse: Path, tmp_path: Path) -> None:
    """--output FILE means the listing's file on every command with --format (trade screen's
    once meant Spark's folder and was dropped without --engine spark)."""
    from typer.main import get_command

    from chokehold.cli import app
    from chokehold.cli._shared import OUTPUT_OPTION

    def commands(group, path: str = "") -> dict:  # (typer bundles its own click: duck types)
        if not hasattr(group, "list_commands"):
            return {path: group}
        ctx = type(group).context_class(group)
        return {k: v for name in group.list_commands(ctx)
                for k, v in commands(group.get_command(ctx, name), f"{path} {name}".strip()
                                     ).items()}

    listings = {name: cmd for name, cmd in commands(get_command(app)).items()
                if any(p.name == "fmt" for p in cmd.params)}
    assert {"trade screen", "trade shares", "controls list", "status"} <= set(listings)
    for name, cmd in listings.items():
        output = next(p for p in cmd.params if p.name == "output")
        assert "--output" in output.opts and output.help == OUTPUT_OPTION.help, name
    target = tmp_path / "screen.csv"
    done = run_cli(capsys, "-w", str(built_warehouse), "trade", "screen", "--year", "2022",
                   "--top", "5", "--format", "csv", "--output", str(target))
    assert done.exit_code == 0 and done.stdout == "", done.stderr
    assert len(target.read_text().splitlines()) == 6 and not list(tmp_path.glob(".*partial*"))
    for bad, says in ((tmp_path, "is a folder: give a file name in it"),
                      (tmp_path / "missing" / "x.csv", "does not exist")):
        refused = run_cli(capsys, "-w", str(built_warehouse), "trade", "screen", "--year",
                          "2022", "--format", "csv", "--output", str(bad))
        assert refused.exit_code == 2 and says in refused.stderr, refused.stderr
        assert refused.stderr.strip().count("\n") == 0


def test_network_failure_exits_4(capsys, warehouse_copy: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("COMTRADE_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CHOKEHOLD_HTTP_MAX_RETRIES", "0")
    result = run_cli(capsys, "-w", str(warehouse_copy), "refresh", "--source", "comtrade",
                     "--reporters", "JPN", "--partners", "CHN", "--hs", "280530", "--years", "2023")
    assert result.exit_code == 4, result.stderr
    assert "Connection refused" in result.stderr and "nothing published" in result.stderr


def test_heavy_libraries_are_not_imported_at_start_up() -> None:
    """`chokehold --help` and `status` must not pay for statsmodels, scipy, plotly, ...: only
    the commands that use them import them."""
    heavy = ["statsmodels", "scipy", "plotly", "matplotlib", "great_tables", "pandas"]
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, chokehold.cli; "
         f"print([m for m in {heavy!r} if m in sys.modules])"],
        capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[]"
