"""Price commands: the series loaded, the domestic-vs-overseas gap, and the event study."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from chokehold.analysis import read
from chokehold.analysis.defaults import EVENT_WINDOW
from chokehold.analysis.price_gap import DEFAULT_MAX_CARRY_DAYS
from chokehold.cli._output import note_empty
from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, open_read, settings_of
from chokehold.commodities import load_commodities
from chokehold.config import Settings
from chokehold.errors import UnknownValueError
from chokehold.registry import load_registry, select_measures

prices_app = typer.Typer(help="Price series, the domestic-vs-overseas price gap, event studies.",
                         no_args_is_help=True)

COMMODITY_OPTION = typer.Option("--commodity", "-c", help="Commodity id, e.g. antimony.")
CARRY_OPTION = typer.Option(
    "--max-carry-days", min=0,
    help="Carry a series' last observation forward at most this many days to meet the other "
         "series' date; beyond that the gap is shown empty, never interpolated.")
GAP_TABLE_COLUMNS = ["date", "overseas_market", "domestic_market", "overseas_usd_t",
                     "domestic_usd_t_ex_vat", "domestic_usd_t_incl_vat", "fx_cny_per_usd",
                     "vat_rate", "gap_usd_t", "ratio", "alignment"]
EVENT_TABLE_COLUMNS = ["control_id", "event", "event_date", "overseas_series", "n_before",
                       "n_after", "gap_before", "gap_after", "gap_change", "gap_change_se_hac",
                       "ratio_change", "ratio_change_se_hac", "note"]


def _check_commodity(settings: Settings, commodity: str) -> None:
    known = load_commodities(settings.commodities_file)
    if commodity not in known:
        raise UnknownValueError("commodity", commodity, known)


@prices_app.command("list")
def list_series(ctx: typer.Context,
                fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Every price series: market, currency and unit, observations, first and last date."""
    with open_read(ctx) as con:
        rows = read.price_series_list(con)
    emit(rows, fmt, title="Price series")


@prices_app.command("gap")
def gap(ctx: typer.Context,
        commodity: Annotated[str, COMMODITY_OPTION] = "antimony",
        max_carry_days: Annotated[int, CARRY_OPTION] = DEFAULT_MAX_CARRY_DAYS,
        complete_only: Annotated[bool, typer.Option(
            "--complete-only", help="Only dates where both prices are there.")] = False,
        fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Overseas vs China-domestic price in USD/t (ex- and incl. VAT), gap and ratio, by date.

    Domestic USD/t ex-VAT = price / (1 + VAT on the date) / FX (CNY per USD); the basis and
    the FX used are on every row (json/csv give all columns).
    """
    from chokehold.analysis.price_gap import price_gap

    settings = settings_of(ctx)
    _check_commodity(settings, commodity)
    with open_read(ctx) as con:
        rows = price_gap(con, commodity, max_carry_days)
        if rows.height == 0:
            series = read.market_counts(con, commodity)
            have = ", ".join(f"{m} ({n} observations)" for m, n in series.iter_rows()) or "none"
            note_empty(f"no {commodity} price gap: it needs an overseas and a China-domestic "
                       f"series; the warehouse has {have} (load price files with "
                       "`chokehold refresh --source prices`; see `chokehold prices list`)")
    if complete_only:
        rows = rows.filter(pl.col("gap_usd_t").is_not_null())
    if fmt is OutputFormat.table:
        rows = rows.select(GAP_TABLE_COLUMNS)
    emit(rows, fmt, title=f"{commodity}: overseas vs China domestic (USD/t; gap and ratio "
                          f"ex-VAT; last observation carried at most {max_carry_days} days)")


@prices_app.command("events")
def events(ctx: typer.Context,
           commodity: Annotated[str, COMMODITY_OPTION] = "antimony",
           window: Annotated[int, typer.Option(min=1, help="Window length on each side.")
                             ] = EVENT_WINDOW[0],
           unit: Annotated[str, typer.Option(
               help="months, days (calendar) or trading_days (the series' observations).")
           ] = EVENT_WINDOW[1],
           maxlags: Annotated[int | None, typer.Option(
               min=0, help="HAC lags (default: Newey-West rule floor(4 (n/100)^(2/9))).")
           ] = None,
           max_carry_days: Annotated[int, CARRY_OPTION] = DEFAULT_MAX_CARRY_DAYS,
           fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Gap and ratio before and after every control date that covers the commodity.

    Each row gives the observations on each side (n_before, n_after): with isolated quotes many
    windows are empty or thin, and the table says so rather than hiding them.
    """
    from chokehold.analysis.events import event_dates, event_study
    from chokehold.analysis.price_gap import price_gap

    if unit not in ("months", "days", "trading_days"):
        raise UnknownValueError("window unit", unit, ["months", "days", "trading_days"])
    settings = settings_of(ctx)
    _check_commodity(settings, commodity)
    commodities = load_commodities(settings.commodities_file)
    measures = select_measures(load_registry(settings.controls_dir, commodities),
                               commodity=commodity)
    with open_read(ctx) as con:
        gap_rows = price_gap(con, commodity, max_carry_days)
    table = event_study(gap_rows, event_dates(measures), window=window, unit=unit,
                        maxlags=maxlags)
    if fmt is OutputFormat.table:
        table = table.select(EVENT_TABLE_COLUMNS)
    emit(table, fmt, title=f"{commodity}: price gap (USD/t, ex-VAT) {window} {unit} before "
                           "and after each control date; s.e. Newey-West HAC")


def register(app: typer.Typer) -> None:
    app.add_typer(prices_app, name="prices")
