"""What a document's code cells call: its parameters, number formats, charts and provenance.

A document starts with ``doc = report.start("name", **params)`` and then presents the frames
``chokehold.render.data`` returns. Charts and tables built here show as plotly/great_tables in
HTML and as PNG/pipe tables in PDF and PPTX (see ``charts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

import polars as pl
from IPython.display import Markdown, display

from chokehold.registry import LICENCE_LEVELS, Measure
from chokehold.render import data
from chokehold.render.charts import Chart, Marker, Series, Table, reset_document

if TYPE_CHECKING:
    from chokehold.vintages import VintageDiff

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
    """A document begins: remember its parameters; plotly.js goes out again before its first chart."""
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
    """The supplier's share of the importer's imports per year, by value and (where ``dep``
    has it, :func:`data.dependence_both_bases`) by tonnage, titled with the latest values."""
    last = dep.row(-1, named=True)
    peak = dep.sort("supplier_share", descending=True).row(0, named=True)
    who, where = data.country_name(supplier), data.country_name(importer)
    label = data.commodity_label(commodity)
    years = [date(y, 7, 1) for y in dep["year"]]
    series = [Series(f"{who} share by value", years, dep["supplier_share"].to_list())]
    by_tonnage = ""
    if "supplier_share_qty" in dep.columns:
        series.append(Series(f"{who} share by tonnage", years,
                             dep["supplier_share_qty"].to_list(), dashed=True))
        by_tonnage = f", {pct(last['supplier_share_qty'])} by tonnage"
    return Chart(
        title=f"{who} supplied {pct(last['supplier_share'])} of {possessive(where)} {label} "
              f"imports by value in {last['year']}{by_tonnage} (value peak "
              f"{pct(peak['supplier_share'])} in {peak['year']})",
        y_label=f"share of imports (%), {label}", x_label="year",
        source=data.source_line("baci") + ". Value basis (USD)" +
        (" and tonnage basis (t, gross weight)" if by_tonnage else "") +
        ", HS lines of data/commodities.yaml.",
        series=series,
        markers=markers(commodity, years[0], years[-1]) if years else [], percent=True)


def partner_chart(partners: pl.DataFrame, importer: str, commodity: str, year: int) -> Chart:
    top = partners.row(0, named=True)
    return Chart(
        title=f"{top['partner']} was the largest supplier of "
              f"{possessive(data.country_name(importer))} {data.commodity_label(commodity)} "
              f"imports by value in {year} ({pct(top['share'])})",
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
    """Display each chart or table in turn, or say plainly that there is nothing to show
    (``otherwise`` empty: a statement elsewhere already says so)."""
    for item in items:
        display(item)
    return None if items or not otherwise else Markdown(f"*{otherwise}*")


def vintage_diff(diff: VintageDiff | None, reason: str) -> Markdown | None:
    """What changed between the two newest vintages: new periods, revisions, measures."""
    if diff is None:
        return Markdown(f"*No comparison between refreshes yet: {reason}.*")
    display(Markdown(f"Vintage `{diff.to_id}` against `{diff.from_id}` (values revised by more "
                     f"than {diff.tolerance:g} relative)."
                     + (f" **Stale sources:** {', '.join(diff.stale_sources)}."
                        if diff.stale_sources else "")))
    source = f"chokehold vintages {diff.from_id} and {diff.to_id}"
    return show([Table(frame, title=title, source=source) for frame, title in (
        (diff.new_periods, "New periods"),
        (diff.revised.head(20), f"Revised values ({diff.revised.height} in all; first 20)"),
        (diff.controls, "New or changed control measures"),
    ) if not frame.is_empty()], otherwise="No data changed between these vintages.")


def destinations(m: Measure) -> str:
    scope = m.destinations
    if scope.scope == "countries":
        return ", ".join(data.country_name(c) for c in scope.countries)
    return "all destinations" if scope.scope == "all" else f"end use: {scope.end_use}"


def de_minimis_note(m: Measure, commodity: str, day: date) -> Markdown | None:
    """The extraterritorial 0.1% (de-minimis) rule: what it asks and its status on ``day``.

    Shown for the measure when it has such a rule, else for the registry's measures with one
    that cover the same commodity. No bill of materials is assumed: whether an item reaches
    the threshold is the user's calculation (``chokehold deminimis BOM.csv``).
    """
    notes = []
    for rule_of in data.extraterritorial_measures(m, commodity):
        rule = rule_of.extraterritorial
        status = rule_of.status_on(day)
        period = data.status_period(rule_of, day)
        span = (f" (from {period.start}" + (f" to {period.end}" if period.end else "") +
                f"; source: {period.source})") if period else ""
        consequence = ("so an item at or above the threshold needs a licence on that date"
                       if status == "in_force" else
                       "so on that date no licence is needed under this rule, whatever the "
                       "item's content")
        name = rule_of.document_number or rule_of.id
        related = "" if rule_of.id == m.id else " (a related measure covering " \
            f"{data.commodity_label(commodity)})"
        notes.append(
            f"**De-minimis rule: {name}{related}.** Items made abroad "
            f"({rule.applies_to.lower()}) need a {data.country_name(rule.origin_iso3)} export "
            f"licence when {rule.origin_iso3}-origin content of {', '.join(rule.elements)} is "
            f"worth {pct(rule.de_minimis_value_share, 1)} or more of the item's value. "
            f"A licence is needed only when an item reaches that share *and* the rule is in "
            f"force. On {day} the registry gives its status as "
            f"**{status.replace('_', ' ')}**{span}, {consequence}. Whether an item reaches the "
            f"threshold depends on its bill of materials: `chokehold deminimis BOM.csv "
            f"--control {rule_of.id} --as-of {day}` computes its share.")
    return Markdown("\n\n".join(notes)) if notes else None


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
                 decimals=1,
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


def partner_share_chart(shares: pl.DataFrame, importer: str, commodity: str) -> Chart:
    """Each leading supplier's share of the importer's imports per year (one line each)."""
    where, label = data.country_name(importer), data.commodity_label(commodity)
    first, last = shares["year"].min(), shares["year"].max()
    latest = shares.filter(pl.col("year") == last).sort("share", descending=True).row(
        0, named=True)
    leaders = shares.filter(pl.col("partner") != "other").sort("share", descending=True) \
        .group_by("year").first()
    years_led = leaders.filter(pl.col("partner") == latest["partner"]).height
    series = [Series(partner, [date(y, 7, 1) for y in group["year"]], group["share"].to_list())
              for (partner,), group in shares.group_by(["partner"], maintain_order=True)]
    return Chart(
        title=f"{latest['partner']} led {possessive(where)} {label} imports by value in {last} "
              f"({pct(latest['share'])}) and in {years_led} of the {leaders.height} years "
              f"since {first}",
        y_label="share of import value (%)", x_label="year",
        source=data.source_line("baci") + ". Value basis; the latest year's five largest "
        "suppliers, all others as 'other'.",
        series=series, percent=True)


def reliance_message(rel: pl.DataFrame, importer: str, commodity: str) -> Markdown:
    """One sentence on the latest year's net import reliance, or why there is none."""
    label, where = data.commodity_label(commodity), data.country_name(importer)
    if rel.is_empty():
        return Markdown(f"*The warehouse has no production series for {label} (from its "
                        f"preferred source in data/commodities.yaml), so net import reliance "
                        f"cannot be computed here.*")
    last = rel.row(-1, named=True)
    made = (f"production {num(last['production'])} {last['unit']}" if last["production_recorded"]
            else "no production recorded (taken as 0)")
    value = last["net_import_reliance"]
    reading = ("not defined (apparent consumption is not positive: a re-exporter)"
               if value is None else f"**{pct(value)}**")
    return Markdown(
        f"Net import reliance of {where} on {label} in {last['year']}: {reading} ({made}, "
        f"imports {num(last['imports'])} t, exports {num(last['exports'])} t). Production is in "
        f"tonnes of content and trade in tonnes of product (gross weight), so read it as "
        f"indicative where the two differ.")


