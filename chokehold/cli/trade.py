"""Trade and dependence commands: shares, screen, mirror, reroute, reliance."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import duckdb
import polars as pl
import typer

from chokehold.analysis import dependence
from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, open_read, settings_of
from chokehold.commodities import load_commodities, require_commodity
from chokehold.controls import load_registry, require_measure
from chokehold.countries import reference_countries, resolve_iso3
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.warehouse import read_query

trade_app = typer.Typer(help="Import dependence: shares, concentration, screen, mirror, rerouting.",
                        no_args_is_help=True)


class Freq(str, Enum):
    annual = "annual"
    monthly = "monthly"
    rolling12 = "rolling12"


class Basis(str, Enum):
    value = "value"
    qty = "qty"


class Source(str, Enum):
    baci = "baci"
    comtrade = "comtrade"
    japan_customs = "japan_customs"


IMPORTER = typer.Option("--importer", "-i", help="Importing country: ISO3, ISO2 or name (JPN, Japan).")
COMMODITY = typer.Option("--commodity", "-c", help="Commodity group id (data/commodities.yaml).")
SOURCE = typer.Option("--source", help="Trade source.")
REVISION = typer.Option("--revision", help="HS revision (needed when a period has several).")


LOAD_EXAMPLE = {
    "baci": "--path BACI_HS17_Y2023_V202501.csv",
    "comtrade": "--reporters JPN --partners all --hs 280530,284610,284690 --years 2022-2024",
    "japan_customs": "--path FILE.csv",
}
"""How to load each trade source, for the message when it is missing."""


def _importer(con: duckdb.DuckDBPyConnection, importer: str, source: str, flow: str = "import"
              ) -> str:
    known = {r[0] for r in con.execute(
        "SELECT DISTINCT reporter_iso3 FROM trade_flows WHERE source = ? AND flow = ?",
        [source, flow]).fetchall()}
    if not known:
        how = LOAD_EXAMPLE.get(source, "--path FILE")
        raise ChokeholdError(f"the warehouse holds no {source} {flow}s; load them first, e.g. "
                             f"`chokehold refresh --source {source} {how}`")
    try:
        return resolve_iso3(importer, known)  # ISO3, ISO2 or a name ("Japan")
    except UnknownValueError:
        raise UnknownValueError(f"{'importer' if flow == 'import' else 'reporter'} "
                                f"(in {source} {flow}s)", importer, known) from None


def _commodity_flows(ctx: typer.Context, con: duckdb.DuckDBPyConnection, commodity: str,
                     where: str, params: list, revision: str | None) -> pl.DataFrame:
    require_commodity(load_commodities(settings_of(ctx).commodities_file), commodity)
    flows = read_query(con, f"SELECT * FROM trade_flows WHERE {where}", params)
    lines = read_query(con, "SELECT commodity_id, hs_revision, hs_code FROM commodity_hs")
    return dependence.commodity_flows(flows, lines, commodity, revision)


def shares(
    ctx: typer.Context,
    importer: Annotated[str, IMPORTER],
    commodity: Annotated[str, COMMODITY],
    freq: Annotated[Freq, typer.Option(help="annual, monthly or rolling12.")] = Freq.annual,
    source: Annotated[Source, SOURCE] = Source.baci,
    basis: Annotated[Basis, typer.Option(help="Shares of value (USD) or quantity (t).")
                     ] = Basis.value,
    revision: Annotated[str | None, REVISION] = None,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Each partner's share of an importer's imports of a commodity group, with the HHI."""
    with open_read(ctx) as con:
        iso3 = _importer(con, importer, source.value)
        flows = _commodity_flows(ctx, con, commodity, "source = ? AND reporter_iso3 = ? AND "
                                 "flow = 'import'", [source.value, iso3], revision)
    if flows.height == 0:
        raise ChokeholdError(f"no {source.value} imports of {commodity} by {iso3}")
    table = dependence.import_shares(flows, basis.value, freq.value).with_columns(
        pl.lit(commodity).alias("commodity"), pl.lit(basis.value).alias("basis"))
    emit(table.select("period", "reporter_iso3", "commodity", "partner_iso3", "value_usd", "qty",
                      "share", "hhi", "basis", "months", "source"), fmt,
         title=f"{iso3} imports of {commodity} by partner ({source.value}, {basis.value})")


