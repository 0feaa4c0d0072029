"""The supply-risk section of the reports (no render): its numbers are the analysis API's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chokehold.analysis import risk
from chokehold.config import load_settings
from chokehold.render import data
from chokehold.render import risk_report as RR


@pytest.fixture
def inputs(built_warehouse: Path):
    data.configure(load_settings(warehouse=built_warehouse))
    yield RR.inputs()
    data.configure(load_settings())


def test_table_and_chart_come_from_the_analysis_api(inputs: risk.RiskData) -> None:
    day = date(2025, 12, 1)
    year = RR.risk_year(inputs, "rare_earths", day)
    assert year == 2024
    table = RR.indices_table(inputs, "JPN", "rare_earths", year, day)
    api = risk.compare(inputs, "JPN", "rare_earths", year, day)
    values = dict(zip(table.frame["index"], table.frame["value"]))
    assert values["GeoPolRisk score"] == pytest.approx(api["geopolrisk_score"], rel=1e-12)
    assert values["EU-method supply risk"] == pytest.approx(api["eu_supply_risk"], rel=1e-12)
    assert values["Trade factor t of China (EU method)"] == 1.2
    assert "World Bank" in table.source and "2024" in table.title
    chart = RR.geopolrisk_chart(inputs, "JPN", "rare_earths", day)
    series = risk.geopolrisk_series(inputs, "JPN", "rare_earths")
    assert chart.series[0].y == pytest.approx(series["score"].to_list(), rel=1e-12)
    assert [d.year for d in chart.series[0].x] == list(range(2018, 2025))
    assert f"{series['score'][-1]:.3f} in 2024" in chart.title
    assert date(2025, 4, 4) in {m.x for m in chart.markers}  # the April 2025 controls