def reliance_table(rel: pl.DataFrame, importer: str, commodity: str) -> Table:
    return Table(
        rel.drop("unit", "production_recorded").tail(7),
        title=f"Net import reliance, {data.country_name(importer)}, "
              f"{data.commodity_label(commodity)} (USGS definition)",
        source=data.source_line(data.production_source(commodity).source, data.TRADE_SOURCE) +
        ". (imports - exports) / (production + imports - exports).",
        labels={"production": f"production ({rel['unit'][0]})", "imports": "imports (t)",
                "exports": "exports (t)", "apparent_consumption": "apparent consumption",
                "net_import_reliance": "net import reliance"},
        percent=["net_import_reliance"])


def gap_charts(gap: pl.DataFrame, commodity: str) -> list[Chart]:
    """Per pair of series: overseas vs domestic ex-VAT (USD/t), and their ratio, with every
    control date of the commodity marked; titled with the latest date both sides are there."""
    charts = []
    label = data.commodity_label(commodity).capitalize()
    source = data.source_line("chokehold_compiled_prices", "fed_h10", "chokehold_vat_rates")
    for (overseas, domestic), pair in gap.sort("date").group_by(
            ["overseas_series", "domestic_series"], maintain_order=True):
        complete = pair.filter(pl.col("gap_usd_t").is_not_null())
        if complete.is_empty():
            continue
        last = complete.row(-1, named=True)
        days = pair["date"].to_list()
        marks = markers(commodity, days[0], days[-1])
        kind = series_kind(days)
        where = last["overseas_market"].replace("_", " ").capitalize()
        charts.append(Chart(
            title=f"{label}, {where}: USD {num(last['overseas_usd_t'])}/t vs USD "
                  f"{num(last['domestic_usd_t_ex_vat'])}/t in China ex-VAT on {last['date']} "
                  f"(gap USD {num(last['gap_usd_t'])}/t)",
            y_label="USD per tonne", x_label="date",
            source=f"{source}. Domestic = price / (1 + VAT) / FX; last observation carried "
                   f"at most {data.MAX_CARRY_DAYS} days, otherwise left empty.",
            series=[Series(f"{overseas} (overseas)", days, pair["overseas_usd_t"].to_list(),
                           kind=kind),
                    Series(f"{domestic} (China, ex-VAT)", days,
                           pair["domestic_usd_t_ex_vat"].to_list(), kind=kind)],
            markers=marks))
        charts.append(Chart(
            title=f"{label}: overseas price {last['ratio']:.2f}x the Chinese domestic price "
                  f"ex-VAT on {last['date']} (range {complete['ratio'].min():.2f}-"
                  f"{complete['ratio'].max():.2f}x over {complete.height} dates)",
            y_label="ratio, overseas / domestic ex-VAT (x)", x_label="date",
            source=f"{source}.",
            series=[Series("ratio", complete["date"].to_list(), complete["ratio"].to_list(),
                           kind=kind)],
            markers=marks, decimals=1))
    return charts


