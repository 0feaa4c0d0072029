"""commodities records each group's preferred production source, its unit and basis.

Production is never summed across sources (World Mining Data and USGS count different things
in different units); ``analysis.read.production`` reads the source named here unless a caller
asks for another. The reference source fills the columns from data/commodities.yaml.
"""

from __future__ import annotations

import duckdb

DESCRIPTION = "commodities: production_source, production_unit, production_basis"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    for column in ("production_source", "production_unit", "production_basis"):
        con.execute(f"ALTER TABLE commodities ADD COLUMN IF NOT EXISTS {column} VARCHAR")
