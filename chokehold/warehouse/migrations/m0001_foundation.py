"""Provenance, reference tables, trade, prices, FX, production and the control registry."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "foundation: provenance, countries, commodities, trade, prices, fx, production, controls"

TABLES = (
    "sources", "vintages", "load_runs", "countries", "country_codes", "commodities",
    "commodity_hs", "prices", "fx_rates", "production",
    "control_measures", "control_status", "control_items",
)


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
    # trade_flows began as one table; m0007 splits it into reported_flows and baci_flows.
    con.execute(spec("reported_flows").ddl(name="trade_flows"))
