"""Trade and dependence commands: shares, screen, mirror, reroute, reliance."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import duckdb
import polars as pl
import typer

from chokehold.analysis import dependence, read
from chokehold.analysis.defaults import REROUTE_THIRD_COUNTRIES, SUPPLIER
from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, open_read, settings_of
from chokehold.commodities import load_commodities, require_commodity
from chokehold.countries import reference_countries, resolve_iso3
from chokehold.coverage import require_lines
from chokehold.errors import ChokeholdError, UnknownValueError
from chokehold.registry import load_registry, require_measure

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
    known = read.importers(con, source, flow)
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
                     revision: str | None, **where: str) -> pl.DataFrame:
    """``read.commodity_flows`` of a commodity the commodities file knows."""
    require_commodity(load_commodities(settings_of(ctx).commodities_file), commodity)
    return read.commodity_flows(con, commodity, revision=revision,
                                prefer=settings_of(ctx).hs_revision, **where)


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


ENGINE = typer.Option(help="duckdb (the warehouse) or spark (the lake's Parquet files; "
                      "docs/spark.md).")
MASTER = typer.Option(help="Spark: start a session, e.g. 'local[2]'.")
REMOTE = typer.Option(help="Spark Connect URL, sc://HOST:15002.")
LAKE = typer.Option("--input", help="Spark: the lake URI.")
SPARK_RESULT = typer.Option(help="Spark: write all rows as Parquet here (any URI; --output "
                           "stays the listing's file).")
COUNTRIES = typer.Option(help="Spark: BACI country_codes CSV for names (default: the "
                         "warehouse's).")


def shares(
    ctx: typer.Context,
    importer: Annotated[str | None, IMPORTER] = None,
    commodity: Annotated[str | None, COMMODITY] = None,
    freq: Annotated[Freq, typer.Option(help="annual, monthly or rolling12.")] = Freq.annual,
    source: Annotated[Source, SOURCE] = Source.baci,
    basis: Annotated[Basis, typer.Option(help="Shares of value (USD) or quantity (t).")
                     ] = Basis.value,
    revision: Annotated[str | None, REVISION] = None,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
    engine: Annotated[Engine, ENGINE] = Engine.duckdb,
    years: Annotated[str | None, typer.Option(help="Spark: the years, e.g. 1995-2024.")] = None,
    top: Annotated[int, typer.Option(min=1, help="Spark: rows to show.")] = 50,
    master: Annotated[str | None, MASTER] = None,
    remote: Annotated[str | None, REMOTE] = None,
    lake: Annotated[str | None, LAKE] = None,
    result: Annotated[str | None, SPARK_RESULT] = None,
    countries: Annotated[str | None, COUNTRIES] = None,
) -> None:
    """Each partner's share of an importer's imports of a commodity group, with the HHI. With
    --engine spark: every importer x commodity group x year of the lake's BACI files (--importer
    and --commodity narrow it), all rows written to --result, the first --top shown."""
    if engine is Engine.spark:
        from chokehold import spark

        if source is not Source.baci or freq is not Freq.annual:
            raise ChokeholdError("--engine spark computes annual shares from the lake's BACI "
                                 "files: drop --source and --freq")
        table = spark.shares(settings_of(ctx), spark.parse_years(years or ""), output=result,
                             master=master, remote=remote, lake=lake, countries=countries,
                             hs_revision=revision, commodity=commodity, importer=importer,
                             basis=basis.value, top=top)
        emit(table.select(pl.date(pl.col("year"), 1, 1).alias("period"),
                          pl.col("importer_iso3").alias("reporter_iso3"),
                          pl.col("commodity_id").alias("commodity"), "partner_iso3", "value_usd",
                          "qty", "share", "hhi", pl.lit(basis.value).alias("basis"),
                          pl.lit(12, pl.Int32).alias("months"), pl.lit("baci").alias("source"),
                          "hs_revision"), fmt, title=f"Import shares {years} (spark, {basis.value})")
        return
    if importer is None or commodity is None:
        missing = "'--importer' / '-i'" if importer is None else "'--commodity' / '-c'"
        raise typer.BadParameter("required without --engine spark (which computes every "
                                 "importer and commodity group at once)", ctx=ctx,
                                 param_hint=missing)
    with open_read(ctx) as con:
        iso3 = _importer(con, importer, source.value)
        flows = _commodity_flows(ctx, con, commodity, revision, source=source.value,
                                 reporter=iso3)
        if flows.height == 0:
            good = require_commodity(load_commodities(settings_of(ctx).commodities_file),
                                     commodity)
            require_lines(con, good, source.value)
    if flows.height == 0:
        raise ChokeholdError(f"no {source.value} imports of {commodity} by {iso3}")
    table = dependence.import_shares(flows, basis.value, freq.value).with_columns(
        pl.lit(commodity).alias("commodity"), pl.lit(basis.value).alias("basis"))
    emit(table.select("period", "reporter_iso3", "commodity", "partner_iso3", "value_usd", "qty",
                      "share", "hhi", "basis", "months", "source"), fmt,
         title=f"{iso3} imports of {commodity} by partner ({source.value}, {basis.value}, "
               f"{', '.join(sorted(flows['hs_revision'].unique()))})")


def _year_range(text: str) -> list[int]:
    """``2019-2023`` or ``2019,2021`` -> the years."""
    try:
        if "-" in text:
            first, last = (int(p) for p in text.split("-", 1))
            years = list(range(first, last + 1))
        else:
            years = [int(p) for p in text.split(",")]
    except ValueError:
        years = []
    if not years:
        raise ChokeholdError(f"--years {text!r}: give a range like 2019-2023 (first year first) "
                             "or a list like 2019,2021")
    return years


def screen(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option(help="Year to screen.")] = None,
    years: Annotated[str | None, typer.Option(
        help="Several years, e.g. 2019-2023 (each in its own revision; with --engine spark, "
        "all in one job).")] = None,
    top: Annotated[int, typer.Option(min=1,
                                     help="Rows to show per year (largest imports first).")] = 50,
    source: Annotated[str, typer.Option(help="Source of bilateral trade.")] = "baci",
    revision: Annotated[str | None, REVISION] = None,
    importer: Annotated[str | None, typer.Option(help="Only this importer (ISO3).")] = None,
    dependent_only: Annotated[bool, typer.Option(
        "--dependent-only", help="Only lines flagged as dependencies.")] = False,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
    engine: Annotated[Engine, ENGINE] = Engine.duckdb,
    master: Annotated[str | None, MASTER] = None,
    remote: Annotated[str | None, REMOTE] = None,
    lake: Annotated[str | None, LAKE] = None,
    result: Annotated[str | None, SPARK_RESULT] = None,
    countries: Annotated[str | None, COUNTRIES] = None,
) -> None:
    """Every importer x HS6 line of a year: HHI, top supplier, EC SWD(2021) 352 flags
    (HHI > 0.4; imports > 50% of demand where known; imports / own exports > 1). Without
    --revision, a year held in several HS revisions is screened in the hs_revision setting's
    where it has it, else in the newest; the output names the revision."""
    if engine is Engine.spark:
        from chokehold import spark

        if source != "baci":
            raise ChokeholdError(f"--engine spark screens the lake's BACI files, not {source}")

        table = spark.screen(settings_of(ctx), spark.parse_years(years or str(year or "")),
                             master=master, remote=remote, lake=lake, output=result,
                             countries=countries, hs_revision=revision, top=top, importer=importer,
                             dependent_only=dependent_only)
        emit(table if fmt is not OutputFormat.table else table.select(
            "year", "hs_revision", "importer_iso3", "hs_code", "imports_usd", "hhi",
            "top_supplier", "top_share", "dependent"), fmt, title=f"Dependency screen {years}")
        return
    if (year is None) == (years is None):
        raise ChokeholdError("give --year YYYY or --years FIRST-LAST")
    tables, used = [], []
    with open_read(ctx) as con:
        for one in [year] if year is not None else _year_range(years):
            chosen = revision or dependence.screen_revision(
                con, one, source=source, prefer=settings_of(ctx).hs_revision)
            table = dependence.global_screen(con, one, source=source, hs_revision=chosen,
                                             limit=None if importer or dependent_only else top)
            if importer:
                table = table.filter(pl.col("importer_iso3") == _importer(con, importer, source))
            if dependent_only:
                table = table.filter(pl.col("dependent"))
            tables.append(table.head(top))
            used.append(f"{one} {chosen}")
        descriptions = read.hs_descriptions(con)
    table = dependence.with_descriptions(pl.concat(tables), descriptions)
    if fmt is OutputFormat.table:  # year and revision are in the title when there is one year
        table = table.select(*(["year"] if year is None else []), "importer_iso3", "hs_code",
                             "description", "imports_usd", "top_supplier", "top_share",
                             "dependent")
    emit(table, fmt, title=f"Dependency screen ({source}; {', '.join(used)})")


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
        m = _commodity_flows(ctx, con, commodity, revision, source=source, reporter=imp,
                             partner=exp)
        x = _commodity_flows(ctx, con, commodity, revision, source=source, reporter=exp,
                             partner=imp, flow="export")
    emit(dependence.mirror(m, x), fmt, title=f"{imp} imports from {exp} vs {exp}'s exports")


def reroute(
    ctx: typer.Context,
    importer: Annotated[str, IMPORTER],
    commodity: Annotated[str, COMMODITY],
    control: Annotated[str, typer.Option(help="Control measure id (registry).")],
    supplier: Annotated[str, typer.Option(help="Supplier subject to the control.")] = SUPPLIER,
    third: Annotated[str, typer.Option(help="Third countries, ISO3, comma-separated.")
                     ] = ",".join(REROUTE_THIRD_COUNTRIES),
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
        flows = _commodity_flows(ctx, con, commodity, None, source=source.value, reporter=iso3)
        ex = _commodity_flows(ctx, con, commodity, None, source=source.value,
                              reporter=supplier, flow="export")
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
        table = read.usgs_salient(con, commodity, reliance_only=False)
        if table.height == 0:
            known = read.usgs_commodities(con)
            if not known:
                raise ChokeholdError("the warehouse holds no USGS data (usgs_salient is empty); "
                                     "load a Mineral Commodity Summaries file with "
                                     "`chokehold refresh --source usgs --path FILE`")
            raise UnknownValueError("commodity (in usgs_salient; load USGS with "
                                    "`chokehold refresh --source usgs --path FILE`)",
                                    commodity, known)
    emit(table, fmt, title=f"US net import reliance: {commodity} (USGS MCS)")


def production(
    ctx: typer.Context,
    commodity: Annotated[str, COMMODITY],
    country: Annotated[str, typer.Option(help="Country whose share is shown, ISO3.")
                       ] = SUPPLIER,
    source: Annotated[str | None, typer.Option(
        help="Production source (default: the commodity's preferred one, "
        "data/commodities.yaml).")] = None,
    fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table,
) -> None:
    """A country's production and its share of world production, per year, from ONE source
    (production of different sources is never summed)."""
    with open_read(ctx) as con:
        choice = read.production_choice(con, commodity, source)
        table = read.production_shares(con, commodity, country.upper(), source=choice.source)
    if table.is_empty():
        raise ChokeholdError(f"no {choice.source or 'production'} rows for {commodity}")
    emit(table.with_columns(pl.lit(choice.source).alias("source")), fmt,
         title=f"{country.upper()} in world production of {commodity} ({choice.source}"
               f"{', ' + choice.basis if choice.basis else ''})")


def register(app: typer.Typer) -> None:
    for command in (shares, screen, mirror, reroute, reliance, production):
        trade_app.command()(command)
    app.add_typer(trade_app, name="trade")
