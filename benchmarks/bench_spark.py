"""Benchmark: the global screen on Spark local mode vs the one-machine DuckDB path, same files.

Generates full-scale BACI-shaped years (~11 million rows each) with baci_shaped's generator and
writes them in the lake layout (``baci_flows/hs_revision=HS17/year=Y/<hash>.parquet`` and
``_current.json``; years after the first are the same triples with values redrawn). Then, on
one and on three years:

  screen_spark_local     chokehold on Spark local[2] (session already started): read the listed
                         files, the kernel per (revision, year, hs6 % 32) group, the full result
                         written as Parquet, the top 50 rows collected;
  baseline               the DuckDB path: read_parquet of the same files, the same kernel per
                         revision and year, sorted, the full result written as Parquet.
  spark_session_start    starting the local[2] session vs opening DuckDB and counting a file.
  shares_spark_local     partner shares and HHI of every importer x commodity group of the
                         newest year on Spark (the share kernel per importer % 32 group, the
                         full result written, the top 50 collected) vs DuckDB reading the same
                         file joined to the groups' lines and the same kernel once. The groups:
                         ten synthetic ones, ``g<d>`` = the lines with hs6 % 100 == d (10% of
                         the lines; the real groups cover a few dozen lines, too few to load
                         anything).

Peak RSS is of the whole process tree (this Python, the JVM, Spark's Python workers), sampled
every 100 ms. Prints ``BENCH <name> chokehold_s=<x> baseline_s=<y> ratio=<y/x> peak_mb=<m>``.
Run: ``.venv/bin/python benchmarks/bench_spark.py [--rows N] [--years 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import baci_shaped  # noqa: E402
from baci_shaped import PeakRss, bench  # noqa: E402

from tests.lake import publish, write_partition  # noqa: E402

LAKE = baci_shaped.SCRATCH / "lake"
WORK = baci_shaped.SCRATCH / "spark_work"
FIRST_YEAR = baci_shaped.YEAR - 2


def build_lake(rows: int, n_years: int) -> list[int]:
    """The lake of ``n_years`` HS17 years from the BACI-shaped CSV (generated once)."""
    baci_shaped.generate(rows)
    years = list(range(FIRST_YEAR, FIRST_YEAR + n_years))
    stamp = LAKE / f".built-{rows}-{n_years}"
    if stamp.exists():
        return years
    shutil.rmtree(LAKE, ignore_errors=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    entries = []
    for n, year in enumerate(years):
        value = "v * 1000" if n == 0 else "round(exp(random() * 12) / 10, 3) * 1000"
        flows = con.sql(f"""
            SELECT CAST(i AS SMALLINT) AS exporter_code, CAST(j AS SMALLINT) AS importer_code,
                   CAST(k AS INTEGER) AS hs6, CAST({value} AS DOUBLE) AS value_usd,
                   TRY_CAST(trim(q) AS DOUBLE) AS qty
            FROM read_csv('{baci_shaped.DATA}', header = true,
                          types = {{'k': 'VARCHAR', 'q': 'VARCHAR'}})""").to_arrow_table()
        entries.append(write_partition(LAKE, "HS17", year, flows))
        print(f"# lake: HS17 {year}: {flows.num_rows:,} rows", flush=True)
        del flows
    publish(LAKE, entries)
    stamp.touch()
    return years


def countries() -> pa.Table:
    """BACI code -> ISO3 from the generator's country_codes CSV."""
    table = duckdb.sql(f"SELECT CAST(country_code AS INTEGER) AS code, country_iso3 AS iso3 "
                       f"FROM read_csv('{baci_shaped.COUNTRIES}')").to_arrow_table()
    return table.cast(pa.schema([("code", pa.int32()), ("iso3", pa.string())]))


def duckdb_path(years: list[int], names: pa.Table, out: Path) -> float:
    """The one-machine path on the same files: read_parquet, kernel, sort, write Parquet."""
    import json

    import polars as pl

    from chokehold.analysis.dependence import screen_kernel

    entries = [e for e in json.loads((LAKE / "_current.json").read_text())["tables"]["baci_flows"]
               if e["year"] in years]
    start = time.perf_counter()
    con = duckdb.connect()
    screens = [screen_kernel(con.sql(f"SELECT importer_code, exporter_code, hs6, value_usd "
                                     f"FROM read_parquet('{LAKE / e['path']}')").to_arrow_table(),
                             names, year=e["year"], hs_revision=e["hs_revision"])
               for e in entries]
    result = pl.from_arrow(pa.concat_tables(screens)).sort(
        ["imports_usd", "importer_iso3", "hs_code"], descending=[True, False, False])
    pq.write_table(result.to_arrow(), out)
    elapsed = time.perf_counter() - start
    print(f"# duckdb path: {result.height:,} rows in {elapsed:.2f} s", flush=True)
    return elapsed


