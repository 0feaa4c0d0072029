"""The domestic-vs-overseas price gap (BRIEF section 5), as warehouse views and a function.

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

from chokehold.errors import ChokeholdError
from chokehold.pipelines.price_units import CONVERTED_BASIS, UNITS_PER_TONNE
from chokehold.warehouse import read_query

DEFAULT_MAX_CARRY_DAYS = 7
"""Default LOCF limit of the ``price_gap`` view: a weekly assessment stays valid for a week."""

FX_MAX_CARRY_DAYS = 4
"""A daily series' FX rate may be up to this many days old (US holidays and weekends)."""

ORDER = "commodity, overseas_series, domestic_series, date"
DOMESTIC_MARKET = "china_domestic"
DOMESTIC_COUNTRY = "CHN"


def units_view() -> str:
    values = ", ".join(f"('{u}', {f!r}, '{CONVERTED_BASIS[u]}')"
                       for u, f in UNITS_PER_TONNE.items())
    return ("CREATE OR REPLACE VIEW price_units AS SELECT * FROM (VALUES "
            f"{values}) AS t(unit, units_per_tonne, converted_basis)")


FX_VIEWS = (
    """CREATE OR REPLACE VIEW fx_daily AS
    SELECT r.date, CASE WHEN r.base = 'USD' THEN r.quote ELSE r.base END AS currency,
           CASE WHEN r.base = 'USD' THEN r.rate ELSE 1 / r.rate END AS per_usd, r.source
    FROM fx_rates r JOIN fx_series s USING (source, base, quote)
    WHERE s.freq = 'D' AND 'USD' IN (r.base, r.quote)""",
    """CREATE OR REPLACE VIEW fx_monthly_all AS
    SELECT r.date AS month, CASE WHEN r.base = 'USD' THEN r.quote ELSE r.base END AS currency,
           CASE WHEN r.base = 'USD' THEN r.rate ELSE 1 / r.rate END AS per_usd, r.source,
           s.method, NULL::BIGINT AS n_days, 1 AS priority
    FROM fx_rates r JOIN fx_series s USING (source, base, quote)
    WHERE s.freq = 'M' AND 'USD' IN (r.base, r.quote)
    UNION ALL
    SELECT date_trunc('month', date)::DATE, currency, avg(per_usd), source,
           'mean of ' || count(*) || ' daily rates', count(*), 2
    FROM fx_daily GROUP BY ALL""",
    """CREATE OR REPLACE VIEW fx_monthly AS
    SELECT * EXCLUDE (priority) FROM fx_monthly_all
    QUALIFY row_number() OVER (PARTITION BY month, currency ORDER BY priority, source) = 1""",
)

PRICES_USD_VIEW = f"""CREATE OR REPLACE VIEW prices_usd AS
WITH p AS (
    SELECT p.*, s.frequency, o.low, o.high, o.original_value, o.grade, o.basis
    FROM prices p
    LEFT JOIN price_series s USING (series_id)
    LEFT JOIN price_observations o USING (series_id, date)),
daily AS (
    SELECT p.series_id, p.date, d.date AS fx_date, d.per_usd, d.source
    FROM p ASOF JOIN fx_daily d ON d.currency = p.currency AND p.date >= d.date
    WHERE p.date - d.date <= {FX_MAX_CARRY_DAYS}),
chosen AS (
    SELECT p.*, u.units_per_tonne, u.converted_basis,
        CASE WHEN p.currency = 'USD' THEN 1.0
             WHEN p.frequency = 'daily' AND d.per_usd IS NOT NULL THEN d.per_usd
             ELSE m.per_usd END AS fx_per_usd,
        CASE WHEN p.currency = 'USD' THEN 'none (USD price)'
             WHEN p.frequency = 'daily' AND d.per_usd IS NOT NULL
                THEN 'daily rate of ' || d.fx_date || ' (' || d.source || ')'
             WHEN m.per_usd IS NOT NULL
                THEN m.method || ', ' || strftime(m.month, '%Y-%m') || ' (' || m.source || ')'
        END AS fx_used
    FROM p
    LEFT JOIN price_units u ON u.unit = p.unit
    LEFT JOIN daily d ON d.series_id = p.series_id AND d.date = p.date
    LEFT JOIN fx_monthly m ON m.currency = p.currency
        AND m.month = date_trunc('month', p.date)::DATE)
SELECT series_id, commodity, market, date, frequency, value, low, high, original_value,
       currency, unit, vat_included, grade, basis, source, vintage, fx_per_usd, fx_used,
       units_per_tonne, converted_basis,
       value * units_per_tonne / fx_per_usd AS usd_per_t,
       low * units_per_tonne / fx_per_usd AS low_usd_per_t,
       high * units_per_tonne / fx_per_usd AS high_usd_per_t
FROM chosen"""


