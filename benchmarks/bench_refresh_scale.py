"""Benchmark: the refresh at the size of real BACI releases (issue 12).

Builds the offline (embedded) warehouse, refreshes one small FX file on it (the baseline),
then loads BACI-shaped years one by one (``chokehold refresh --source baci --path``; the
year files come from baci_shaped's generator, one per year) and, with three years loaded,
refreshes a small FX file again; then diffs the two newest vintages and, with five years
loaded, screens them all (``chokehold trade screen --years``). Every step is a fresh CLI
process, timed, its peak RSS read from ``wait4``. Prints

  BENCH refresh_small_at_scale     small FX refresh at 3 BACI years vs on the embedded data
  BENCH vintage_bytes_small_at_scale   disk that refresh added (vintage + lake) vs embedded
  BENCH diff_small_at_scale        ``diff --from previous --to latest`` after it (vs the same
                                   diff on the embedded warehouse)
  BENCH baci_year_load_flat        the third year's load vs the first's
  BENCH screen_years_at_scale      ``trade screen --years`` over five years (peak RSS)

Run: ``.venv/bin/python benchmarks/bench_refresh_scale.py [--rows N] [--years 5]`` (full
scale, 11 M rows a year, takes several minutes and ~3 GB of disk under benchmarks/_scratch).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import baci_shaped  # noqa: E402  (the BACI-shaped generator)

SCRATCH = HERE / "_scratch" / "scale"
FIRST_YEAR = 2019
CLI = [str(Path(sys.executable).with_name("chokehold"))]
CPU: dict[str, float] = {}
DIFF = ["diff", "--from", "previous", "--to", "latest"]


LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss,
      usage.ru_utime + usage.ru_stime)
"""
"""Runs one command and reports its exit code, seconds, peak RSS (KB) and CPU seconds. Linux
keeps a process's peak RSS across exec, and a child started from this (large) process starts
from this process's: so the CLI is started from this small launcher, whose own children start
from nothing."""


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run the CLI in a fresh process: (seconds, peak RSS in MB); its CPU seconds (user +
    system, which a busy shared machine inflates less than wall time) go to ``CPU[args]``."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *CLI, *args], env=env,
                          capture_output=True, text=True, check=False)
    code, elapsed, peak_kb, cpu = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"chokehold {' '.join(args)} failed ({code}): {done.stderr}")
    CPU[" ".join(args)] = float(cpu)
    return float(elapsed), int(peak_kb) / 1024


def year_files(rows: int, years: int) -> list[Path]:
    """One BACI-shaped CSV per year: the generator's year, re-dated, values nudged."""
    baci_shaped.generate(rows)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    shutil.copy(baci_shaped.COUNTRIES, SCRATCH / baci_shaped.COUNTRIES.name)
    out = []
    with duckdb.connect() as con:
        for k in range(years):
            year = FIRST_YEAR + k
            target = SCRATCH / f"BACI_HS17_Y{year}_V209901.csv"
            out.append(target)
            if target.exists() and target.stat().st_size > rows * 20:
                continue
            factor = 1 + k / 50
            con.execute(f"""COPY (
                SELECT {year} AS t, i, j, k, round(CAST(v AS DOUBLE) * {factor}, 3) AS v, q
                FROM read_csv('{baci_shaped.DATA}', all_varchar = true))
                TO '{target}' (HEADER, DELIMITER ',')""")
    return out


