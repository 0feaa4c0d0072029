"""reported_flows in the lake: m0014 moves an m0013-era warehouse's table (rows in DuckDB,
published copies by source, frequency and reporter) into partitions by year too, and every
reader sees the same frames before and after; loads stay idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from chokehold.analysis import read
from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.pipelines import japan_customs
from chokehold.warehouse import lake, load_frame, open_warehouse, read_query
from chokehold.warehouse.schema import spec
from chokehold.warehouse.staging import integrity_problems

SAMPLE = PROJECT_ROOT / "data" / "samples" / "japan_customs" / "japan_customs_2024.csv"


def comtrade_like(values: list[float], vintage: str) -> pl.DataFrame:
    """Annual Korean imports over three years, as the Comtrade connector loads them."""
    return pl.DataFrame({
        "reporter_iso3": "KOR", "partner_iso3": ["CHN", "VNM", "CHN"], "flow": "import",
        "period": [date(2022, 1, 1), date(2022, 1, 1), date(2023, 1, 1)], "freq": "A",
        "hs_code": "280530", "hs_revision": "HS17", "value_usd": values,
        "qty": [1.0, None, 2.0], "qty_unit": ["t", None, "t"], "source": "comtrade",
        "vintage": vintage})


def make_m0013_era(path: Path) -> None:
    """As m0013 left a warehouse: reported_flows a DuckDB table holding the rows, published to
    the lake by source, frequency and reporter, and no m0014."""
    with open_warehouse(path) as con:
        root = lake.root(con)
        con.execute("CREATE TABLE _rows AS SELECT * FROM reported_flows")
        con.execute("DROP VIEW reported_flows")
        con.execute(spec("reported_flows").ddl())
        con.execute("INSERT INTO reported_flows SELECT * FROM _rows")
        con.execute("DROP TABLE _rows")
        con.execute("DELETE FROM lake_files WHERE table_name = 'reported_flows'")
        for source, freq, reporter in con.execute(
                "SELECT DISTINCT source, freq, reporter_iso3 FROM reported_flows").fetchall():
            part = lake.part_dir("reported_flows", source=source, freq=freq,
                                 reporter_iso3=reporter)
            tmp = lake.write_temp(con, root, part, "SELECT * FROM reported_flows WHERE source = "
                                  f"'{source}' AND freq = '{freq}' AND reporter_iso3 = "
                                  f"'{reporter}' ORDER BY ALL")
            lake.record(con, lake.seal(con, root, "reported_flows", part, tmp, None))
        con.execute("DELETE FROM schema_migrations WHERE id = '0014_reported_lake'")


def readers(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """What the read layer and the CLI read of reported trade."""
    return {
        "trade_flows": read_query(con, "SELECT * FROM trade_flows WHERE source <> 'baci' "
                                       "ORDER BY ALL"),
        "baci": read_query(con, "SELECT hs_revision, count(*) AS n, sum(value_usd) AS v "
                                "FROM trade_flows WHERE source = 'baci' GROUP BY 1"),
        "japan": read.commodity_flows(con, "rare_earths", source="japan_customs",
                                      reporter="JPN", freq="M").sort(pl.all()),
        "japan_shares": read.import_shares(con, "JPN", "rare_earths", source="japan_customs",
                                           freq="monthly").sort(pl.all()),
        "korea": read.commodity_flows(con, "rare_earths", source="comtrade",
                                      reporter="KOR").sort(pl.all()),
        "latest": read.latest_periods(con),
        "revisions": read_query(con, "SELECT * EXCLUDE (recorded_at) FROM revisions "
                                     "ORDER BY ALL"),
        "national": read_query(con, "SELECT * FROM trade_flows_national ORDER BY ALL"),
    }


def test_m0014_moves_reported_flows_and_readers_see_the_same_frames(
        warehouse_copy: Path) -> None:
    settings = load_settings(warehouse=warehouse_copy)
    with open_warehouse(warehouse_copy) as con:
        japan_customs.refresh(con, settings, path=[SAMPLE])
        load_frame(con, "reported_flows", comtrade_like([1.0, 2.0, 3.0], "v1"),
                   source_id="comtrade", vintage="v1")
        load_frame(con, "reported_flows", comtrade_like([1.0, 2.5, 3.0], "v2"),
                   source_id="comtrade", vintage="v2")
    make_m0013_era(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as old:  # no migration: as it was
        kind = old.execute("SELECT table_type FROM information_schema.tables "
                           "WHERE table_name = 'reported_flows'").fetchall()
        before = readers(old)
    assert kind == [("BASE TABLE",)] and before["trade_flows"].height > 20
    assert before["revisions"].filter(pl.col("table_name") == "reported_flows").height == 1

    with open_warehouse(warehouse_copy, read_only=True) as con:  # upgrades, then reads
        after = readers(con)
        kind = con.execute("SELECT table_type FROM information_schema.tables "
                           "WHERE table_name = 'reported_flows'").fetchall()
        entries = lake.catalog(con, "reported_flows")
        applied = con.execute("SELECT id FROM schema_migrations WHERE id = '0014_reported_lake'"
                              ).fetchall()
        assert integrity_problems(con) == []
    for name, frame in before.items():  # the rows exactly; shares (sums of floats, whose
        # order Polars does not fix) to the last few bits
        exact = name != "japan_shares"
        assert_frame_equal(after[name], frame, check_exact=exact, rel_tol=1e-12, abs_tol=0)
    assert min(before[n].height for n in ("japan", "japan_shares", "korea", "latest")) > 0
    assert kind == [("VIEW",)] and applied == [("0014_reported_lake",)]
    root = warehouse_copy.parent / "lake"
    assert [e.part for e in entries] == [
        "reported_flows/source=comtrade/freq=A/reporter_iso3=KOR/year=2022",
        "reported_flows/source=comtrade/freq=A/reporter_iso3=KOR/year=2023",
        "reported_flows/source=japan_customs/freq=M/reporter_iso3=JPN/year=2024"]
    assert sum(e.rows for e in entries) == before["trade_flows"].height
    for entry in entries:
        assert entry.path == f"{entry.part}/{entry.sha256}.parquet"
        assert (root / entry.path).exists()

    # Loads stay idempotent on the moved partitions: the same file again changes nothing.
    with open_warehouse(warehouse_copy) as con:
        results = japan_customs.refresh(con, settings, path=[SAMPLE])
        flows = next(r for r in results if r.table == "reported_flows")
        assert lake.catalog(con, "reported_flows") == entries
        assert_frame_equal(readers(con)["japan"], before["japan"])
    assert not flows.changed and flows.rows_unchanged == flows.rows_in > 0