def gap_sql(max_carry_days: int = DEFAULT_MAX_CARRY_DAYS) -> str:
    """The price-gap query for a LOCF limit (the ``price_gap`` view uses the default)."""
    if not isinstance(max_carry_days, int) or max_carry_days < 0:
        raise ChokeholdError(f"max_carry_days must be a whole number >= 0, not {max_carry_days!r}")
    n = max_carry_days
    return f"""
WITH dom AS (SELECT * FROM prices_usd WHERE market = '{DOMESTIC_MARKET}'),
ovs AS (SELECT * FROM prices_usd WHERE market <> '{DOMESTIC_MARKET}'),
pairs AS (
    SELECT d.commodity, d.series_id AS dom_id, o.series_id AS ovs_id
    FROM (SELECT DISTINCT commodity, series_id FROM dom) d
    JOIN (SELECT DISTINCT commodity, series_id FROM ovs) o USING (commodity)),
days AS (
    SELECT DISTINCT p.*, x.date FROM pairs p
    JOIN prices_usd x ON x.series_id IN (p.dom_id, p.ovs_id)),
aligned AS (
    SELECT days.commodity, days.date, days.dom_id, days.ovs_id,
           d.date AS domestic_date, o.date AS overseas_date
    FROM days
    ASOF LEFT JOIN dom d ON d.series_id = days.dom_id AND days.date >= d.date
    ASOF LEFT JOIN ovs o ON o.series_id = days.ovs_id AND days.date >= o.date),
joined AS (
    SELECT a.commodity, a.date, a.dom_id, a.ovs_id,
        CASE WHEN a.date - a.domestic_date <= {n} THEN a.domestic_date END AS domestic_date,
        CASE WHEN a.date - a.overseas_date <= {n} THEN a.overseas_date END AS overseas_date
    FROM aligned a),
priced AS (
    SELECT j.commodity, j.date,
        dm.market AS domestic_market, j.dom_id AS domestic_series,
        om.market AS overseas_market, j.ovs_id AS overseas_series,
        j.domestic_date, j.overseas_date,
        j.date - j.domestic_date AS domestic_age_days, j.date - j.overseas_date AS overseas_age_days,
        o.usd_per_t AS overseas_usd_t, o.value AS overseas_value, o.currency AS overseas_currency,
        o.unit AS overseas_unit, o.basis AS overseas_basis, o.fx_used AS overseas_fx_used,
        d.value AS domestic_value, d.currency AS domestic_currency, d.unit AS domestic_unit,
        d.vat_included AS domestic_vat_included, d.basis AS domestic_basis,
        d.fx_per_usd AS fx_domestic_per_usd, d.fx_used AS domestic_fx_used,
        v.rate AS vat_rate,
        CASE WHEN d.vat_included THEN d.usd_per_t / (1 + v.rate) ELSE d.usd_per_t END
            AS domestic_usd_t_ex_vat,
        CASE WHEN d.vat_included THEN d.usd_per_t ELSE d.usd_per_t * (1 + v.rate) END
            AS domestic_usd_t_incl_vat
    FROM joined j
    JOIN (SELECT DISTINCT series_id, market FROM dom) dm ON dm.series_id = j.dom_id
    JOIN (SELECT DISTINCT series_id, market FROM ovs) om ON om.series_id = j.ovs_id
    LEFT JOIN dom d ON d.series_id = j.dom_id AND d.date = j.domestic_date
    LEFT JOIN ovs o ON o.series_id = j.ovs_id AND o.date = j.overseas_date
    LEFT JOIN vat_rates v ON v.country_iso3 = '{DOMESTIC_COUNTRY}'
        AND j.domestic_date BETWEEN v.start_date AND coalesce(v.end_date, DATE '9999-12-31'))
SELECT commodity, date, overseas_market, domestic_market, overseas_series, domestic_series,
    overseas_date, domestic_date, overseas_age_days, domestic_age_days,
    overseas_value, overseas_currency, overseas_unit, overseas_usd_t,
    domestic_value, domestic_currency, domestic_unit, domestic_vat_included, vat_rate,
    CASE WHEN domestic_currency = 'CNY' THEN fx_domestic_per_usd END AS fx_cny_per_usd,
    domestic_fx_used AS fx_used,
    domestic_usd_t_ex_vat, domestic_usd_t_incl_vat,
    overseas_usd_t - domestic_usd_t_ex_vat AS gap_usd_t,
    overseas_usd_t / domestic_usd_t_ex_vat AS ratio,
    overseas_usd_t - domestic_usd_t_incl_vat AS gap_usd_t_incl_vat,
    overseas_usd_t / domestic_usd_t_incl_vat AS ratio_incl_vat,
    CASE
        WHEN domestic_date IS NULL AND overseas_date IS NULL THEN 'no observation within {n} days'
        WHEN domestic_date IS NULL THEN 'no domestic observation within {n} days'
        WHEN overseas_date IS NULL THEN 'no overseas observation within {n} days'
        WHEN domestic_usd_t_ex_vat IS NULL OR overseas_usd_t IS NULL
            THEN 'no exchange rate or VAT rate for the date'
        WHEN domestic_age_days = 0 AND overseas_age_days = 0 THEN 'same day'
        ELSE 'carried forward (max {n} days)' END AS alignment,
    'overseas: ' || coalesce(overseas_basis, overseas_market) || ', no Chinese VAT; domestic: '
        || coalesce(domestic_basis, domestic_market)
        || CASE WHEN domestic_vat_included THEN ', quoted incl. VAT' ELSE ', quoted ex-VAT' END
        || coalesce(', VAT ' || round(vat_rate * 100, 1) || '% removed', '')
        || coalesce('; FX ' || domestic_fx_used, '') AS basis
FROM priced"""


def price_gap_view() -> str:
    return f"CREATE OR REPLACE VIEW price_gap AS {gap_sql()} ORDER BY {ORDER}"


def view_statements() -> list[str]:
    """Every view of the price area, in dependency order (the migration runs them)."""
    return [units_view(), *FX_VIEWS, PRICES_USD_VIEW, price_gap_view()]


def price_gap(con: duckdb.DuckDBPyConnection, commodity: str | None = None,
              max_carry_days: int = DEFAULT_MAX_CARRY_DAYS) -> pl.DataFrame:
    """The price-gap rows (see the module docstring) for one commodity or all of them."""
    sql = f"SELECT * FROM ({gap_sql(max_carry_days)}) g"
    if commodity is None:
        return read_query(con, f"{sql} ORDER BY {ORDER}")
    return read_query(con, f"{sql} WHERE commodity = ? ORDER BY {ORDER}", [commodity])
