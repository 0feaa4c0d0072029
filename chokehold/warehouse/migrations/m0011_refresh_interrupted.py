"""refresh_runs may record a run stopped by SIGINT or SIGTERM: status 'interrupted'."""

from __future__ import annotations

import duckdb

from chokehold.warehouse.schema import spec

DESCRIPTION = "refresh_runs: status 'interrupted' (a run stopped by a signal; nothing published)"


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild refresh_runs with the wider status check (DuckDB cannot alter a CHECK)."""
    ddl = spec("refresh_runs").ddl("refresh_runs_m0011")
    con.execute(ddl)
    con.execute("INSERT INTO refresh_runs_m0011 BY NAME SELECT * FROM refresh_runs")
    con.execute("DROP TABLE refresh_runs")
    con.execute("ALTER TABLE refresh_runs_m0011 RENAME TO refresh_runs")