def series_kind(days: list[date]) -> Literal["line", "points"]:
    """Lines for a regular series (a median spacing of at most 10 days); points for isolated
    quotations, where a line would suggest prices between them."""
    spacing = sorted((b - a).days for a, b in zip(days, days[1:], strict=False))
    return "line" if spacing and spacing[len(spacing) // 2] <= 10 else "points"


def gap_table(complete: pl.DataFrame, commodity: str) -> Table:
    return Table(
        complete.select("date", "overseas_market", "overseas_usd_t", "domestic_usd_t_ex_vat",
                        "fx_cny_per_usd", "vat_rate", "gap_usd_t", "ratio", "alignment"),
        title=f"The {data.commodity_label(commodity)} price gap on every date both sides are "
              "quoted (USD/t)",
        source=data.source_line("chokehold_compiled_prices", "fed_h10", "chokehold_vat_rates"),
        labels={"overseas_market": "overseas", "overseas_usd_t": "overseas USD/t",
                "domestic_usd_t_ex_vat": "China ex-VAT USD/t", "fx_cny_per_usd": "CNY/USD",
                "vat_rate": "VAT", "gap_usd_t": "gap USD/t", "ratio": "ratio"},
        percent=["vat_rate"], decimals={"fx_cny_per_usd": 2, "ratio": 2})


def gap_message(complete: pl.DataFrame, commodity: str) -> Markdown:
    """The headline: the latest gap and ratio, or that there is no price pair (Markdown:
    Quarto escapes a plain ``str`` from an inline expression, bold and all)."""
    label = data.commodity_label(commodity)
    if complete.is_empty():
        quoted = data.markets(commodity)
        held = (f"no {label} price series" if not quoted else
                f"{label} quotations for {', '.join(quoted)} but no China-domestic and "
                "overseas pair on nearby dates")
        return Markdown(f"The warehouse holds {held}, so there is no price gap or event study "
                        "to show.")
    last = complete.row(-1, named=True)
    return Markdown(f"On {last['date']} {label} cost USD {num(last['overseas_usd_t'])}/t in "
            f"{last['overseas_market'].replace('_', ' ')} against USD "
            f"{num(last['domestic_usd_t_ex_vat'])}/t in China ex-VAT: a gap of "
            f"**USD {num(last['gap_usd_t'])}/t**, the overseas price "
            f"**{last['ratio']:.2f}x** the domestic one.")


def event_study_table(events: pl.DataFrame, commodity: str) -> Table:
    window, unit = data.EVENT_WINDOW
    return Table(
        events.select("event_date", "measure", "event", "n_before", "n_after", "gap_before",
                      "gap_after", "gap_change", "gap_change_se_hac", "ratio_change", "note"),
        title=f"The {data.commodity_label(commodity)} price gap {window} {unit} before and "
              "after each control date (USD/t)",
        source=data.source_line("chokehold_compiled_prices", "chokehold_registry") +
        ". Change = mean after - mean before; s.e. Newey-West HAC; n = observations.",
        labels={"event_date": "date", "n_before": "n before", "n_after": "n after",
                "gap_before": "gap before", "gap_after": "gap after",
                "gap_change": "change", "gap_change_se_hac": "s.e. (HAC)",
                "ratio_change": "ratio change"},
        decimals={"ratio_change": 2})


def scenario_source(run: data.ScenarioRun) -> str:
    inputs = data.source_line("baci", "world_mining_data", "chokehold_registry")
    return (f"Source: chokehold.analysis.scenarios, scenario '{run.scenario}' "
            f"(data/scenarios/{run.scenario}.yaml), {run.draws:,} draws, seed {run.seed}; "
            f"inputs {inputs.removeprefix('Source: ')}")


def scenario_message(run: data.ScenarioRun) -> Markdown:
    """The scenario's headline figures, or the model's own reason for having none."""
    where = data.country_name(run.importer)
    if run.result is None:
        return Markdown(f"*The scenario model does not run for this combination: {run.reason}.*")
    s = run.result.summary
    if not s["applies"]:
        scope = run.result.parameters["scope_share"].rationale
        return Markdown(f"The model gives **applies = false**: {scope} Every shortfall and "
                        f"price figure is zero ({s['draws']:,} draws).")
    if not s["peak_shortfall_share_p90"]:
        return Markdown(
            f"In the *{run.scenario}* scenario no {data.commodity_label(run.commodity)} demand "
            f"of {where} goes unmet in 90% of draws (P90 peak shortfall "
            f"{pct(s['peak_shortfall_share_p90'], 1)}): stocks and other suppliers cover the "
            f"volume the measure cuts ({num(s['affected_t_per_month_p50'])} t a month at the "
            f"P50); expected cumulative shortfall {num(s['expected_cumulative_shortfall_t'])} t, "
            f"value at risk {usd(s['value_at_risk_usd'])}.")
    first = s["first_shortfall_month_p50"]
    caveat = [f for f in ("saturated", "thin_trade") if f in (s.get("flags") or [])]
    if caveat:
        return Markdown(
            f"Flagged **{', '.join(caveat)}**: the figures below are not a finding. "
            + ("The volume the measure reaches exceeds the whole consumption in "
               f"{pct(s['saturated_share'])} of draws, so the shortfall is the cap (a bound: "
               f"cumulative shortfall up to {num(s['cumulative_shortfall_t_p50'])} t at the P50). "
               if "saturated" in caveat else "")
            + ("Imports from the issuer are below the pack's materiality threshold. "
               if "thin_trade" in caveat else "")
            + "See the flags under the scenario section.")
    return Markdown(
        f"In the *{run.scenario}* scenario {possessive(where)} unmet "
        f"{data.commodity_label(run.commodity)} demand peaks at "
        f"**{pct(s['peak_shortfall_share_p50'], 1)}** of monthly consumption (P50; P10-P90 "
        f"{pct(s['peak_shortfall_share_p10'], 1)}-{pct(s['peak_shortfall_share_p90'], 1)}); "
        f"cumulative shortfall over the horizon {num(s['cumulative_shortfall_t_p50'])} t (P50; "
        f"P90 {num(s['cumulative_shortfall_t_p90'])} t), value at risk "
        f"{usd(s['value_at_risk_usd'])}; the price rises by up to "
        f"{pct(s['peak_price_change_p50'])} (P50; P90 {pct(s['peak_price_change_p90'])}). "
        + (f"The median path first falls short in month {first}." if first else
           "The median path never falls short: stocks and substitution cover it."))


def scenario_charts(run: data.ScenarioRun) -> list[Chart]:
    """Shortfall share and price change by month, P10/P50/P90 across draws (none when even
    the P90 stays at zero: the message says so)."""
    if run.result is None or not run.result.summary["peak_shortfall_share_p90"]:
        return []
    months, s = run.result.months, run.result.summary
    where, label = data.country_name(run.importer), data.commodity_label(run.commodity)
    x = months["month"].to_list()
    caveat = [f for f in ("saturated", "thin_trade") if f in (s.get("flags") or [])]
    flagged = f"Flagged {', '.join(caveat)} (a bound, not a finding): " if caveat else ""

    def band(prefix: str) -> list[Series]:
        return [Series("P10-P90 across draws", x, months[f"{prefix}_p90"].to_list(), kind="band",
                       low=months[f"{prefix}_p10"].to_list(), color=1),
                Series("P50 (median path)", x, months[f"{prefix}_p50"].to_list(), color=0)]

    return [
        Chart(title=f"{flagged}{possessive(where)} unmet {label} demand peaks at "
                    f"{pct(s['peak_shortfall_share_p50'], 1)} of consumption (P50; P10-P90 "
                    f"{pct(s['peak_shortfall_share_p10'], 1)}-"
                    f"{pct(s['peak_shortfall_share_p90'], 1)})",
              y_label="unmet demand, share of monthly consumption (%)",
              x_label="months after the measure bites", source=scenario_source(run),
              series=band("shortfall_share"), percent=True, x_step=_month_step(len(x))),
        Chart(title=f"{flagged}The {label} price rises by up to {pct(s['peak_price_change_p50'])} at "
                    f"the P50 (P90 {pct(s['peak_price_change_p90'])})",
              y_label="price change vs baseline (%)", x_label="months after the measure bites",
              source=scenario_source(run) + " dP/P = shortfall / (|demand e.| + supply e.).",
              series=band("price_change"), percent=True, x_step=_month_step(len(x))),
    ]


def _month_step(horizon: int) -> int:
    """An even month step for a horizon: 1, 3, 6 or 12 months, about eight ticks at most."""
    return next(step for step in (1, 3, 6, 12) if horizon / step <= 8) if horizon <= 96 else 24


def scenario_flags(run: data.ScenarioRun) -> Markdown:
    """What limits the run's figures (every flag explained), and the data mode."""
    from chokehold.analysis.scenarios.flags import describe

    if run.result is None:
        return Markdown(f"*{run.data_mode}*")
    flags = run.result.summary.get("flags") or []
    basis = run.result.parameters["baseline_consumption_t"].rationale
    head = (f"Flags: {describe(flags)}" if flags else "Flags: none.")
    return Markdown(f"{head} Consumption basis: {basis} *{run.data_mode}*")


def tornado_table(run: data.ScenarioRun) -> Table | None:
    """The sensitivity ranking, where some parameter moves the P50 shortfall at all."""
    if run.result is None or not run.result.sensitivity["swing_t"].max():
        return None
    return Table(
        run.result.sensitivity.drop("base_shortfall_t_p50"),
        title="Sensitivity: P50 cumulative shortfall (t) with each parameter at its P10 and "
              f"P90 (base {num(run.result.sensitivity['base_shortfall_t_p50'][0])} t)",
        source=scenario_source(run),
        labels={"value_p10": "value at P10", "value_p90": "value at P90",
                "shortfall_t_p50_at_p10": "shortfall at P10 (t)",
                "shortfall_t_p50_at_p90": "shortfall at P90 (t)", "swing_t": "swing (t)"},
        decimals={"value_p10": 2, "value_p90": 2})


def parameter_table(run: data.ScenarioRun) -> Table | None:
    frame = data.scenario_parameters(run)
    if frame.is_empty():
        return None
    readable = frame.with_columns(pl.col("name").str.replace_all("_", " "))
    return Table(readable, title=f"Parameters of the run ({run.scenario})",
                 source=scenario_source(run), labels={"name": "parameter"})


def pack_threshold(report: str = "control-exposure") -> float:
    """The materiality threshold (USD) reports/matrix.yaml applies to ``report``'s entries."""
    from chokehold.render.engine import REPORTS_DIR
    from chokehold.render.matrix import load_matrix

    path = REPORTS_DIR / "matrix.yaml"
    if path.exists():
        for entry in load_matrix(path).documents:
            if entry.report == report and entry.for_each:
                return entry.min_import_usd
    return data.MATERIALITY_USD


def pack_reason(importer: str, commodity: str, supplier: str, day: date) -> Markdown:
    """Why this importer is (or would not be) in the standard pack: the value of its imports
    from the issuer in the latest trade year against the pack's materiality threshold."""
    year = data.latest_trade_year(day)
    frame = data.imports_from(commodity, year, supplier)
    minimum = pack_threshold()
    where, who = data.country_name(importer), data.country_name(supplier)
    label = data.commodity_label(commodity)
    ranked = frame.with_row_index("rank", offset=1).filter(pl.col("reporter_iso3") == importer)
    if ranked.is_empty():
        return Markdown(f"Why this importer: {where} imported no {label} from {who} in {year}, "
                        f"below the pack's materiality threshold ({usd(minimum)}, "
                        "reports/matrix.yaml `min_import_usd`); it is not in the standard pack.")
    row = ranked.row(0, named=True)
    verdict = ("at or above" if row["value_usd"] >= minimum else "below")
    return Markdown(
        f"Why this importer: {possessive(where)} {label} imports from {who} were "
        f"{usd(row['value_usd'])} in {year} (rank {row['rank']} of {frame.height} importers), "
        f"{verdict} the pack's materiality threshold of {usd(minimum)} (reports/matrix.yaml "
        "`min_import_usd`).")
