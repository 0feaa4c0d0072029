"""What a document's code cells call: its parameters, number formats, charts and provenance.

A document starts with ``doc = report.start("name", **params)`` and then presents the frames
``chokehold.render.data`` returns. Charts and tables built here show as plotly/great_tables in
HTML and as PNG/pipe tables in PDF and PPTX (see ``charts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl
from IPython.display import Markdown, display

from chokehold.controls import LICENCE_LEVELS, Measure
from chokehold.render import data
from chokehold.render.charts import Chart, Marker, Series, Table, reset_document

__all__ = [
    "LICENCE_LEVELS",
    "Chart",
    "Markdown",
    "Marker",
    "Series",
    "Table",
    "num",
    "pct",
    "pl",
    "start",
    "usd",
]


@dataclass(frozen=True)
class Document:
    name: str
    params: dict

    def provenance(self) -> Markdown:
        """Parameters, data vintages and git revision: every output carries this block."""
        params = "; ".join(f"`{k}` = `{v}`" for k, v in self.params.items()) or "none"
        vintages = "; ".join(f"{r['source_id']} {r['vintage']}"
                             for r in data.vintages().iter_rows(named=True))
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return Markdown(
            f"**Parameters:** {params}.  \n**Data vintages:** {vintages}.  \n"
            f"**Git revision:** `{data.git_revision()}`; rendered {stamp} "
            f"from `reports/{self.name}.qmd`.")

    def as_of(self) -> date:
        return date.fromisoformat(str(self.params["as_of"]))


def start(name: str, **params: object) -> Document:
    """A document begins: remember its parameters; its first chart carries plotly.js."""
    reset_document()
    return Document(name, params)


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def usd(value: float | None) -> str:
    """'USD 515.5 million', 'USD 2.3 billion'."""
    if value is None:
        return "n/a"
    for size, word in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if abs(value) >= size:
            return f"USD {value / size:,.1f} {word}"
    return f"USD {value:,.0f}"


def num(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def markers(commodity: str, since: date, until: date) -> list[Marker]:
    """Control dates for the commodity inside the chart's window."""
    return [Marker(day, label) for day, label in data.control_events(commodity, until)
            if day >= since]


def share_chart(dep: pl.DataFrame, importer: str, commodity: str,
                supplier: str = data.SUPPLIER) -> Chart:
    """The supplier's share of the importer's imports per year, titled with the latest value."""
    last = dep.row(-1, named=True)
    peak = dep.sort("supplier_share", descending=True).row(0, named=True)
    who, where = data.country_name(supplier), data.country_name(importer)
    label = data.commodity_label(commodity)
    years = [date(y, 7, 1) for y in dep["year"]]
    return Chart(
        title=f"{who} supplied {pct(last['supplier_share'])} of {possessive(where)} {label} "
              f"imports in {last['year']} (peak {pct(peak['supplier_share'])} in {peak['year']})",
        y_label=f"share of import value (%), {label}", x_label="year",
        source=data.source_line("baci") + ". Value basis, HS lines of data/commodities.yaml.",
        series=[Series(f"{who} share", years, dep["supplier_share"].to_list())],
        markers=markers(commodity, years[0], years[-1]) if years else [], percent=True)


def partner_chart(partners: pl.DataFrame, importer: str, commodity: str, year: int) -> Chart:
    top = partners.row(0, named=True)
    return Chart(
        title=f"{top['partner']} was the largest supplier of "
              f"{possessive(data.country_name(importer))} {data.commodity_label(commodity)} "
              f"imports in {year} ({pct(top['share'])})",
        y_label="share of import value (%)", x_label="partner",
        source=data.source_line("baci") + f". {year}, value basis.",
        series=[Series("share", partners["partner"].to_list(), partners["share"].to_list(),
                       kind="barh")], percent=True)


