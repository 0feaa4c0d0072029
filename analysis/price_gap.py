"""The domestic-vs-overseas price gap (docs/domain.md section 5), as warehouse views and a function.

Arithmetic, per commodity, date and pair of a China-domestic and an overseas series:

    domestic USD/t ex-VAT   = P_dom / (1 + VAT on the date) / FX(CNY per USD)   (VAT-incl. quotes)
    domestic USD/t incl-VAT = P_dom / FX                                          (idem)
    gap   = overseas USD/t - domestic USD/t ex-VAT
    ratio = overseas USD/t / domestic USD/t ex-VAT      (``*_incl_vat`` variants use incl-VAT)

Prices are first brought to USD per tonne (view ``prices_usd``): the unit factor from
``price_units`` and the exchange rate chosen by the series' frequency: a daily series takes
the daily rate of its date (or the latest within FX_MAX_CARRY_DAYS, for holidays); weekly,
monthly and irregular series take the monthly mean of their month (``fx_monthly``: a published
monthly mean where loaded, else the mean of the loaded daily rates, the method stated).

Alignment: the two series of a pair rarely share a calendar (Chinese holidays, European
business days, weekly assessments). Each row is a date on which either series has an
observation; each side takes its latest observation on or before that date if it is at most
``max_carry_days`` old (last observation carried forward, LOCF). Otherwise that side is empty
and so are the gap and ratio: gaps in the series stay visible, nothing is interpolated.
"""

from __future__ import annotations

import duckdb
import polars as pl

from chokehold.warehouse import read_query
from chokehold.warehouse.views import DEFAULT_MAX_CARRY_DAYS, ORDER, gap_sql


def price_gap(con: duckdb.DuckDBPyConnection, commodity: str | None = None,
              max_carry_days: int = DEFAULT_MAX_CARRY_DAYS) -> pl.DataFrame:
    """The price-gap rows (see the module docstring) for one commodity or all of them."""
    sql = f"SELECT * FROM ({gap_sql(max_carry_days)}) g"
    if commodity is None:
        return read_query(con, f"{sql} ORDER BY {ORDER}")
    return read_query(con, f"{sql} WHERE commodity = ? ORDER BY {ORDER}", [commodity])