def fx_file(folder: Path, days: int, shift: float) -> Path:
    """A FRED daily file of ``days`` rates (a few hundred rows: the small refresh)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "DEXJPUS.csv"
    lines = ["observation_date,DEXJPUS"]
    for d in range(days):
        day = time.strftime("%Y-%m-%d", time.gmtime(1_704_067_200 + 86_400 * d))
        lines.append(f"{day},{140 + shift + d / 100:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def disk_bytes(*folders: Path) -> int:
    return sum(p.stat().st_size for f in folders if f.exists() for p in f.rglob("*")
               if p.is_file())


def bench(name: str, ours: float, base: float, **extra: float) -> None:
    fields = " ".join(f"{k}={v:.0f}" if k.endswith("_mb") else f"{k}={v:.2f}"
                      for k, v in extra.items())
    print(f"BENCH {name} chokehold_s={ours:.2f} baseline_s={base:.2f} ratio={base / ours:.2f} "
          f"{fields}".rstrip(), flush=True)


def small_refresh(env: dict[str, str], warehouse: Path, shift: float) -> tuple[float, float, int]:
    """One small FX refresh: seconds, peak MB, bytes it added to vintages and lake."""
    folders = (warehouse.parent / "vintages", warehouse.parent / "lake")
    before = disk_bytes(*folders)
    path = fx_file(warehouse.parent / "fx", 300, shift)
    seconds, peak = run(["refresh", "--source", "fx", "--path", str(path)], env)
    return seconds, peak, disk_bytes(*folders) - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=11_000_000, help="rows per BACI year")
    parser.add_argument("--years", type=int, default=5, help="BACI years to load (>= 3)")
    args = parser.parse_args()
    files = year_files(args.rows, args.years)
    work = SCRATCH / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)  # the CLI builds a warehouse only in an existing folder
    warehouse = work / "warehouse.duckdb"
    env = {**os.environ, "CHOKEHOLD_WAREHOUSE": str(warehouse),
           "CHOKEHOLD_CONFIG": str(work / "none.toml")}
    seconds, peak = run(["refresh", "--offline"], env)
    print(f"# embedded warehouse built in {seconds:.1f} s (peak {peak:.0f} MB)", flush=True)
    small_refresh(env, warehouse, 0.0)  # the first FX file: both runs below replace one
    base_s, base_mb, base_bytes = small_refresh(env, warehouse, 1.0)
    print(f"# small refresh, embedded: {base_s:.2f} s, {base_mb:.0f} MB, "
          f"{base_bytes / 1e6:.2f} MB added", flush=True)
    base_diff_s, _ = run(DIFF, env)
    base_diff_cpu = CPU[" ".join(DIFF)]
    loads = []
    for n, path in enumerate(files, 1):
        seconds, peak = run(["refresh", "--source", "baci", "--path", str(path)], env)
        loads.append((seconds, peak))
        print(f"# BACI year {n} ({path.name}) loaded in {seconds:.1f} s, peak {peak:.0f} MB, "
              f"lake {disk_bytes(work / 'lake') / 1e6:,.0f} MB", flush=True)
        if n == 3:
            ours_s, ours_mb, ours_bytes = small_refresh(env, warehouse, 2.0)
            bench("refresh_small_at_scale", ours_s, base_s, peak_mb=ours_mb,
                  baseline_peak_mb=base_mb)
            print(f"BENCH vintage_bytes_small_at_scale chokehold_mb={ours_bytes / 1e6:.2f} "
                  f"baseline_mb={base_bytes / 1e6:.2f} ratio={base_bytes / ours_bytes:.2f}",
                  flush=True)
            diff_s, diff_mb = run(DIFF, env)
            bench("diff_small_at_scale", diff_s, base_diff_s, peak_mb=diff_mb,
                  cpu_s=CPU[" ".join(DIFF)], baseline_cpu_s=base_diff_cpu)
            bench("baci_year_load_flat", loads[2][0], loads[0][0], peak_mb=max(
                p for _, p in loads[:3]), first_peak_mb=loads[0][1], third_peak_mb=loads[2][1])
    if len(files) >= 5:
        last = FIRST_YEAR + len(files) - 1
        screen_s, screen_mb = run(["trade", "screen", "--years", f"{FIRST_YEAR}-{last}",
                                   "--top", "5", "--format", "csv"], env)
        print(f"BENCH screen_years_at_scale chokehold_s={screen_s:.2f} peak_mb={screen_mb:.0f} "
              f"years={len(files)}", flush=True)  # a memory target: no baseline
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