def screen(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="Year to screen.")],
    top: Annotated[int, typer.Option(min=1, help="Rows to show (largest imports first).")] = 50,
    source: Annotated[str, typer.Option(help="Source of bilateral trade.")] = "baci",
    revision: Annotated[str | None, REVISION] = None,
    importer: Annotated[str | None, typer.Option(help="Only this importer (ISO3).")] = None,
    dependent_only: Annotated[bool, typer.Option(
        "--dependent-only", help="Only lines flagged as dependencies.")] = False,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Every importer x HS6 line of a year: HHI, top supplier, EC SWD(2021) 352 flags
    (HHI > 0.4; imports > 50% of demand where known; imports / own exports > 1)."""
    with open_read(ctx) as con:
        table = dependence.global_screen(con, year, source=source, hs_revision=revision,
                                         limit=None if importer or dependent_only else top)
        if importer:
            table = table.filter(pl.col("importer_iso3") == _importer(con, importer, source))
    if dependent_only:
        table = table.filter(pl.col("dependent"))
    if fmt is OutputFormat.table:
        table = table.select("importer_iso3", "hs_code", "imports_usd", "hhi", "top_supplier",
                             "top_share", "imports_to_exports", "dependent")
    emit(table.head(top), fmt, title=f"Dependency screen {year} ({source})")


def mirror(
    ctx: typer.Context,
    importer: Annotated[str, IMPORTER],
    exporter: Annotated[str, typer.Option(help="Exporting country, ISO3 (e.g. CHN).")],
    commodity: Annotated[str, COMMODITY],
    source: Annotated[str, typer.Option(help="Source with both declarations.")] = "comtrade",
    revision: Annotated[str | None, REVISION] = None,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Importer-reported vs exporter-reported values (CIF/FOB margin 10%), gaps flagged."""
    with open_read(ctx) as con:
        imp = _importer(con, importer, source)
        exp = _importer(con, exporter, source, flow="export")
        m = _commodity_flows(ctx, con, commodity, "source = ? AND reporter_iso3 = ? AND "
                             "partner_iso3 = ? AND flow = 'import'", [source, imp, exp], revision)
        x = _commodity_flows(ctx, con, commodity, "source = ? AND reporter_iso3 = ? AND "
                             "partner_iso3 = ? AND flow = 'export'", [source, exp, imp], revision)
    emit(dependence.mirror(m, x), fmt, title=f"{imp} imports from {exp} vs {exp}'s exports")


def reroute(
    ctx: typer.Context,
    importer: Annotated[str, IMPORTER],
    commodity: Annotated[str, COMMODITY],
    control: Annotated[str, typer.Option(help="Control measure id (registry).")],
    supplier: Annotated[str, typer.Option(help="Supplier subject to the control.")] = "CHN",
    third: Annotated[str, typer.Option(help="Third countries, ISO3, comma-separated.")
                     ] = "VNM,MYS,THA,KOR",
    months: Annotated[int, typer.Option(help="Months before and after the date.")] = 12,
    source: Annotated[Source, SOURCE] = Source.japan_customs,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """Rerouting signal: the supplier's direct share vs third countries' around a control."""
    settings = settings_of(ctx)
    commodities = load_commodities(settings.commodities_file)
    measure = require_measure(load_registry(settings.controls_dir, commodities), control)
    start = measure.effective or measure.announced
    countries = set(reference_countries()["iso3"])
    supplier = resolve_iso3(supplier, countries)
    with open_read(ctx) as con:
        iso3 = _importer(con, importer, source.value)
        flows = _commodity_flows(ctx, con, commodity, "source = ? AND reporter_iso3 = ? AND "
                                 "flow = 'import'", [source.value, iso3], None)
        ex = _commodity_flows(ctx, con, commodity, "source = ? AND reporter_iso3 = ? AND "
                              "flow = 'export'", [source.value, supplier], None)
    monthly = dependence.import_shares(flows, "value", "monthly")
    table = dependence.reroute_signal(monthly, start, supplier,
                                      tuple(resolve_iso3(t, countries) for t in third.split(",")
                                            if t.strip()),
                                      months, ex if ex.height else None)
    emit(table, fmt, title=f"{iso3} {commodity}: shares {months} months around {start} "
                           f"({measure.id})")


def reliance(
    ctx: typer.Context,
    commodity: Annotated[str, COMMODITY],
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """US net import reliance and apparent consumption as USGS publishes them (usgs_salient)."""
    with open_read(ctx) as con:
        table = read_query(con, """
            SELECT commodity, year, estimated, section, subsection, label, value, qualifier,
                   value_raw, unit_note, vintage FROM usgs_salient
            WHERE commodity = ? AND (section ILIKE '%reliance%' OR label ILIKE '%consumption%')
            ORDER BY label, year""", [commodity])
        if table.height == 0:
            known = [r[0] for r in con.execute(
                "SELECT DISTINCT commodity FROM usgs_salient").fetchall()]
            if not known:
                raise ChokeholdError("the warehouse holds no USGS data (usgs_salient is empty); "
                                     "load a Mineral Commodity Summaries file with "
                                     "`chokehold refresh --source usgs --path FILE`")
            raise UnknownValueError("commodity (in usgs_salient; load USGS with "
                                    "`chokehold refresh --source usgs --path FILE`)",
                                    commodity, known)
    emit(table, fmt, title=f"US net import reliance: {commodity} (USGS MCS)")


def register(app: typer.Typer) -> None:
    for command in (shares, screen, mirror, reroute, reliance):
        trade_app.command()(command)
    app.add_typer(trade_app, name="trade")
