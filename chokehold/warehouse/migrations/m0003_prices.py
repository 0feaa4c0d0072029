"""Prices beyond the contract tables: series, observations as published, loaded files, FX sets,
VAT; and the views prices_usd, fx_daily, fx_monthly and price_gap."""

from __future__ import annotations

import duckdb

from chokehold.analysis.price_gap import view_statements
from chokehold.warehouse.schema import spec

DESCRIPTION = "prices: price_series, price_observations, price_files, fx_series, vat_rates; price_gap views"

TABLES = ("price_series", "price_observations", "price_files", "fx_series", "vat_rates")


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
    con.execute(spec("units").ddl())  # price_units reads it (m0012 made unit factors data)
    for statement in view_statements():
        con.execute(statement)
