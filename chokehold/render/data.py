"""What the documents in reports/ read: small query functions over the warehouse and registry.

Documents only query and present: every number they show comes from here (the warehouse or
the analysis API), so .qmd cells stay short and nothing is computed or typed in a document.
One read-only connection serves a whole kernel, so a batch of documents opens the warehouse
once. Sections whose analysis API has not landed yet ask :func:`analysis_module`, which says
plainly that it is absent.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
from datetime import date
from functools import cache

import duckdb
import polars as pl

from chokehold.commodities import Commodity, load_commodities
from chokehold.config import PROJECT_ROOT, Settings, load_settings
from chokehold.controls import Measure, load_registry, require_measure
from chokehold.warehouse import first_row, open_warehouse, read_query

SUPPLIER = "CHN"
"""The supplier whose controls the toolkit studies (every registry measure's issuer so far)."""

PENDING_ANALYSIS = {
    "price_gap": "chokehold.analysis.price_gap",
    "event_study": "chokehold.analysis.event_study",
    "scenarios": "chokehold.analysis.scenarios",
    "reliance": "chokehold.analysis.trade",
    "vintage_diff": "chokehold.pipelines.vintages",
}
"""Analysis modules later sections present, by section; absent ones are reported as such."""


_settings: Settings | None = None


def configure(chosen: Settings) -> None:
    """Use these settings (the CLI's) instead of the environment's; forget cached state."""
    global _settings
    _settings = chosen
    if connection.cache_info().currsize:
        connection().close()
    for cached in (connection, commodities, registry):
        cached.cache_clear()


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@cache
def connection() -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, opened once per process (kernel)."""
    return open_warehouse(settings().warehouse, read_only=True)


@cache
def commodities() -> dict[str, Commodity]:
    return load_commodities(settings().commodities_file)


@cache
def registry() -> dict[str, Measure]:
    return load_registry(settings().controls_dir, commodities())


def measure(control_id: str) -> Measure:
    return require_measure(registry(), control_id)


def analysis_module(section: str):
    """The analysis module behind a section, or None when this build does not have it."""
    name = PENDING_ANALYSIS[section]
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def query(sql: str, params: list | None = None) -> pl.DataFrame:
    return read_query(connection(), sql, params)


def country_name(iso3: str) -> str:
    row = first_row(connection(), "SELECT name FROM countries WHERE iso3 = ?", [iso3])
    return row[0] if row else iso3


def commodity_label(commodity_id: str) -> str:
    """A short label for prose and titles: 'rare earths', 'permanent magnets'."""
    return commodity_id.replace("_", " ")


def import_flows(importer: str, commodity: str, until: date) -> pl.DataFrame:
    """Annual BACI imports of the commodity group's HS lines by ``importer``, up to ``until``."""
    return query("""
        SELECT f.* FROM trade_flows f JOIN commodity_hs h
          ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision
        WHERE h.commodity_id = ? AND f.reporter_iso3 = ? AND f.flow = 'import'
          AND f.freq = 'A' AND f.period <= ?""", [commodity, importer, until])


def dependence(importer: str, commodity: str, until: date,
               supplier: str = SUPPLIER) -> pl.DataFrame:
    """Per year: the supplier's share of the importer's imports (value basis), totals, HHI."""
    from chokehold.analysis.shares import hhi, partner_shares, supplier_share

    shares = partner_shares(import_flows(importer, commodity, until))
    if shares.is_empty():
        return pl.DataFrame(schema={"year": pl.Int32, "supplier_share": pl.Float64,
                                    "supplier_value_usd": pl.Float64,
                                    "total_value_usd": pl.Float64, "hhi": pl.Float64,
                                    "partners": pl.UInt32})
    return (supplier_share(shares, supplier).join(hhi(shares), on=["reporter_iso3", "period"])
            .select(pl.col("period").dt.year().alias("year"), "supplier_share",
                    "supplier_value_usd", "total_value_usd", "hhi", "partners")
            .sort("year"))


def partner_table(importer: str, commodity: str, year: int, top: int = 8) -> pl.DataFrame:
    """The importer's largest suppliers in ``year``: partner, value (USD), share."""
    from chokehold.analysis.shares import partner_shares

    flows = import_flows(importer, commodity, date(year, 12, 31)).filter(
        pl.col("period").dt.year() == year)
    shares = partner_shares(flows).head(top)
    names = query("SELECT iso3 AS partner_iso3, name FROM countries")
    return (shares.join(names, on="partner_iso3", how="left")
            .select(pl.coalesce("name", "partner_iso3").alias("partner"), "partner_iso3",
                    "value_usd", "share"))


def main_importers(commodity: str, year: int, n: int, supplier: str = SUPPLIER,
                   among: list[str] | None = None) -> list[str]:
    """The ``n`` largest importers of the commodity from ``supplier`` in ``year`` (value)."""
    frame = query("""
        SELECT f.reporter_iso3, sum(f.value_usd) AS value_usd FROM trade_flows f
        JOIN commodity_hs h ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision
        WHERE h.commodity_id = ? AND f.partner_iso3 = ? AND f.flow = 'import' AND f.freq = 'A'
          AND year(f.period) = ?
        GROUP BY 1 ORDER BY 2 DESC, 1""", [commodity, supplier, year])
    codes = frame["reporter_iso3"].to_list()
    return [c for c in codes if among is None or c in among][:n]


def first_trade_period() -> date:
    return first_row(connection(), "SELECT min(period) FROM trade_flows")[0]


def latest_trade_year(until: date | None = None) -> int:
    row = first_row(connection(), "SELECT max(year(period)) FROM trade_flows "
                    "WHERE freq = 'A' AND period <= ?", [until or date.max])
    return int(row[0])


def production_share(commodity: str, country: str, until: date) -> pl.DataFrame:
    """Per year: the country's production of the commodity and its share of the world sum."""
    return query("""
        SELECT year, stage, unit,
               sum(qty) FILTER (WHERE country_iso3 = ?) AS country_qty,
               sum(qty) AS world_qty,
               sum(qty) FILTER (WHERE country_iso3 = ?) / sum(qty) AS country_share
        FROM production WHERE commodity = ? AND year <= ?
        GROUP BY ALL ORDER BY year""", [country, country, commodity, until.year])


def price_series(commodity: str, markets: list[str] | str | None = None,
                 start: date | None = None, end: date | None = None) -> pl.DataFrame:
    """Price observations as published (own currency and unit), oldest first.

    ``markets`` may be one comma-separated string, as Quarto's ``-P markets:a,b`` passes it.
    """
    if isinstance(markets, str):
        markets = [m.strip() for m in markets.split(",") if m.strip()]
    frame = query("""
        SELECT series_id, market, date, value, currency, unit, vat_included, source, vintage
        FROM prices WHERE commodity = ? AND date BETWEEN ? AND ? ORDER BY market, date""",
                  [commodity, start or date.min, end or date.max])
    return frame.filter(pl.col("market").is_in(markets)) if markets else frame


def fx_series(base: str, quote: str, start: date, end: date) -> pl.DataFrame:
    return query("""
        SELECT date, rate, source FROM fx_rates WHERE base = ? AND quote = ?
          AND date BETWEEN ? AND ? ORDER BY date""", [base, quote, start, end])


def markets(commodity: str) -> list[str]:
    return query("SELECT DISTINCT market FROM prices WHERE commodity = ? ORDER BY 1",
                 [commodity])["market"].to_list()


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


def status_timeline(control_id: str) -> pl.DataFrame:
    return query("""
        SELECT status, start_date, end_date, source FROM control_status
        WHERE control_id = ? ORDER BY start_date""", [control_id])


def covered_items(control_id: str) -> pl.DataFrame:
    return query("""
        SELECT description, commodity, any_value(elements) AS elements,
               string_agg(hs_code, ', ' ORDER BY hs_code) FILTER (WHERE hs_code <> '') AS hs_codes
        FROM control_items WHERE control_id = ? GROUP BY item_no, description, commodity
        ORDER BY item_no""", [control_id])


def vintage(source_id: str) -> str:
    """The latest vintage of a source in the warehouse, for source lines."""
    row = first_row(connection(), "SELECT vintage FROM vintages WHERE source_id = ? "
                    "ORDER BY retrieved_at DESC LIMIT 1", [source_id])
    return row[0] if row else "no vintage recorded"


def source_line(*source_ids: str) -> str:
    """'Source: CEPII (BACI, vintage V202401b); ...' for the foot of a chart or table."""
    frame = query("SELECT source_id, publisher, title FROM sources WHERE source_id IN "
                  f"({', '.join('?' * len(source_ids))})", list(source_ids))
    parts = [f"{row['publisher']}, {row['title']} (vintage {vintage(row['source_id'])})"
             for row in frame.sort("source_id").iter_rows(named=True)]
    return "Source: " + "; ".join(parts) if parts else "Source: not recorded"


def vintages() -> pl.DataFrame:
    return query("""
        SELECT v.source_id, s.publisher, v.vintage, v.retrieved_at::DATE AS retrieved
        FROM vintages v LEFT JOIN sources s USING (source_id)
        QUALIFY row_number() OVER (PARTITION BY v.source_id ORDER BY v.retrieved_at DESC) = 1
        ORDER BY v.source_id""")


def vintage_counts() -> pl.DataFrame:
    """How many vintages each source has in the warehouse (more than one: a diff exists)."""
    return query("SELECT source_id, count(*) AS vintages, max(retrieved_at) AS last_retrieved "
                 "FROM vintages GROUP BY 1 ORDER BY 1")


def sources(source_ids: list[str] | None = None) -> pl.DataFrame:
    frame = query("SELECT source_id, publisher, title, licence, url FROM sources "
                  "ORDER BY source_id")
    chosen = frame.filter(pl.col("source_id").is_in(source_ids)) if source_ids else frame
    return chosen.drop("source_id")


def latest_periods() -> pl.DataFrame:
    """The newest observation per dataset and source: what the warehouse currently covers."""
    return query("""
        SELECT 'trade_flows' AS dataset, source, freq AS series, max(period) AS latest,
               count(*) AS rows FROM trade_flows GROUP BY ALL
        UNION ALL SELECT 'prices', source, series_id, max(date), count(*) FROM prices GROUP BY ALL
        UNION ALL SELECT 'fx_rates', source, base || '/' || quote, max(date), count(*)
        FROM fx_rates GROUP BY ALL
        UNION ALL SELECT 'production', source, commodity, make_date(max(year), 1, 1), count(*)
        FROM production GROUP BY ALL
        ORDER BY 1, 2, 3""")


def measure_changes(since: date, until: date) -> pl.DataFrame:
    """Registry events (announcements and status periods starting) between two dates."""
    return query("""
        SELECT announced AS date, control_id, 'announced' AS event, title
        FROM control_measures WHERE announced BETWEEN ? AND ?
        UNION ALL
        SELECT s.start_date, s.control_id, s.status, m.title FROM control_status s
        JOIN control_measures m USING (control_id) WHERE s.start_date BETWEEN ? AND ?
        ORDER BY 1, 2""", [since, until, since, until])


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
    folder = settings().data_dir / "scenarios"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


@cache
def git_revision() -> str:
    """The repository's commit (with '+dirty' for uncommitted changes), or why it is unknown."""
    try:
        head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=10", "HEAD"],
                              capture_output=True, text=True, check=True, timeout=10).stdout
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version
        return f"chokehold {version('chokehold')} (not a git checkout)"
    return head.strip() + ("+dirty" if dirty.strip() else "")
