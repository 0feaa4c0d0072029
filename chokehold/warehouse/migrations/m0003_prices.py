"""Prices beyond the contract tables: series, observations as published, loaded files, FX sets,
VAT. (Their views, prices_usd, fx_daily, fx_monthly and price_gap, live in warehouse/views.py.)"""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "prices: price_series, price_observations, price_files, fx_series, vat_rates; price_gap views"

TABLES = ("price_series", "price_observations", "price_files", "fx_series", "vat_rates")


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
