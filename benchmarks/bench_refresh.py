"""Benchmark: the scheduled refresh, at the scale of the embedded data.

Builds the full offline warehouse (BACI 1.26 million rows and the rest) in a scratch folder
with ``refresh_warehouse``, then times

  nothing_new      a refresh when no input changed (every source skipped by its fingerprint:
                   lock, fingerprints, copy, run record, atomic swap) vs the same refresh with
                   ``--force`` (every source re-read and merged: what it would cost without
                   fingerprints). Target: under 2 s.
  nothing_new_cli  the same through the ``chokehold`` command, interpreter start-up and imports
                   included (what cron sees), vs the in-process time.
  comtrade_24m     24 new months for 30 reporters x 8 commodities from a loopback Comtrade
                   server, vs the rate-limit floor (requests x comtrade_min_interval_s). Target:
                   ratio under 1.2. Needs the Comtrade connector (pipelines/comtrade.py); said so
                   and skipped where it is absent.

Prints ``BENCH <name> chokehold_s=<x> baseline_s=<y> ratio=<y/x> peak_mb=<m>`` lines (for
comtrade_24m the ratio is time / floor, the figure the target is stated in).
Run: ``.venv/bin/python benchmarks/bench_refresh.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from chokehold.config import Settings, load_settings
from chokehold.pipelines import OFFLINE_SOURCES
from chokehold.pipelines.refresh import refresh_warehouse

HERE = Path(__file__).resolve().parent
SCRATCH = HERE / "_scratch" / "refresh"


CLI_WITH_PEAK = """
import atexit, re, sys
def peak():
    status = open("/proc/self/status").read()
    sys.stderr.write("PEAK_KB=" + re.search(r"VmHWM:\\s+(\\d+)", status)[1])
atexit.register(peak)
sys.argv = ["chokehold", *sys.argv[1:]]
from chokehold.cli import main
main()
"""
"""The ``chokehold`` command, reporting its own peak memory (VmHWM) as it exits."""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(name: str, seconds: float, baseline: float, ratio: float | None = None,
          peak: float | None = None, **extra: object) -> None:
    ratio = baseline / seconds if ratio is None else ratio
    tail = "".join(f" {k}={v}" for k, v in extra.items())
    print(f"BENCH {name} chokehold_s={seconds:.3f} baseline_s={baseline:.3f} ratio={ratio:.2f} "
          f"peak_mb={peak if peak is not None else peak_mb():.0f}{tail}", flush=True)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def offline() -> Settings:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    settings = load_settings(warehouse=SCRATCH / "warehouse.duckdb")
    build_s, _ = timed(refresh_warehouse, settings, OFFLINE_SOURCES)
    print(f"# built the offline warehouse in {build_s:.1f} s "
          f"({settings.warehouse.stat().st_size / 1e6:.0f} MB)", flush=True)
    runs = [timed(refresh_warehouse, settings, OFFLINE_SOURCES)[0] for _ in range(3)]
    nothing_new = sorted(runs)[1]
    force_s, _ = timed(refresh_warehouse, settings, OFFLINE_SOURCES, force=True)
    bench("refresh_nothing_new", nothing_new, force_s, target_s=2.0,
          met=nothing_new < 2.0)
    command = [sys.executable, "-c", CLI_WITH_PEAK, "--warehouse", str(settings.warehouse),
               "refresh"]
    cli_s, done = timed(subprocess.run, command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"chokehold refresh failed: {done.stderr}")
    child_mb = int(done.stderr.rsplit("PEAK_KB=", 1)[1]) / 1024
    bench("refresh_nothing_new_cli", cli_s, nothing_new, peak=child_mb, target_s=2.0,
          met=cli_s < 2.0)
    return settings


def comtrade(offline_settings: Settings, interval_s: float) -> None:
    """24 new months, 30 reporters x 8 HS lines, all partners, three flows, from a loopback
    Comtrade look-alike (tests/fakesources/comtrade_api.py) into the offline warehouse."""
    if importlib.util.find_spec("chokehold.pipelines.comtrade") is None:
        print("# comtrade_24m: skipped, the Comtrade connector (pipelines/comtrade.py) is not "
              "on this branch yet", flush=True)
        return
    sys.path.insert(0, str(HERE.parent / "tests"))
    from fakesources.comtrade_api import REPORTERS, app  # noqa: PLC0415
    from faultserver import FaultServer  # noqa: PLC0415

    with duckdb.connect(str(offline_settings.warehouse), read_only=True) as con:
        reporters = [r[0] for r in con.execute(
            "SELECT iso3 FROM country_codes WHERE scheme = 'comtrade' AND code IN "
            f"({', '.join(repr(str(c)) for c in REPORTERS)}) ORDER BY iso3").fetchall()]
        lines = [r[0] for r in con.execute(
            "SELECT DISTINCT hs_code FROM commodity_hs ORDER BY hs_code LIMIT 8").fetchall()]
    assert len(reporters) == 30 and len(lines) == 8, (reporters, lines)
    options = {"reporters": ",".join(reporters), "partners": "all", "hs": ",".join(lines),
               "years": "2023-2024", "freq": "M"}
    with FaultServer(app, rate=0.0) as server:
        settings = load_settings(**{**offline_settings.model_dump(),
                                    "comtrade_base_url": server.url,
                                    "comtrade_api_key": "bench-key",
                                    "comtrade_min_interval_s": interval_s})
        seconds, outcome = timed(refresh_warehouse, settings, ["comtrade"], options)
    requests = server.stats.total()
    floor = (requests - 1) * interval_s
    source = outcome.sources[0]
    loaded = (source.finished_at - source.started_at).total_seconds()
    print(f"# comtrade_24m: {requests} requests, {source.total('rows_inserted')} rows; "
          f"fetch+validate+load {loaded:.1f} s, lock+copy+snapshot+digest+swap "
          f"{seconds - loaded:.1f} s", flush=True)
    bench("refresh_comtrade_24m", seconds, floor, ratio=seconds / floor, interval_s=interval_s,
          target_ratio=1.2, met=seconds / floor < 1.2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=None,
                        help="Comtrade rate limit, seconds between requests "
                             "(default: the comtrade_min_interval_s setting)")
    args = parser.parse_args()
    built = offline()
    comtrade(built, built.comtrade_min_interval_s if args.interval is None else args.interval)
