"""Unit factors become data: the table ``units`` (from data/units.yaml), which the view
``price_units`` (warehouse/views.py) reads; ``price_observations`` records the published unit and its scale
(万元/吨 is 10,000 CNY per tonne)."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "units table (data/units.yaml) behind price_units; price_observations.published_unit, scale"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    from chokehold.pipelines.price_units import units_frame  # (Polars: only when it runs)

    con.execute(spec("units").ddl())
    if not con.execute("SELECT count(*) FROM units").fetchall()[0][0]:
        # Seeded so an upgraded warehouse converts prices before its next refresh reloads it.
        con.register("_units_seed", units_frame().to_arrow())
        con.execute("INSERT INTO units SELECT unit, units_per_tonne, converted_basis, spellings, "
                    "source FROM _units_seed")
        con.unregister("_units_seed")
    con.execute("ALTER TABLE price_observations ADD COLUMN IF NOT EXISTS published_unit VARCHAR")
    con.execute("ALTER TABLE price_observations ADD COLUMN IF NOT EXISTS scale DOUBLE")
