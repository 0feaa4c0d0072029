"""`chokehold scenario run|matrix|schema|list` against the offline warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from chokehold.analysis.scenarios.spec import schema_json
from chokehold.cli import app
from chokehold.errors import ChokeholdError, UnknownValueError

RUN = ["scenario", "run", "--control", "cn-2025-18-medium-heavy-rare-earths", "--importer",
       "JPN", "--commodity", "rare_earths", "--draws", "2000", "--format", "json"]


def invoke(warehouse: Path, *args: str):
    return CliRunner().invoke(app, ["--warehouse", str(warehouse), *args])


def test_run_json_has_parameters_months_summary_from_the_data(built_warehouse: Path):
    result = invoke(built_warehouse, *RUN)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    with duckdb.connect(str(built_warehouse), read_only=True) as con:
        # t REO: 280530 x 1.17, 284610 and 284690 x 0.8 (data/commodities.yaml content_factors)
        total, china = con.execute("""
            WITH c AS (SELECT partner_iso3,
                              qty * CASE hs_code WHEN '280530' THEN 1.17 ELSE 0.8 END AS t
                       FROM trade_flows
                       WHERE reporter_iso3 = 'JPN' AND period = DATE '2024-01-01'
                         AND source = 'baci' AND hs_code IN ('280530', '284610', '284690'))
            SELECT sum(t), sum(t) FILTER (partner_iso3 = 'CHN') FROM c""").fetchall()[0]
    share = out["parameters"]["supplier_share"]
    assert share["kind"] == "fixed" and share["value"] == pytest.approx(china / total)
    assert share["unit"] == "share of import quantity" and "2024" in share["rationale"]
    assert out["parameters"]["approval_probability"]["origin"] == "licence level 1"
    assert out["parameters"]["imports_t"]["value"] == pytest.approx(total / 12)
    assert len(out["months"]) == 24 and out["months"][0]["month"] == 1
    for key in ("shortfall_t_p10", "shortfall_t_p50", "shortfall_t_p90", "shortfall_share_p50",
                "price_change_p50"):
        assert key in out["months"][0]
    summary = out["summary"]
    assert summary["applies"] is True
    assert summary["peak_shortfall_share_p10"] <= summary["peak_shortfall_share_p50"] \
        <= summary["peak_shortfall_share_p90"]
    assert summary["cumulative_shortfall_t_p50"] >= 0
    assert out["sensitivity"][0]["swing_t"] >= out["sensitivity"][-1]["swing_t"]
    again = json.loads(invoke(built_warehouse, *RUN).stdout)
    assert again["summary"] == summary and again["months"] == out["months"]


def test_run_for_an_importer_the_measure_does_not_reach_is_zero(built_warehouse: Path):
    result = invoke(built_warehouse, "scenario", "run", "--control",
                    "cn-2026-japan-military-end-use-ban", "--importer", "United States",
                    "--commodity", "rare_earths", "--draws", "500", "--format", "json")
    out = json.loads(result.stdout)
    assert out["importer"] == "USA" and out["summary"]["applies"] is False
    assert out["summary"]["cumulative_shortfall_t_p50"] == 0
    assert max(m["shortfall_t_p90"] for m in out["months"]) == 0


@pytest.mark.parametrize("args, error, text", [
    (["--control", "nope"], UnknownValueError, "valid: cn-2023-23-gallium-germanium"),
    (["--commodity", "gold"], UnknownValueError, "unknown commodity 'gold'"),
    (["--commodity", "gallium"], UnknownValueError, "valid: permanent_magnets, rare_earths"),
    (["--set", "approval_probability=1.5"], ChokeholdError, "must lie in [0, 1]"),
    (["--set", "stock_cover_months=-2"], ChokeholdError, "stock_cover_months"),
    (["--set", "supply_elasticity=-0.2"], ChokeholdError, "positive by convention"),
    (["--scenario", "nope"], UnknownValueError, "valid: base, tight"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(warehouse_copy: Path, args, error, text):
    base = dict(zip(RUN[2:8:2], RUN[3:8:2]))
    for flag, value in zip(args[::2], args[1::2]):
        if flag in base:
            base[flag] = value
    extra = [a for pair in zip(args[::2], args[1::2]) if pair[0] not in base for a in pair]
    argv = ["scenario", "run", *[a for kv in base.items() for a in kv], *extra, "--save"]
    result = invoke(warehouse_copy, *argv)
    assert isinstance(result.exception, error), result.output
    assert text in str(result.exception)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM scenario_runs").fetchall()[0][0] == 0


@pytest.mark.slow
def test_save_is_idempotent_and_keeps_full_parameters(warehouse_copy: Path):
    for _ in range(2):
        out = json.loads(invoke(warehouse_copy, *RUN, "--save").stdout)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        runs = con.execute("SELECT run_id, parameters, cumulative_shortfall_t_p50 "
                           "FROM scenario_runs").fetchall()
        months = con.execute("SELECT count(*) FROM scenario_months").fetchall()[0][0]
    assert len(runs) == 1 and runs[0][0] == out["run_id"] and months == 24
    saved = {p["name"]: p for p in json.loads(runs[0][1])}
    assert saved == out["parameters"]
    assert runs[0][2] == pytest.approx(out["summary"]["cumulative_shortfall_t_p50"])


def test_matrix_ranks_and_saves(warehouse_copy: Path):
    result = invoke(warehouse_copy, "scenario", "matrix", "--as-of", "2026-02-01",
                    "--importers", "JPN,USA,KOR", "--draws", "500", "--format", "json", "--save")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    controls = {r["control_id"] for r in rows}
    assert "cn-2026-japan-military-end-use-ban" in controls
    assert "cn-2025-61-extraterritorial-rare-earths" not in controls  # suspended on that date
    assert "cn-2025-strategic-minerals-anti-smuggling" not in controls  # no licence regime
    usa_japan = [r for r in rows if r["control_id"] == "cn-2026-japan-military-end-use-ban"
                 and r["importer_iso3"] == "USA"]
    assert usa_japan and all(not r["applies"] and r["expected_cumulative_shortfall_t"] in (0, None)
                             for r in usa_japan)
    ranked = [r for r in rows if r["rank_shortfall"] is not None]
    assert [r["rank_shortfall"] for r in ranked] == list(range(1, len(ranked) + 1))
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM exposure_matrix").fetchall()[0][0] == len(rows)


def test_schema_command_prints_the_committed_schema(built_warehouse: Path):
    result = invoke(built_warehouse, "scenario", "schema")
    assert result.stdout == schema_json()
    assert "stock_cover_months" in json.loads(result.stdout)["$defs"]["ParameterSet"]["properties"]


def test_list_shows_the_bundled_scenarios(built_warehouse: Path):
    rows = json.loads(invoke(built_warehouse, "scenario", "list", "--format", "json").stdout)
    assert [r["name"] for r in rows] == ["base", "tight"]