def price_charts(prices: pl.DataFrame, commodity: str) -> list[Chart]:
    """One chart per currency and unit (quotations are never converted here)."""
    charts = []
    for (currency, unit), group in prices.group_by(["currency", "unit"], maintain_order=True):
        series = [Series(f"{market} ({'incl.' if g['vat_included'][0] else 'excl.'} VAT)",
                         g["date"].to_list(), g["value"].to_list(), kind="points")
                  for (market,), g in group.group_by(["market"], maintain_order=True)]
        latest = group.sort("date").row(-1, named=True)
        charts.append(Chart(
            title=f"{data.commodity_label(commodity).capitalize()}, {latest['market']}: "
                  f"{currency} {latest['value']:,.0f}/{unit} on {latest['date']}",
            y_label=f"{currency} per {unit}", x_label="date of quotation",
            source=data.source_line(*sorted(set(group["source"]))) +
            ". Isolated published quotations, not a continuous series.",
            series=series,
            markers=markers(commodity, group["date"].min(), group["date"].max())))
    return charts


def show(items: list, otherwise: str) -> Markdown | None:
    """Display each chart or table in turn, or say plainly that there is nothing to show."""
    for item in items:
        display(item)
    return None if items else Markdown(f"*{otherwise}*")


def pending(section: str, what: str) -> Markdown:
    """The plain statement a section makes about an analysis module it does not present yet."""
    module = data.PENDING_ANALYSIS[section]
    if data.analysis_module(section) is None:
        return Markdown(f"*{what}: not available in this build. The analysis module "
                        f"`{module}` is not installed, so no figures are shown here.*")
    return Markdown(f"*{what}: `{module}` is installed, but this report does not present it "
                    "yet.*")


def destinations(m: Measure) -> str:
    scope = m.destinations
    if scope.scope == "countries":
        return ", ".join(data.country_name(c) for c in scope.countries)
    return "all destinations" if scope.scope == "all" else f"end use: {scope.end_use}"


def de_minimis_note(m: Measure) -> Markdown | None:
    """The extraterritorial (de-minimis) rule, where the measure has one."""
    rule = m.extraterritorial
    if rule is None:
        return None
    return Markdown(
        f"**De-minimis rule.** Items made abroad that contain {rule.origin_iso3}-origin "
        f"{', '.join(rule.elements)} worth {pct(rule.de_minimis_value_share, 1)} or more of the "
        f"item's value need a licence: {rule.applies_to}.")


def inline_text(value: object) -> str:
    """How an inline `{python} expr` shows: strings as they are, markdown objects as markdown."""
    if isinstance(value, str):
        return value
    markdown = getattr(value, "_repr_markdown_", None)
    return markdown() if callable(markdown) else str(value)


def event_table(commodity: str, first: date, last: date) -> Table:
    """Every control event for the commodity inside the window, from the registry."""
    events = [{"date": d, "event": e} for d, e in data.control_events(commodity, last)
              if d >= first]
    return Table(pl.DataFrame(events, schema={"date": pl.Date, "event": pl.String}),
                 title=f"Control events for {data.commodity_label(commodity)}, {first} to {last}",
                 source=data.source_line("chokehold_registry"))


def fx_chart(quote: str, first: date, last: date, base: str = "USD") -> Chart:
    fx = data.fx_series(base, quote, first, last)
    latest = fx.row(-1, named=True) if fx.height else None
    title = (f"{quote} per {base}: {latest['rate']:.2f} in {latest['date']:%B %Y}" if latest
             else f"No {base}/{quote} rates in the warehouse for this period")
    return Chart(title=title, y_label=f"{quote} per {base} (monthly mean)", x_label="month",
                 source=data.source_line(*sorted(set(fx["source"]))) if fx.height else "",
                 series=[Series(f"{base}/{quote}", fx["date"].to_list(), fx["rate"].to_list())])


def status_message(m: Measure, day: date, importer: str) -> str:
    """'MOFCOM/GAC Announcement 2025 No. 18 was in force on 2025-12-01 and reaches Japan'."""
    reach = "reaches" if m.applies_to(importer) else "does not reach"
    return (f"{m.document_number or m.id} was {m.status_on(day).replace('_', ' ')} on {day} "
            f"and {reach} {data.country_name(importer)}")


def vintage_message(counts: pl.DataFrame) -> str:
    """Whether a previous refresh exists to compare with, from the vintages table."""
    several = counts.filter(pl.col("vintages") > 1)
    if several.is_empty():
        return (f"Each of the {counts.height} sources has a single vintage in the warehouse, "
                "so there is no previous refresh to compare with yet.")
    return (f"{several.height} of {counts.height} sources have more than one vintage: "
            f"{', '.join(several['source_id'])}.")
