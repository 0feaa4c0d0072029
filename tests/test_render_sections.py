"""Report sections without a render: what they say where the model or the data say no."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from chokehold.config import load_settings
from chokehold.render import data
from chokehold.render import report as R
from chokehold.render.charts import Table


@pytest.fixture
def configured(built_warehouse: Path):
    data.configure(load_settings(warehouse=built_warehouse))
    yield
    data.configure(load_settings())


def test_a_measure_that_does_not_reach_the_importer_shows_applies_false(configured) -> None:
    m = data.measure("cn-2024-46-us-dual-use-ban")
    assert m.destinations.countries == ["USA"]
    run = data.scenario_run(m.id, "JPN", "antimony", "base")
    assert run.result is not None and run.result.summary["applies"] is False
    assert run.result.summary["cumulative_shortfall_t_p90"] == 0.0
    text = R.scenario_message(run).data
    assert "applies = false" in text and "does not reach JPN" in text
    assert R.scenario_charts(run) == [] and R.tornado_table(run) is None


def test_a_measure_the_model_does_not_cover_says_why(configured) -> None:
    run = data.scenario_run("cn-2025-strategic-minerals-anti-smuggling", "JPN", "antimony",
                            "base")
    assert run.result is None and "without a licence level" in run.reason
    assert "does not run for this combination" in R.scenario_message(run).data


def test_scenario_runs_are_seeded_and_cached(configured) -> None:
    args = ("cn-2025-18-medium-heavy-rare-earths", "KOR", "rare_earths", "tight")
    first = data.scenario_run(*args)
    assert data.scenario_run(*args) is first                   # one run per kernel
    assert first.draws == 20_000 and first.seed == 1
    data.scenario_run.cache_clear()
    again = data.scenario_run(*args)
    assert again.result.summary == first.result.summary        # same seed, same figures


def test_de_minimis_note_follows_the_registry_status(configured) -> None:
    rule = data.measure("cn-2025-61-extraterritorial-rare-earths")
    start = rule.status[0].start
    in_force = R.de_minimis_note(rule, "permanent_magnets", start).data
    assert "**in force**" in in_force and "needs a licence on that date" in in_force
    assert "(a related measure" not in in_force
    later = R.de_minimis_note(rule, "permanent_magnets", rule.status[1].start + timedelta(1))
    assert "**suspended**" in later.data and "no licence is needed" in later.data
    assert R.de_minimis_note(data.measure("cn-2023-39-graphite"), "graphite",
                             date(2025, 12, 1)) is None


def test_a_scenario_without_shortfall_draws_no_flat_bands(configured) -> None:
    run = data.scenario_run("cn-2024-33-antimony-superhard", "VNM", "antimony", "base")
    assert run.result.summary["applies"] and run.result.summary["peak_shortfall_share_p90"] == 0
    assert "goes unmet in 90% of draws" in R.scenario_message(run).data
    assert R.scenario_charts(run) == []


def test_gap_message_says_what_the_warehouse_holds(configured) -> None:
    empty = data.complete_gap("tungsten")
    assert empty.is_empty() and data.markets("tungsten") == []
    assert "no tungsten price series" in R.gap_message(empty, "tungsten").data
    antimony = data.complete_gap("antimony", markets="china_domestic,rotterdam")
    assert antimony.height == data.complete_gap("antimony").height > 0
    assert data.complete_gap("antimony", markets=["rotterdam"]).is_empty()


def test_reliance_is_empty_without_a_production_series(configured) -> None:
    assert data.reliance("JPN", "permanent_magnets", date(2025, 12, 1)).is_empty()
    assert "no production series" in R.reliance_message(pl.DataFrame(), "JPN",
                                                        "permanent_magnets").data


def test_series_kind_draws_isolated_quotes_as_points() -> None:
    daily = [date(2025, 1, 1) + timedelta(d) for d in range(30)]
    assert R.series_kind(daily) == "line"
    assert R.series_kind([date(2017, 9, 29), date(2024, 12, 31), date(2025, 5, 7)]) == "points"


def test_table_columns_get_room_by_content() -> None:
    table = Table(pl.DataFrame({"n": [1, 2], "note": ["x" * 60, "y"]}), title="t", source="s",
                  labels={"n": "observations"})
    rule = table.markdown().splitlines()[2]  # after the table div's opening line
    assert rule == f"|{'-' * (len('observations') + 2)}:|:{'-' * 20}|"


def test_dates_and_numbers_get_their_whole_width() -> None:
    """Dates and numbers do not wrap: narrower columns overprinted the next one in typst."""
    from datetime import date as day

    table = Table(pl.DataFrame({"date": [day(2024, 8, 15)], "gap": [29182.47],
                                "measure": ["MOFCOM/GAC Announcement 2024 No. 33"]}),
                  title="t", source="s")
    rule = table.markdown().splitlines()[2]
    assert rule == f"|:{'-' * 12}|{'-' * 8}:|:{'-' * 20}|"
