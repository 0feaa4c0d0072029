"""Event study on a synthetic gap with a known step, and on the registry's antimony controls."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from chokehold.analysis.events import event_dates, event_study, hac_change, newey_west_lags
from chokehold.cli import app
from chokehold.commodities import load_commodities
from chokehold.config import PROJECT_ROOT
from chokehold.registry import load_registry, select_measures

STEP_DAY = date(2024, 9, 15)


def synthetic_gap(days: int = 120) -> pl.DataFrame:
    """Daily gap of 100 before STEP_DAY and 300 from it, with +/-10 alternating noise."""
    dates = [STEP_DAY + timedelta(days=d) for d in range(-days, days)]
    gap = [(300.0 if d >= STEP_DAY else 100.0) + (10 if i % 2 else -10)
           for i, d in enumerate(dates)]
    return pl.DataFrame({"commodity": "antimony", "overseas_series": "o", "domestic_series": "d",
                         "date": dates, "gap_usd_t": gap,
                         "ratio": [g / 1000 + 1 for g in gap]})


def one_event(day: date = STEP_DAY) -> pl.DataFrame:
    return pl.DataFrame({"control_id": ["x"], "event": ["effective"], "event_date": [day]})


@pytest.mark.parametrize("window, unit, n_before, n_after", [
    (30, "days", 30, 30), (2, "months", 62, 61), (20, "trading_days", 20, 20)])
def test_known_step_is_recovered(window, unit, n_before, n_after) -> None:
    row = event_study(synthetic_gap(), one_event(), window=window, unit=unit).row(0, named=True)
    assert (row["n_before"], row["n_after"]) == (n_before, n_after)
    # The +/-10 noise averages to zero over an even count, to at most 10/n over an odd one.
    assert row["gap_before"] == pytest.approx(100, abs=10 / n_before)
    assert row["gap_after"] == pytest.approx(300, abs=10 / n_after)
    assert row["gap_change"] == pytest.approx(200, abs=10 / n_after)
    assert row["ratio_change"] == pytest.approx(0.2, abs=0.01 / n_after)
    assert 0 < row["gap_change_se_hac"] < 5


def test_hac_standard_error_is_statsmodels_newey_west() -> None:
    rng = np.random.default_rng(7)
    before, after = rng.normal(0, 1, 40), rng.normal(2, 1, 50)
    change, se, lags = hac_change(before, after)
    y = np.concatenate([before, after])
    x = sm.add_constant(np.r_[np.zeros(40), np.ones(50)])
    fit = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": 3})
    assert lags == newey_west_lags(90) == 3
    assert change == pytest.approx(after.mean() - before.mean())
    assert se == pytest.approx(fit.bse[1])


def test_thin_windows_say_so() -> None:
    sparse = synthetic_gap().filter(pl.col("date").is_in(
        [STEP_DAY - timedelta(days=3), STEP_DAY + timedelta(days=1)]))
    row = event_study(sparse, one_event(), window=1, unit="months").row(0, named=True)
    assert (row["n_before"], row["n_after"]) == (1, 1)
    assert row["gap_change"] == pytest.approx(200)  # both days carry +10 noise
    assert row["gap_change_se_hac"] is None and "no standard error" in row["note"]
    empty = event_study(sparse, one_event(date(2020, 1, 1))).row(0, named=True)
    assert (empty["n_before"], empty["gap_change"]) == (0, None)


def test_events_come_from_the_registry() -> None:
    registry = load_registry(PROJECT_ROOT / "data" / "controls",
                             load_commodities(PROJECT_ROOT / "data" / "commodities.yaml"))
    events = event_dates(select_measures(registry, commodity="antimony"))
    antimony = events.filter(pl.col("control_id") == "cn-2024-33-antimony-superhard")
    assert antimony.select("event", "event_date").rows() == [
        ("announced", date(2024, 8, 15)), ("effective", date(2024, 9, 15))]


def test_cli_gap_and_events_json(built_warehouse: Path) -> None:
    def run(*args: str) -> list[dict]:
        result = CliRunner().invoke(app, ["-w", str(built_warehouse), "prices", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    gap = run("gap", "--commodity", "antimony", "--format", "json")
    seed = next(r for r in gap if r["date"] == "2025-05-07")
    for key in ("overseas_market", "domestic_market", "overseas_usd_t", "domestic_usd_t_ex_vat",
                "domestic_usd_t_incl_vat", "fx_cny_per_usd", "gap_usd_t", "ratio"):
        assert key in seed
    assert seed["gap_usd_t"] == pytest.approx(58000 - 235000 / 1.13 / 7.2166)
    events = run("events", "-c", "antimony", "-f", "json")
    assert {e["control_id"] for e in events} >= {"cn-2024-33-antimony-superhard"}
    assert all(e["n_before"] >= 0 and e["note"] is not None for e in events)
