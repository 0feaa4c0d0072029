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

# The rows are a read-layer query; the default carry limit is the views'.
from chokehold.analysis.read import price_gap  # noqa: F401
from chokehold.warehouse.views import DEFAULT_MAX_CARRY_DAYS  # noqa: F401
