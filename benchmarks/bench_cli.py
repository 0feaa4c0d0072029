"""Benchmark: how long the ``chokehold`` command takes to answer, start-up included (issue 14).

  cli_startup              ``chokehold --help`` and ``chokehold status`` on the offline warehouse
                           (the slower of the two medians is chokehold_s), vs ``python -c "import
                           typer"``, the floor of any typer command. Target: under 0.5 s.
  refresh_nothing_new_cli  ``chokehold refresh --offline`` when no input changed, through the
                           command (what cron sees), vs ``--help``. Target: under 1 s.

Prints ``BENCH <name> chokehold_s=<x> baseline_s=<y> ratio=<y/x> ...`` lines; each figure is the
median of a few runs in one process tree, so ratios hold on a busy machine. The project's modules
are byte-compiled first, as ``make setup`` / ``make bytecode`` leave them.
Run: ``.venv/bin/python benchmarks/bench_cli.py``.
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRATCH = HERE / "_scratch" / "cli"
CHOKEHOLD = Path(sys.executable).parent / "chokehold"


def median_seconds(args: list[str], runs: int = 5) -> float:
    """The median wall time of ``args`` (each must exit 0)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    for package in ("chokehold", "pipelines", "analysis"):
        compileall.compile_dir(HERE.parent / package, quiet=1)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    warehouse = str(SCRATCH / "warehouse.duckdb")
    cli = [str(CHOKEHOLD), "--warehouse", warehouse]
    subprocess.run([*cli, "refresh", "--offline"], check=True, capture_output=True)
    floor = median_seconds([sys.executable, "-c", "import typer"])
    help_s = median_seconds([str(CHOKEHOLD), "--help"])
    status_s = median_seconds([*cli, "status"])
    slower = max(help_s, status_s)
    print(f"BENCH cli_startup chokehold_s={slower:.3f} baseline_s={floor:.3f} "
          f"ratio={floor / slower:.2f} help_s={help_s:.3f} status_s={status_s:.3f} target_s=0.5")
    refresh_s = median_seconds([*cli, "refresh", "--offline"], runs=3)
    print(f"BENCH refresh_nothing_new_cli chokehold_s={refresh_s:.3f} baseline_s={help_s:.3f} "
          f"ratio={help_s / refresh_s:.2f} target_s=1.0")
    shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
