"""Benchmark the exposure scenarios at realistic scale against a pure-Python loop of the model.

1. One control x importer x commodity (cn-2025-18 x JPN x rare_earths): 100,000 draws x 24
   months, the whole run (sampling, paths, monthly bands, summary, tornado on the same draws).
2. The full matrix: every measure with a licence regime (whatever its status) x 10 importers x
   every commodity it covers, 10,000 draws each.

Baseline: `simulate_reference`, the same model one draw and one month at a time in plain Python,
timed on fewer draws and scaled linearly (it is linear in draws), path simulation only, so the
baseline is favoured (no bands, summaries or tornado).

Uses the warehouse at CHOKEHOLD_WAREHOUSE (or data/warehouse.duckdb); builds the offline
warehouse in a temporary folder when there is none.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np

from chokehold.analysis import read
from chokehold.analysis.scenarios import store
from chokehold.analysis.scenarios.exposure import exposure_matrix, modelled, resolve_for
from chokehold.analysis.scenarios.model import run, sample, simulate, simulate_reference
from chokehold.analysis.scenarios.spec import load_scenario
from chokehold.commodities import load_commodities
from chokehold.config import load_settings
from chokehold.errors import ChokeholdError
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines.refresh import run_sources
from chokehold.registry import load_registry
from chokehold.warehouse import open_warehouse

IMPORTERS = ["JPN", "USA", "KOR", "DEU", "FRA", "GBR", "ITA", "IND", "TWN", "VNM"]


def warehouse() -> Path:
    settings = load_settings()
    if settings.warehouse.exists():
        return settings.warehouse
    path = Path(tempfile.mkdtemp()) / "warehouse.duckdb"
    print(f"# building the offline warehouse in {path}")
    with open_warehouse(path, create=True) as con:
        run_sources(con, load_settings(warehouse=path), OFFLINE_SOURCES, show_progress=False)
    return path


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def bench(name: str, fast, slow_small, scale: float) -> None:
    chokehold_s = timed(fast)
    baseline_s = timed(slow_small, repeat=1) * scale
    print(f"BENCH {name} chokehold_s={chokehold_s:.3f} baseline_s={baseline_s:.3f} "
          f"ratio={baseline_s / chokehold_s:.1f} peak_mb={peak_mb(fast):.0f}")


def main() -> None:
    settings = load_settings(warehouse=warehouse())
    spec = load_scenario(settings.data_dir / "scenarios", "base")
    commodities = load_commodities(settings.commodities_file)
    registry = load_registry(settings.controls_dir, commodities)
    with open_warehouse(settings.warehouse, read_only=True) as con:
        revision = read.trade_revision(con)
        lines = sorted({line for c in commodities.values() for line in c.lines(revision)})
        flows = store.load_flows(con, lines, IMPORTERS, revision)
        production = store.load_production(con)
    horizon = spec.horizon()

    measure = registry["cn-2025-18-medium-heavy-rare-earths"]
    params, applies = resolve_for(spec, measure, commodities["rare_earths"], "JPN", flows,
                                  production, revision)
    draws, small = 100_000, 2_000
    bench("scenario_run_100k_draws_24_months",
          lambda: run(params, horizon=horizon, draws=draws, seed=1, applies=applies),
          lambda: simulate_reference(sample(params, small, 1), horizon), draws / small)

    measures = [m for m in registry.values() if modelled(m)]
    combos = [(m, c, i) for m in measures for c in m.commodities for i in IMPORTERS]
    resolvable = []
    for m, c, i in combos:
        try:
            resolvable.append(resolve_for(spec, m, commodities[c], i, flows, production,
                                          revision)[0])
        except ChokeholdError:  # rows without data are reported, not simulated
            continue
    per_row = 100

    def matrix() -> None:
        exposure_matrix(spec, measures, commodities, IMPORTERS, flows, production, revision,
                        as_of=date(2026, 2, 1), draws=10_000, seed=1, in_force_only=False)

    def baseline() -> None:
        for p in resolvable:
            simulate_reference(sample(p, per_row, 1), horizon)

    print(f"# matrix: {len(measures)} measures x {len(IMPORTERS)} importers x covered "
          f"commodities = {len(combos)} rows, {len(resolvable)} with data simulated")
    bench("scenario_matrix_10k_draws", matrix, baseline, 10_000 / per_row)
    x = sample(params, 50, 7)  # the two implementations agree on the benchmarked case
    np.testing.assert_allclose(simulate(x, horizon).unmet_t, simulate_reference(x, horizon),
                               atol=1e-6)

if __name__ == "__main__":
    main()
