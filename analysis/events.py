"""Event study of the price gap around each control date (docs/domain.md section 1, question 3).

For every measure in the registry that covers the commodity, its dates (announced, effective,
and each later change of status, e.g. a suspension) are events. Around each event and for
each pair of series of the price gap, the observations with a gap in a window before the event
(``t - window <= date < t``) and after it (``t <= date < t + window``) are compared:

    change = mean(after) - mean(before)

for the gap (USD/t) and the ratio. The standard error is that of the ``post`` coefficient of
OLS ``y = a + b * post`` on the window's observations, with Newey-West (HAC) covariance, lags
``floor(4 (n/100)^(2/9))`` unless given. Windows count calendar ``days``, calendar ``months``,
or ``trading_days`` (the series' own observations, the last k before and the first k after).

Honesty about thin data: every row says how many observations each side has; with fewer than
two on a side there is no standard error (``note`` says so), and with none there is no change.
Spacing is not checked: for irregular quotes, HAC lags are in observations, not in days.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

import numpy as np
import polars as pl
import statsmodels.api as sm

from chokehold.registry import Measure

WindowUnit = Literal["days", "months", "trading_days"]
METRICS = {"gap": "gap_usd_t", "ratio": "ratio"}


def event_dates(measures: list[Measure]) -> pl.DataFrame:
    """One row per measure and date: announced, effective, and later status changes."""
    rows = []
    for m in measures:
        seen = {m.announced}
        rows.append({"control_id": m.id, "event": "announced", "event_date": m.announced})
        if m.effective is not None and m.effective not in seen:
            seen.add(m.effective)
            rows.append({"control_id": m.id, "event": "effective", "event_date": m.effective})
        for period in sorted(m.status, key=lambda p: p.start):
            if period.start not in seen:
                seen.add(period.start)
                rows.append({"control_id": m.id, "event": period.status,
                             "event_date": period.start})
    return pl.DataFrame(rows, schema={"control_id": pl.String, "event": pl.String,
                                      "event_date": pl.Date})


def newey_west_lags(n: int) -> int:
    """The Newey-West (1994) rule of thumb: floor(4 (n/100)^(2/9))."""
    return math.floor(4 * (n / 100) ** (2 / 9))


def hac_change(before: np.ndarray, after: np.ndarray, maxlags: int | None = None
               ) -> tuple[float | None, float | None, int | None]:
    """(change in means, its HAC standard error, lags used); None where the data are too thin."""
    if not len(before) or not len(after):
        return None, None, None
    change = float(after.mean() - before.mean())
    if len(before) < 2 or len(after) < 2:
        return change, None, None
    y = np.concatenate([before, after])
    post = np.concatenate([np.zeros(len(before)), np.ones(len(after))])
    lags = newey_west_lags(len(y)) if maxlags is None else maxlags
    fit = sm.OLS(y, sm.add_constant(post)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return change, float(fit.bse[1]), lags


def _window(series: pl.DataFrame, day: date, window: int, unit: WindowUnit
            ) -> tuple[pl.DataFrame, pl.DataFrame]:
    before = series.filter(pl.col("date") < day)
    after = series.filter(pl.col("date") >= day)
    if unit == "trading_days":
        return before.tail(window), after.head(window)
    offset = f"{window}d" if unit == "days" else f"{window}mo"
    start = pl.select(pl.lit(day).dt.offset_by(f"-{offset}")).item()
    end = pl.select(pl.lit(day).dt.offset_by(offset)).item()
    return before.filter(pl.col("date") >= start), after.filter(pl.col("date") < end)


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def event_study(gap: pl.DataFrame, events: pl.DataFrame, *, window: int = 3,
                unit: WindowUnit = "months", maxlags: int | None = None) -> pl.DataFrame:
    """One row per event and pair of series: n, means before and after, change, HAC s.e.

    ``gap`` has the columns of the price_gap view (rows without a gap are ignored: they are
    gaps in the data, not observations); ``events`` those of ``event_dates``.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    observed = gap.filter(pl.col("gap_usd_t").is_not_null()).sort("date")
    rows = []
    pairs = observed.select("commodity", "overseas_series", "domestic_series").unique().sort(
        "overseas_series", "domestic_series")
    for pair in pairs.iter_rows(named=True):
        series = observed.filter(pl.col("overseas_series") == pair["overseas_series"],
                                 pl.col("domestic_series") == pair["domestic_series"])
        for event in events.sort("event_date", "control_id").iter_rows(named=True):
            before, after = _window(series, event["event_date"], window, unit)
            row = {**pair, **event, "window": f"{window} {unit}",
                   "n_before": before.height, "n_after": after.height}
            for name, column in METRICS.items():
                b, a = before[column].to_numpy(), after[column].to_numpy()
                change, se, lags = hac_change(b, a, maxlags)
                row |= {f"{name}_before": _mean(b), f"{name}_after": _mean(a),
                        f"{name}_change": change, f"{name}_change_se_hac": se}
            row["hac_lags"] = lags
            row["note"] = _note(before.height, after.height)
            rows.append(row)
    return pl.DataFrame(rows, schema=_SCHEMA)


def _note(n_before: int, n_after: int) -> str:
    if not n_before or not n_after:
        return "no observation on one side: no change"
    if n_before < 2 or n_after < 2:
        return "fewer than 2 observations on a side: no standard error"
    if n_before + n_after < 20:
        return "thin window (< 20 observations): read the s.e. with care"
    return ""


_SCHEMA = {
    "commodity": pl.String, "overseas_series": pl.String, "domestic_series": pl.String,
    "control_id": pl.String, "event": pl.String, "event_date": pl.Date, "window": pl.String,
    "n_before": pl.Int64, "n_after": pl.Int64,
    **{f"{name}_{stat}": pl.Float64 for name in METRICS
       for stat in ("before", "after", "change", "change_se_hac")},
    "hac_lags": pl.Int64, "note": pl.String,
}
