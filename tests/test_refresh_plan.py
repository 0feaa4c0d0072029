"""The refresh plan (pipelines/plan.py, data/refresh.yaml): validated options, overrides,
dependencies first, per-source fingerprints, and `chokehold refresh` with no arguments running
every planned source against loopback servers."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from fakesources.comtrade_api import app
from faultserver import FaultServer
from test_trade_japan_customs import GOOD, write
from test_trade_usgs import long_file, salient, world

from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.errors import ChokeholdError
from chokehold.pipelines import SOURCES, plan
from chokehold.pipelines import refresh as refresh_module
from chokehold.pipelines.refresh import PER_SOURCE, fingerprints
from chokehold.warehouse import open_warehouse
from tests.helpers import run_cli

COMTRADE = ["--reporters", "JPN", "--hs", "280530", "--years", "2023"]


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A clean Comtrade look-alike on 127.0.0.1, the settings pointing at it."""
    with FaultServer(app, rate=0.0) as server:
        monkeypatch.setenv("COMTRADE_BASE_URL", server.url)
        monkeypatch.setenv("CHOKEHOLD_COMTRADE_MIN_INTERVAL_S", "0")
        monkeypatch.setenv("CHOKEHOLD_RAW_DIR", str(tmp_path / "raw"))
        yield server


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--hs", "TOTAL", "comtrade.hs: TOTAL: HS codes have six digits"),
    ("--years", "abc", "'abc': use YYYY, YYYY-YYYY"),
    ("--reporters", "JPX", "comtrade.reporters: unknown country 'JPX'"),
])
def test_comtrade_usage_errors_exit_2_before_anything_runs(capsys, tmp_path: Path, flag: str,
                                                           value: str, message: str) -> None:
    args = dict(zip(COMTRADE[::2], COMTRADE[1::2]))
    args[flag] = value
    warehouse = tmp_path / "new.duckdb"
    result = run_cli(capsys, "-w", str(warehouse), "refresh", "--source", "comtrade",
                     *[x for kv in args.items() for x in kv])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not warehouse.exists()  # nothing half-written


def test_fresh_warehouse_takes_comtrade_alone(capsys, tmp_path: Path, loopback) -> None:
    warehouse = tmp_path / "new.duckdb"
    result = run_cli(capsys, "-w", str(warehouse), "refresh", "--source", "comtrade",
                     *COMTRADE)
    assert result.exit_code == 0, result.stderr
    with open_warehouse(warehouse, read_only=True) as con:
        ran = dict(con.execute("SELECT source_id, status FROM refresh_run_sources").fetchall())
        rows = con.execute("SELECT count(*), min(reporter_iso3), max(reporter_iso3) FROM "
                           "trade_flows WHERE source = 'comtrade'").fetchone()
    assert ran == {"reference": "ok", "comtrade": "ok"}  # the country reference loaded first
    assert rows == (5 * 3, "JPN", "JPN")  # 5 partners x 3 flows, one line, one year


def test_dependencies_only_when_missing(built_warehouse: Path, tmp_path: Path) -> None:
    held = plan.held_sources(built_warehouse)
    assert {"reference", "fx", "baci"} <= held
    assert plan.with_dependencies(["comtrade"], held) == ["comtrade"]
    assert plan.with_dependencies(["japan_customs"], set()) == ["reference", "fx",
                                                                "japan_customs"]
    assert plan.with_dependencies(["comtrade"], plan.held_sources(tmp_path / "none.duckdb")) \
        == ["reference", "comtrade"]


