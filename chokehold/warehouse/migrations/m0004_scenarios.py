"""Exposure scenarios: saved runs with resolved parameters, monthly bands, exposure matrices."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "scenarios: scenario_runs, scenario_months, exposure_matrix"

TABLES = ("scenario_runs", "scenario_months", "exposure_matrix")


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for name in TABLES:
        con.execute(spec(name).ddl())