def spark_path(spark, years: list[int], names: pa.Table, out: Path) -> float:
    from chokehold.analysis.spark import run_screen

    start = time.perf_counter()
    top = run_screen(spark, str(LAKE), years, names, output=str(out), top=50)
    elapsed = time.perf_counter() - start
    print(f"# spark path: top {top.height} rows in {elapsed:.2f} s", flush=True)
    return elapsed


def share_lines() -> pa.Table:
    """Ten synthetic commodity groups over the lake's lines (hs6 % 100 == d, d < 10)."""
    lines = duckdb.sql(f"""
        SELECT DISTINCT 'g' || CAST(hs6 % 100 AS VARCHAR) AS commodity_id,
               'HS17' AS hs_revision, hs6
        FROM read_parquet('{LAKE}/baci_flows/**/*.parquet') WHERE hs6 % 100 < 10""")
    return lines.to_arrow_table().cast(pa.schema([("commodity_id", pa.string()),
                                                  ("hs_revision", pa.string()),
                                                  ("hs6", pa.int32())]))


def duckdb_shares(year: int, lines: pa.Table, names: pa.Table, out: Path) -> float:
    """The one-machine path: DuckDB reads the year's file joined to the lines, the share kernel
    once, the result written as Parquet."""
    import json

    from chokehold.analysis.shares import shares_kernel

    entry = next(e for e in json.loads((LAKE / "_current.json").read_text())["tables"]
                 ["baci_flows"] if e["year"] == year)
    start = time.perf_counter()
    con = duckdb.connect()
    con.register("lines", lines)
    flows = con.sql(f"""SELECT l.commodity_id, f.importer_code, f.exporter_code, f.value_usd,
                               f.qty
                        FROM read_parquet('{LAKE / entry['path']}') f
                        JOIN lines l ON l.hs6 = f.hs6""").to_arrow_table()
    result = shares_kernel(flows, names, year=year, hs_revision=entry["hs_revision"])
    pq.write_table(result, out)
    elapsed = time.perf_counter() - start
    print(f"# duckdb shares: {result.num_rows:,} rows in {elapsed:.2f} s", flush=True)
    return elapsed


def spark_shares(spark, year: int, lines: pa.Table, names: pa.Table, out: Path) -> float:
    from chokehold.analysis.spark import run_shares

    start = time.perf_counter()
    top = run_shares(spark, str(LAKE), [year], lines, names, output=str(out), top=50)
    elapsed = time.perf_counter() - start
    print(f"# spark shares: top {top.height} rows in {elapsed:.2f} s", flush=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=11_000_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--only", choices=["screen", "shares"], help="one job (default both)")
    args = parser.parse_args()
    from chokehold.analysis.spark import local_session

    years = build_lake(args.rows, args.years)
    names = countries()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with PeakRss(tree=True, interval=0.1) as mem:
        start = time.perf_counter()
        spark = local_session("local[2]", local_dir=WORK / "spark", driver_memory="2g")
        session_s = time.perf_counter() - start
    start = time.perf_counter()
    duckdb.connect().sql(f"SELECT count(*) FROM read_parquet('{LAKE}/baci_flows/**/*.parquet')"
                         ).fetchall()
    bench("spark_session_start", session_s, time.perf_counter() - start, mem.mb)
    try:
        for name, chosen in (("screen_spark_local", years[-1:]), ("screen_spark_local_3y", years)):
            if (name.endswith("3y") and len(years) < 3) or args.only == "shares":
                continue
            base = duckdb_path(chosen, names, WORK / f"{name}_duckdb.parquet")
            with PeakRss(tree=True, interval=0.1) as mem:
                ours = spark_path(spark, chosen, names, WORK / name)
            bench(name, ours, base, mem.mb)
        if args.only != "screen":
            lines = share_lines()
            base = duckdb_shares(years[-1], lines, names, WORK / "shares_duckdb.parquet")
            with PeakRss(tree=True, interval=0.1) as mem:
                ours = spark_shares(spark, years[-1], lines, names, WORK / "shares")
            bench("shares_spark_local", ours, base, mem.mb)
    finally:
        spark.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