def test_plan_conveniences_and_overrides(settings) -> None:
    planned = {p.name: p for p in plan.resolve(settings, today=date(2026, 12, 1))}
    comtrade = planned["comtrade"].options
    assert comtrade["years"] == "2023-2025" and comtrade["reporters"] == "JPN,USA,KOR,DEU"
    assert {"280530", "284610", "284690", "850511", "261710"} <= set(comtrade["hs"].split(","))
    assert planned["usgs"].options["path"] == [settings.raw_dir / "usgs" / "*.csv"]
    assert set(planned) == set(yaml.safe_load(settings.refresh_plan.read_text())["sources"])
    one = plan.resolve(settings, sources=["comtrade"], sets=["comtrade.years=2024",
                                                             "comtrade.hs=280530"])
    assert [(p.name, p.options["years"], p.options["hs"]) for p in one if p.name == "comtrade"] \
        == [("comtrade", "2024", "280530")]
    with pytest.raises(ChokeholdError, match=r"--set 'comtrade': use --set SOURCE.OPTION=VALUE"):
        plan.resolve(settings, sources=["comtrade"], sets=["comtrade"])
    with pytest.raises(ChokeholdError, match="source 'usgs' is not in this run"):
        plan.resolve(settings, sources=["comtrade"], sets=["usgs.path=x.csv"])


def test_bad_plan_file_names_file_and_field(settings, tmp_path: Path) -> None:
    bad = tmp_path / "refresh.yaml"
    bad.write_text("sources:\n  comtrade: {reporters: [JPN], hs: [TOTAL], years: last 3}\n")
    with pytest.raises(ChokeholdError, match=rf"{re.escape(str(bad))}: comtrade.hs"):
        plan.resolve(load_settings(**{**settings.model_dump(), "refresh_plan": bad}))
    bad.write_text("sources:\n  nosuch: {}\n")
    with pytest.raises(ChokeholdError, match="field sources.nosuch: unknown source 'nosuch'"):
        plan.resolve(load_settings(**{**settings.model_dump(), "refresh_plan": bad}))


def test_code_fingerprint_covers_the_modules_a_source_imports() -> None:
    controls = {p.relative_to(PROJECT_ROOT).as_posix()
                for p in plan.code_files("chokehold.pipelines.controls")}
    reference = {p.relative_to(PROJECT_ROOT).as_posix()
                 for p in plan.code_files("chokehold.pipelines.reference")}
    fx = {p.relative_to(PROJECT_ROOT).as_posix() for p in plan.code_files("chokehold.pipelines.fx")}
    assert {"pipelines/controls.py", "chokehold/registry.py", "chokehold/warehouse/db.py"} \
        <= controls
    assert "chokehold/commodities.py" in reference and "chokehold/countries.py" in reference
    assert "chokehold/registry.py" not in fx and "pipelines/comtrade.py" not in fx


def test_fingerprint_changes_with_own_code_and_own_options_only(settings, monkeypatch) -> None:
    base = {PER_SOURCE: {"controls": {}, "fx": {}}}
    before = fingerprints(["controls", "fx"], settings, base)
    other_options = {PER_SOURCE: {**base[PER_SOURCE], "comtrade": {"years": "2024"}}}
    assert fingerprints(["controls", "fx"], settings, other_options) == before
    real = plan.code_fingerprint
    monkeypatch.setattr(refresh_module, "code_fingerprint",
                        lambda name: real(name) + ("edited" if name == "controls" else ""))
    after = fingerprints(["controls", "fx"], settings, base)
    assert after["controls"] != before["controls"] and after["fx"] == before["fx"]


def test_schedules_run_the_plan() -> None:
    cron = (PROJECT_ROOT / "deploy" / "cron" / "chokehold-refresh.cron").read_text()
    service = (PROJECT_ROOT / "deploy" / "systemd" / "chokehold-refresh.service").read_text()
    workflow = (PROJECT_ROOT / ".github" / "workflows" / "monthly-refresh.yml").read_text()
    for text in (cron, service, workflow):
        commands = re.findall(r"chokehold refresh[^\n]*", text)
        assert commands and all("--source" not in c and " -s " not in c for c in commands)
    planned = yaml.safe_load((PROJECT_ROOT / "data" / "refresh.yaml").read_text())["sources"]
    assert {"comtrade", "usgs", "japan_customs"} <= set(planned) <= set(SOURCES)


