"""What the documents in reports/ read: small query functions over the warehouse and registry.

Documents only query and present: every number they show comes from here (the warehouse or
the analysis API), so .qmd cells stay short and nothing is computed or typed in a document.
One read-only connection serves a whole kernel, so a batch of documents opens the warehouse
once; what does not change while it is open (names, vintages, source lines, the trade rows a
document reads several times, the scenario definitions) is looked up once per connection.
Dependence, reliance, the price gap, the event study and the scenarios are the analysis API's
answers (``chokehold.analysis``); what changed between refreshes is the vintage diff
(``chokehold.vintages``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache, partial
from typing import TYPE_CHECKING, TypeVar

import duckdb
import polars as pl

from chokehold.analysis import defaults, read
from chokehold.analysis import dependence as dep
from chokehold.analysis import summaries as summarise
from chokehold.analysis.price_gap import DEFAULT_MAX_CARRY_DAYS
from chokehold.commodities import Commodity, load_commodities
from chokehold.config import Settings, load_settings
from chokehold.errors import ChokeholdError
from chokehold.provenance import code_revision
from chokehold.registry import Measure, load_registry, require_measure, select_measures
from chokehold.warehouse import open_warehouse

if TYPE_CHECKING:
    from chokehold.analysis.scenarios.model import Result
    from chokehold.vintages import VintageDiff

SUPPLIER = defaults.SUPPLIER
"""The supplier whose controls the toolkit studies (every registry measure's issuer so far)."""

_settings: Settings | None = None
_caches: list = []
F = TypeVar("F", bound=Callable)


def _per_connection(function: F, size: int | None = None) -> F:
    """Cache while the warehouse connection is open (read-only: its answers do not change);
    :func:`configure` forgets. ``size`` bounds caches of frames."""
    cached = lru_cache(maxsize=size)(function)
    _caches.append(cached)
    return cached


def configure(chosen: Settings) -> None:
    """Use these settings (the CLI's) instead of the environment's; forget cached state."""
    global _settings
    _settings = chosen
    if connection.cache_info().currsize:
        connection().close()
    for cached in _caches:
        cached.cache_clear()


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@_per_connection
def connection() -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, opened once per process (kernel)."""
    return open_warehouse(settings().warehouse, read_only=True)


@_per_connection
def commodities() -> dict[str, Commodity]:
    return load_commodities(settings().commodities_file)


@_per_connection
def registry() -> dict[str, Measure]:
    return load_registry(settings().controls_dir, commodities())


def measure(control_id: str) -> Measure:
    return require_measure(registry(), control_id)


def vintage_changes() -> tuple[VintageDiff | None, str]:
    """The diff between the two newest published vintages, or why there is none."""
    from chokehold.vintages import available, diff_vintages

    published = available(settings())
    if len(published) < 2:
        return None, (f"{len(published)} vintage(s) published in the warehouse's vintages "
                      "folder; a diff needs two refreshes that changed data")
    return diff_vintages("previous", "latest", settings()), ""


@_per_connection
def country_name(iso3: str) -> str:
    return read.country_name(connection(), iso3)


def commodity_label(commodity_id: str) -> str:
    """A short label for prose and titles: 'rare earths', 'permanent magnets'."""
    return commodity_id.replace("_", " ")


TRADE_SOURCE = defaults.TRADE_SOURCE
"""Shares, HHI and reliance are of CEPII BACI (annual, reconciled mirror flows)."""


@_per_connection
def _commodity_lines() -> pl.DataFrame:
    return read.commodity_lines(connection())


@partial(_per_connection, size=32)
def commodity_trade(commodity: str, until: date, *, reporter: str | None = None,
                    partner: str | None = None) -> pl.DataFrame:
    """Annual BACI import rows of the commodity group's lines (``read.commodity_flows``)
    reported by ``reporter`` or, for its exports as others report them, from ``partner``;
    each year in one HS revision (the hs_revision setting where it covers the year, else the
    newest). A document reads the same rows for shares, partners and reliance: cached."""
    return read.commodity_flows(connection(), commodity, source=TRADE_SOURCE, reporter=reporter,
                                partner=partner, freq="A", until=until,
                                prefer=settings().hs_revision, lines=_commodity_lines())


def trade_revisions(importer: str, commodity: str, until: date) -> str:
    """Which HS revision the importer's BACI rows are read in, by years: 'HS17 2024; HS92
    1995-2023' (each year in one revision, never a sum across revisions)."""
    years = (commodity_trade(commodity, until, reporter=importer)
             .group_by("hs_revision").agg(pl.col("period").dt.year().min().alias("first"),
                                          pl.col("period").dt.year().max().alias("last"))
             .sort("last", "hs_revision", descending=True))
    spans = [f"{r['hs_revision']} {r['first']}" if r["first"] == r["last"] else
             f"{r['hs_revision']} {r['first']}-{r['last']}" for r in years.iter_rows(named=True)]
    return "; ".join(spans) or "none"


def trade_revision(importer: str, commodity: str, year: int, until: date) -> str:
    """The HS revision of the importer's BACI rows of one year."""
    found = (commodity_trade(commodity, until, reporter=importer)
             .filter(pl.col("period").dt.year() == year)["hs_revision"].unique().to_list())
    return ", ".join(sorted(found)) or "none"


def import_shares(importer: str, commodity: str, until: date) -> pl.DataFrame:
    """Each partner's share of the importer's imports per year (value basis), with the HHI."""
    return dep.import_shares(commodity_trade(commodity, until, reporter=importer), "value",
                             "annual")


def dependence(importer: str, commodity: str, until: date,
               supplier: str = SUPPLIER) -> pl.DataFrame:
    """Per year: the supplier's share and value, totals, HHI, partners and the top supplier
    (``summaries.concentration_summary``)."""
    return summarise.concentration_summary(import_shares(importer, commodity, until), supplier)


def tonnage_dependence(importer: str, commodity: str, until: date,
                       supplier: str = SUPPLIER) -> pl.DataFrame:
    """Per year, the supplier's share of the importer's imports by quantity (tonnes only;
    null where no tonnes are reported): year, supplier_share_qty, supplier_t, total_t."""
    shares = dep.import_shares(commodity_trade(commodity, until, reporter=importer), "qty",
                               "annual")
    return (shares.group_by(pl.col("period").dt.year().cast(pl.Int32).alias("year"))
            .agg(pl.col("share").filter(pl.col("partner_iso3") == supplier).sum()
                 .alias("supplier_share_qty"),
                 pl.col("qty").filter(pl.col("partner_iso3") == supplier).sum()
                 .alias("supplier_t"),
                 pl.col("qty").sum().alias("total_t"))
            .with_columns(pl.when(pl.col("total_t") > 0).then(pl.col("supplier_share_qty"))
                          .alias("supplier_share_qty"))
            .sort("year"))


def dependence_both_bases(importer: str, commodity: str, until: date,
                          supplier: str = SUPPLIER) -> pl.DataFrame:
    """:func:`dependence` (value basis) with the supplier's share by tonnage beside it: the
    two answer different questions (what is paid for vs what is shipped) and can differ a
    lot (Japan's rare earths from China, 2024: 37.8% by value, 66.1% by tonnage)."""
    return dependence(importer, commodity, until, supplier).join(
        tonnage_dependence(importer, commodity, until, supplier), on="year", how="left")


@_per_connection
def partner_names() -> pl.DataFrame:
    return read.country_names(connection())


def partner_table(importer: str, commodity: str, year: int, top: int = 8) -> pl.DataFrame:
    """The importer's largest suppliers in ``year``: partner, value (USD), share."""
    shares = import_shares(importer, commodity, date(year, 12, 31)).filter(
        pl.col("period").dt.year() == year).head(top)
    return (shares.join(partner_names(), on="partner_iso3", how="left")
            .select(pl.coalesce("name", "partner_iso3").alias("partner"), "partner_iso3",
                    "value_usd", "share"))


def partner_shares_over_time(importer: str, commodity: str, until: date,
                             top: int = defaults.TOP_PARTNERS) -> pl.DataFrame:
    """Per year, the shares of the ``top`` largest suppliers of the latest year and of all
    other partners together ('other'): year, partner, share (value basis)."""
    return summarise.partner_shares_over_time(import_shares(importer, commodity, until),
                                              dict(partner_names().iter_rows()), top)


@_per_connection
def production_source(commodity: str) -> read.ProductionChoice:
    """The commodity's preferred production source (data/commodities.yaml), for source lines."""
    return read.production_choice(connection(), commodity)


@_per_connection
def _production(commodity: str, until_year: int) -> pl.DataFrame:
    return read.production(connection(), commodity, until_year=until_year)


def reliance(importer: str, commodity: str, until: date) -> pl.DataFrame:
    """Net import reliance per year (``summaries.reliance_balance``): the commodity's preferred
    production source (0 where it records none for the importer) + imports - exports (BACI
    tonnes of product). Empty when that source has no production of the commodity."""
    return summarise.reliance_balance(
        _production(commodity, until.year), commodity_trade(commodity, until, reporter=importer),
        commodity_trade(commodity, until, partner=importer), importer)


def usgs_reliance(commodity: str) -> pl.DataFrame:
    """US net import reliance as USGS publishes it (usgs_salient), where loaded."""
    return read.usgs_salient(connection(), commodity)


MATERIALITY_USD = 10_000_000.0
"""Default materiality of the standard pack (reports/matrix.yaml ``min_import_usd``)."""


def imports_from(commodity: str, year: int, supplier: str = SUPPLIER) -> pl.DataFrame:
    """Each importer's imports of the commodity from ``supplier`` in ``year`` (USD), largest
    first."""
    return read.imports_from(connection(), commodity, year, supplier=supplier,
                             source=TRADE_SOURCE)


def main_importers(commodity: str, year: int, n: int, supplier: str = SUPPLIER,
                   among: list[str] | None = None, minimum_usd: float = 0.0) -> list[str]:
    """The ``n`` largest importers of the commodity from ``supplier`` in ``year`` (value), with
    imports of at least ``minimum_usd``."""
    return read.main_importers(connection(), commodity, year, n, supplier=supplier, among=among,
                               source=TRADE_SOURCE, minimum_usd=minimum_usd)


def first_trade_period() -> date:
    return read.first_trade_period(connection())


def latest_trade_year(until: date | None = None) -> int:
    return read.latest_trade_year(connection(), until)


def production_share(commodity: str, country: str, until: date) -> pl.DataFrame:
    """Per year: the country's production of the commodity (its preferred source) and its
    share of the world's."""
    return summarise.production_shares(_production(commodity, until.year), country)


def price_series(commodity: str, markets: list[str] | str | None = None,
                 start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Price observations as published (own currency and unit), oldest first."""
    markets = _market_list(markets)
    frame = read.price_series(connection(), commodity, start, end)
    return frame.filter(pl.col("market").is_in(markets)) if markets else frame


def fx_series(base: str, quote: str, start: date, end: date) -> pl.DataFrame:
    return read.fx_series(connection(), base, quote, start, end)


def markets(commodity: str | None = None) -> list[str]:
    """The price markets of a commodity (of any when None)."""
    return read.markets(connection(), commodity)


def importers() -> set[str]:
    """Every reporter of imports in the warehouse (for checking a document's importer)."""
    return read.importers(connection())


def control_events(commodity: str, until: date | None = None) -> list[tuple[date, str]]:
    """Dates to mark on charts: each covering measure's start of force, suspension or lifting."""
    events = []
    for m in registry().values():
        if commodity not in m.commodities:
            continue
        for period in m.status:
            if until is None or period.start <= until:
                label = m.document_number or m.id
                events.append((period.start, f"{label}: {period.status.replace('_', ' ')}"))
    return sorted(events)


def _market_list(markets: list[str] | str | None) -> list[str] | None:
    """``markets`` as a list; one comma-separated string, as Quarto's ``-P markets:a,b``."""
    if isinstance(markets, str):
        return [m.strip() for m in markets.split(",") if m.strip()]
    return markets


def price_gap(commodity: str, start: date | None = None, end: date | None = None,
              markets: list[str] | str | None = None) -> pl.DataFrame:
    """``analysis.price_gap`` rows of the commodity between two dates (pairs of ``markets``
    when given): overseas vs domestic USD/t ex-VAT, gap and ratio per date (an empty side
    stays empty, nothing is interpolated)."""
    rows = read.price_gap(connection(), commodity).filter(
        pl.col("date").is_between(start or date.min, end or date.max))
    chosen = _market_list(markets)
    if chosen:
        rows = rows.filter(pl.col("overseas_market").is_in(chosen),
                           pl.col("domestic_market").is_in(chosen))
    return rows


def complete_gap(commodity: str, start: date | None = None, end: date | None = None,
                 markets: list[str] | str | None = None) -> pl.DataFrame:
    """The dates on which both sides of a pair are there (a gap and a ratio), oldest first."""
    return price_gap(commodity, start, end, markets).filter(
        pl.col("gap_usd_t").is_not_null()).sort("date")


MAX_CARRY_DAYS = DEFAULT_MAX_CARRY_DAYS
"""The price gap carries a side's last quote at most this many days (the CLI's default)."""

EVENT_WINDOW = defaults.EVENT_WINDOW
"""Event-study window on each side of a control date (the CLI's default)."""


def event_table(commodity: str, start: date | None = None, end: date | None = None,
                markets: list[str] | str | None = None) -> pl.DataFrame:
    """``analysis.events.event_study`` of the gap around every control date of the commodity
    inside the window (HAC standard errors; thin windows say so in ``note``). Imported here:
    statsmodels takes seconds to load, and only this section needs it."""
    from chokehold.analysis.events import event_dates, event_study

    window, unit = EVENT_WINDOW
    measures = select_measures(registry(), commodity=commodity)
    events = event_dates(measures).filter(
        pl.col("event_date").is_between(start or date.min, end or date.max))
    table = event_study(price_gap(commodity, markets=markets), events, window=window, unit=unit)
    numbers = {m.id: m.document_number or m.id for m in measures}
    return table.with_columns(pl.col("control_id").replace(numbers).alias("measure"))


SCENARIO_DRAWS = 20_000
SCENARIO_SEED = 1
"""Draws and seed of the scenario runs the reports show: fast, and the same on every render."""


@dataclass(frozen=True)
class ScenarioRun:
    """One control x importer x commodity x scenario run, or why the model cannot run it."""

    control: str
    importer: str
    commodity: str
    scenario: str
    draws: int
    seed: int
    result: Result | None
    reason: str | None = None
    data_mode: str = "Data mode: latest loaded data (not real-time)."


@_per_connection
def _scenario_inputs(scenario: str, data_mode: str, as_of: date | None) -> tuple:
    """The scenario definition, the BACI revision, production (each commodity's preferred
    source), published consumption and the data cut (the same for every importer)."""
    from chokehold.analysis.scenarios import store
    from chokehold.analysis.scenarios.spec import load_scenario

    con = connection()
    cut = store.DataCut(data_mode, as_of)  # type: ignore[arg-type]
    revision = read.trade_revision(con, settings().hs_revision)
    _, later = store.baci_years(con, revision, cut)
    return (load_scenario(settings().scenarios_dir, scenario, []), revision,
            store.load_production(con, commodities(), cut),
            store.load_published_consumption(con, cut), cut, ("later_release",) if later else ())


@_per_connection
def scenario_run(control: str, importer: str, commodity: str, scenario: str,
                 draws: int = SCENARIO_DRAWS, seed: int = SCENARIO_SEED,
                 data_mode: str = "latest", as_of: date | None = None) -> ScenarioRun:
    """``analysis.scenarios`` run on the warehouse (as ``chokehold scenario run`` does, with
    the same ``--data-mode`` and ``--as-of``)."""
    from chokehold.analysis.scenarios import store
    from chokehold.analysis.scenarios.exposure import run_one

    key = (control, importer, commodity, scenario, draws, seed)
    try:
        spec, revision, production, published, cut, extra = _scenario_inputs(
            scenario, data_mode, as_of)
        good = commodities()[commodity]
        flows = store.load_flows(connection(), good.lines(revision), [importer], revision, cut)
        result = run_one(spec, measure(control), good, importer, flows, production, revision,
                         draws=draws, seed=seed, published=published, extra_flags=extra)
    except ChokeholdError as exc:
        return ScenarioRun(*key, result=None, reason=str(exc))
    return ScenarioRun(*key, result=result, data_mode=cut.line())


def scenario_parameters(run: ScenarioRun) -> pl.DataFrame:
    """The resolved parameters of a run: distribution, unit, origin and rationale."""
    if run.result is None:
        return pl.DataFrame()
    return pl.DataFrame([{k: p.record()[k] for k in ("name", "distribution", "unit", "origin",
                                                      "rationale")}
                         for p in run.result.parameters.values()])


def extraterritorial_measures(m: Measure, commodity: str) -> list[Measure]:
    """The measure itself when it has a de-minimis rule, else the registry's measures with one
    that cover the commodity (their rule concerns the same goods)."""
    if m.extraterritorial is not None:
        return [m]
    return [other for other in registry().values()
            if other.extraterritorial is not None and commodity in other.commodities]


def status_period(m: Measure, day: date):
    """The registry's status period that contains ``day`` (None before the first)."""
    return next((p for p in m.status if p.start <= day and (p.end is None or day <= p.end)),
                None)


def status_timeline(control_id: str) -> pl.DataFrame:
    return read.status_timeline(connection(), control_id)


def measure_citations(control_id: str) -> pl.DataFrame:
    """The measure's sources from the registry: its own document first (issuer, number,
    date, URL), then the secondary sources the registry entry was compiled from. A URL that
    opens only the issuer's index of announcements says so: "(index page)"."""
    rows = [{"document": c.source, "kind": "primary" if c.primary else "secondary",
             "issuer": c.issuer, "number": c.number, "date": c.published,
             "url": None if c.url is None else
             c.url + (" (index page)" if c.url_kind == "index" else ""),
             "states": c.states}
            for c in measure(control_id).citations]
    return pl.DataFrame(rows, schema={"document": pl.String, "kind": pl.String,
                                      "issuer": pl.String, "number": pl.String,
                                      "date": pl.Date, "url": pl.String, "states": pl.String})


def covered_items(control_id: str) -> pl.DataFrame:
    return read.covered_items(connection(), control_id)


@_per_connection
def vintage(source_id: str) -> str:
    """The latest vintage of a source in the warehouse, for source lines."""
    return read.latest_vintage(connection(), source_id) or "no vintage recorded"


@_per_connection
def source_line(*source_ids: str) -> str:
    """'Source: CEPII (BACI, vintage V202401b); ...' for the foot of a chart or table."""
    frame = read.sources(connection(), list(source_ids))
    parts = [f"{row['publisher']}, {row['title']} (vintage {vintage(row['source_id'])})"
             for row in frame.sort("source_id").iter_rows(named=True)]
    return "Source: " + "; ".join(parts) if parts else "Source: not recorded"


def vintages() -> pl.DataFrame:
    return read.latest_vintages(connection())


def vintage_counts() -> pl.DataFrame:
    """How many vintages each source has in the warehouse (more than one: a diff exists)."""
    return read.vintage_counts(connection())


def sources(source_ids: list[str] | None = None) -> pl.DataFrame:
    return read.sources(connection(), source_ids).drop("source_id")


def latest_periods() -> pl.DataFrame:
    """The newest observation per dataset and source: what the warehouse currently covers."""
    return read.latest_periods(connection())


def measure_changes(since: date, until: date) -> pl.DataFrame:
    """Registry events (announcements and status periods starting) between two dates."""
    return read.measure_changes(connection(), since, until)


def measures_on(day: date) -> pl.DataFrame:
    """Every measure announced by ``day`` with its status that day (the registry's answer)."""
    rows = [{"control_id": m.id, "title": m.title, "announced": m.announced,
             "status": m.status_on(day), "commodities": ", ".join(m.commodities)}
            for m in registry().values() if m.announced <= day]
    return pl.DataFrame(rows, schema={"control_id": pl.String, "title": pl.String,
                                      "announced": pl.Date, "status": pl.String,
                                      "commodities": pl.String})


def scenario_ids() -> list[str]:
    """Scenario definitions in data/scenarios/ (none until the scenario module lands)."""
    folder = settings().scenarios_dir
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def git_revision() -> str:
    """The code revision (``provenance.code_revision``: the one id manifests and runs carry),
    or the installed version outside a git checkout."""
    from importlib.metadata import version

    return code_revision() or f"chokehold {version('chokehold')} (not a git checkout)"
