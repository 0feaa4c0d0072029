"""Units, FX, VAT and the price gap: known answers worked by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from chokehold.analysis.price_gap import price_gap
from chokehold.config import PROJECT_ROOT
from chokehold.errors import DataError, UnknownValueError
from chokehold.pipelines.fx import read_daily_fx
from chokehold.pipelines.fx import refresh as refresh_fx
from chokehold.pipelines.price_units import (
    load_vat,
    normalise_currency,
    parse_price_unit,
    usd_per_tonne,
    vat_on,
)
from chokehold.warehouse import load_frame, open_warehouse, read_query

SEED_DAY = date(2025, 5, 7)


@pytest.mark.parametrize("value, currency, unit, fx, expected", [
    (58000, "USD", "t", None, 58000),
    (235000, "CNY", "t", 7.2166, 235000 / 7.2166),
    (70.5, "USD", "kg", None, 70500),
    (10, "USD", "lb", None, 10 / 0.45359237 * 1000),   # 22,046.23 USD/t
    (300, "USD", "mtu", None, 30000),                  # APT: 1 mtu = 10 kg WO3
    (1000, "EUR", "t", 1 / 1.1, 1100),                 # ECB: 1.1 USD per EUR
    (520, "RMB", "kg", 7.0, 520000 / 7.0),
])
def test_usd_per_tonne(value, currency, unit, fx, expected) -> None:
    assert usd_per_tonne(value, currency, unit, fx) == pytest.approx(expected, rel=1e-12)


def test_unknown_currency_and_unit_list_the_valid_ones() -> None:
    with pytest.raises(UnknownValueError, match="unknown currency 'XAU'.*CNY"):
        normalise_currency("XAU")
    with pytest.raises(UnknownValueError, match="unknown unit 'oz'"):
        parse_price_unit("USD/oz")
    assert parse_price_unit("元/吨") == ("CNY", "t", 1.0)


def test_vat_is_data_with_its_dates() -> None:
    schedules = load_vat(PROJECT_ROOT / "data" / "vat_rates.yaml")
    assert [vat_on(schedules, "CHN", date.fromisoformat(d)) for d in (
        "2017-09-27", "2018-04-30", "2018-05-01", "2019-03-31", "2019-04-01", "2025-05-07")
    ] == [0.17, 0.17, 0.16, 0.16, 0.13, 0.13]


def test_seed_gap_of_2025_05_07(built_warehouse: Path) -> None:
    """docs/domain.md section 2: overseas USD 58,000/t, domestic RMB 235,000/t (VAT 13%), FX May 2025."""
    with open_warehouse(built_warehouse, read_only=True) as con:
        gap = price_gap(con, "antimony").filter(pl.col("date") == SEED_DAY)
        view = read_query(con, "SELECT * FROM price_gap WHERE date = ?", [SEED_DAY])
    assert gap.height == 1 and view.rows() == gap.rows()
    row = gap.row(0, named=True)
    fx = 7.2166  # mean of the H.10 daily CNY rates of May 2025 (bundled)
    ex_vat = 235000 / 1.13 / fx          # 28,817.53 USD/t
    assert row["fx_cny_per_usd"] == fx and row["vat_rate"] == 0.13
    assert row["overseas_usd_t"] == 58000
    assert row["domestic_usd_t_ex_vat"] == pytest.approx(ex_vat, rel=1e-12)
    assert row["domestic_usd_t_ex_vat"] == pytest.approx(28817.53, abs=0.01)
    assert row["domestic_usd_t_incl_vat"] == pytest.approx(235000 / fx, rel=1e-12)
    assert row["gap_usd_t"] == pytest.approx(58000 - ex_vat, rel=1e-12)
    assert row["ratio"] == pytest.approx(2.0127, abs=1e-4)
    assert row["gap_usd_t_incl_vat"] == pytest.approx(58000 - 235000 / fx, rel=1e-12)
    assert (row["overseas_market"], row["domestic_market"], row["alignment"]) == (
        "rotterdam", "china_domestic", "same day")
    assert "VAT 13.0% removed" in row["basis"] and "2025-05 (fed_h10)" in row["basis"]


def test_alignment_carries_forward_at_most_n_days(built_warehouse: Path) -> None:
    """Rotterdam 2017-09-29 meets the domestic quote of 2017-09-27 (2 days old) only if N >= 2."""
    day = date(2017, 9, 29)
    with open_warehouse(built_warehouse, read_only=True) as con:
        within = price_gap(con, "antimony", max_carry_days=2).filter(pl.col("date") == day)
        beyond = price_gap(con, "antimony", max_carry_days=1).filter(pl.col("date") == day)
        all_rows = price_gap(con, "antimony")
    carried = within.row(0, named=True)
    assert carried["domestic_date"] == date(2017, 9, 27) and carried["domestic_age_days"] == 2
    assert carried["vat_rate"] == 0.17  # the rate in force in 2017, from data/vat_rates.yaml
    assert carried["ratio"] == pytest.approx(8250 / (52500 / 1.17 / 6.569), rel=1e-12)
    gap = beyond.row(0, named=True)
    assert gap["gap_usd_t"] is None and gap["overseas_usd_t"] == 8250
    assert gap["alignment"] == "no domestic observation within 1 days"
    # Every date of either series is a row; the unmatched ones show their gap, not a fill.
    assert all_rows.height == 11  # 12 quotes, 2025-05-07 in both series
    assert all_rows.filter(pl.col("gap_usd_t").is_not_null()).height == 5


def test_daily_series_take_the_daily_rate(warehouse_copy: Path, tmp_path: Path) -> None:
    """A daily series uses the day's rate (carried over a weekend), a weekly one the month mean."""
    fred = tmp_path / "DEXCHUS.csv"
    fred.write_text("observation_date,DEXCHUS\n2025-05-01,7.27\n2025-05-02,7.25\n"
                    "2025-05-05,.\n2025-05-06,7.20\n")
    with open_warehouse(warehouse_copy) as con:
        refresh_fx(con, _settings(warehouse_copy), path=[fred])
        prices = pl.DataFrame({
            "series_id": ["t_daily", "t_daily", "t_weekly"], "commodity": ["antimony"] * 3,
            "market": ["china_domestic"] * 3,
            "date": [date(2025, 5, 4), date(2025, 5, 6), date(2025, 5, 6)],
            "value": [100.0, 100.0, 100.0], "currency": ["CNY"] * 3, "unit": ["kg"] * 3,
            "vat_included": [True] * 3, "source": ["test"] * 3, "vintage": ["t"] * 3})
        load_frame(con, "prices", prices, source_id="test")
        load_frame(con, "price_series", pl.DataFrame({
            "series_id": ["t_daily", "t_weekly"], "commodity": ["antimony"] * 2,
            "market": ["china_domestic"] * 2, "frequency": ["daily", "weekly"],
            "mapping_id": ["test"] * 2, "source": ["test"] * 2}), source_id="test")
        rows = read_query(con, "SELECT series_id, date, fx_per_usd, fx_used, usd_per_t "
                               "FROM prices_usd WHERE source = 'test' ORDER BY ALL").rows()
        derived = read_query(con, "SELECT per_usd, n_days FROM fx_monthly_all WHERE "
                                  "source = 'fed_h10_daily' AND month = '2025-05-01'").row(0)
    assert rows[0][:3] == ("t_daily", date(2025, 5, 4), 7.25)  # Friday's rate, 2 days old
    assert "daily rate of 2025-05-02" in rows[0][3]
    assert rows[1][2] == 7.20 and rows[1][4] == pytest.approx(100_000 / 7.20)
    assert rows[2][2] == 7.2166 and "published monthly mean" in rows[2][3]
    assert derived == (pytest.approx((7.27 + 7.25 + 7.20) / 3), 3)  # "." days are dropped