@pytest.mark.slow
def test_refresh_without_arguments_runs_every_planned_source(capsys, tmp_path: Path, loopback,
                                                             monkeypatch) -> None:
    raw = tmp_path / "raw"
    for folder in ("usgs", "japan_customs"):
        (raw / folder).mkdir(parents=True)
    usgs = long_file(raw / "usgs", world("China", "2024", '"60,000"'),
                     world("World total (rounded)", "2024", '"60,000"'),
                     salient("Net import reliance", "2024", "86"))
    customs = write(raw / "japan_customs", *GOOD)
    planned = {"reference": {}, "controls": {}, "baci": {}, "world_mining_data": {}, "fx": {},
               "prices": {}, "comtrade": {"reporters": ["JPN", "KOR"], "hs": ["rare_earths"],
                                          "years": "2023"},
               "usgs": {"path": ["usgs/*.csv"]}, "japan_customs": {"path": ["japan_customs/*.csv"]}}
    (tmp_path / "refresh.yaml").write_text(yaml.safe_dump({"sources": planned}))
    monkeypatch.setenv("CHOKEHOLD_REFRESH_PLAN", str(tmp_path / "refresh.yaml"))
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()  # refresh refuses a missing warehouse folder
    result = run_cli(capsys, "-w", str(warehouse), "refresh")
    assert result.exit_code == 0, result.stderr
    with open_warehouse(warehouse, read_only=True) as con:
        ran = dict(con.execute("SELECT source_id, status FROM refresh_run_sources").fetchall())
        comtrade = con.execute("SELECT count(DISTINCT reporter_iso3), count(DISTINCT hs_code) "
                               "FROM trade_flows WHERE source = 'comtrade'").fetchone()
        usgs_rows = con.execute("SELECT qty FROM production WHERE source = 'usgs'").fetchall()
        customs_rows = con.execute("SELECT count(*) FROM trade_flows WHERE source = "
                                   "'japan_customs'").fetchone()[0]
        logged = json.loads(con.execute("SELECT options FROM refresh_runs").fetchone()[0])
    assert ran == dict.fromkeys(planned, "ok")
    assert comtrade == (2, 3)  # JPN, KOR x the three rare-earth lines
    assert usgs_rows == [(60_000.0,)] and customs_rows > 0
    assert logged[PER_SOURCE]["usgs"]["path"] == [str(usgs)]
    assert logged[PER_SOURCE]["japan_customs"]["path"] == [str(customs)]


def _ast_imports(path: Path, package: str) -> frozenset[str]:
    """The chokehold modules ``path`` imports, by ``ast`` (the oracle of ``plan._imports``)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found |= {base, *(f"{base}.{a.name}" for a in node.names)}
    return frozenset(m for m in found if m == "chokehold" or m.startswith("chokehold."))


def test_import_scan_finds_what_ast_finds() -> None:
    """The text scan of a module's imports finds every import ``ast`` finds in every module
    of the project, and exactly those in the modules a source's fingerprint covers (it may
    add a name from a string, as render/kernel.py's warm-up code, never drop one)."""
    packages = {"chokehold": "chokehold", "pipelines": "chokehold.pipelines",
                "analysis": "chokehold.analysis"}
    covered = {p for name in SOURCES for p in plan.code_files(f"chokehold.pipelines.{name}")}
    checked = 0
    for folder, package in packages.items():
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            # a module's package is its folder (an __init__.py's too)
            here = ".".join([package, *path.relative_to(PROJECT_ROOT / folder).parent.parts])
            ours, oracle = plan._imports(path, here), _ast_imports(path, here)
            assert oracle <= ours, (path, oracle - ours)
            if path in covered:
                assert ours == oracle, (path, ours - oracle)
            checked += 1
    assert checked > 100 and len(covered) > 20