def _settings(warehouse: Path):
    from chokehold.config import load_settings
    return load_settings(warehouse=warehouse)


@pytest.mark.parametrize("name, body, words", [
    ("DEXCHUS.csv", "observation_date,DEXCHUS\n2025-05-01,abc\n", "not a positive number"),
    ("DEXCHUS.csv", "observation_date,DEXCHUS\n2025-13-01,7.2\n", "is not a date"),
    ("DEXCHUS.csv", "observation_date,DEXCHUS\n2025-05-01,7.2\n2025-05-01,7.3\n", "appears twice"),
    ("rates.csv", "date,value\n2025-05-01,7.2\n", "cannot tell the currency pair"),
])
def test_bad_fx_files(tmp_path: Path, name, body, words) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(DataError, match=words):
        read_daily_fx(path)


def test_generic_date_value_file_named_after_its_pair(tmp_path: Path) -> None:
    path = tmp_path / "EUR_USD.csv"
    path.write_text("date,value\n2025-05-02,1.13\n2025-05-05,\n")
    rows, source, missing = read_daily_fx(path)
    assert rows.select("date", "base", "quote", "rate").rows() == [
        (date(2025, 5, 2), "EUR", "USD", 1.13)]
    assert (source, missing) == ("fx_user_file", 1)


def test_real_fred_daily_file_averages_to_the_bundled_monthly_mean(
        shared_data: Path, warehouse_copy: Path) -> None:
    """Mean of the real H.10 daily CNY rates of May 2025 = the bundled 7.2166 (4 decimals)."""
    with open_warehouse(warehouse_copy) as con:
        refresh_fx(con, _settings(warehouse_copy), path=[shared_data / "fx" / "fred_DEXCHUS_daily.csv"])
        derived = read_query(con, "SELECT month, per_usd, n_days, source FROM fx_monthly_all "
                                  "WHERE currency = 'CNY' AND month IN ('2025-05-01', "
                                  "'2017-09-01') ORDER BY month, source").rows()
        chosen = read_query(con, "SELECT source FROM fx_monthly WHERE currency = 'CNY' "
                                 "AND month = '2025-05-01'").item()
    bundled = {m: r for m, r, _, s in derived if s == "fed_h10"}
    daily = {m: (r, n) for m, r, n, s in derived if s == "fed_h10_daily"}
    for month, rate in bundled.items():
        assert round(daily[month][0], 4) == rate
    assert daily[date(2025, 5, 1)][1] == 21  # = business_days of the bundled file
    assert chosen == "fed_h10"  # a published monthly mean is preferred to a derived one
