"""The Spark entry point: ``python -m chokehold.spark screen ...`` or, on a cluster,
``spark-submit "$(python -m chokehold.spark path)" screen ...`` (docs/spark.md).

Without ``--master`` or ``--remote`` it uses the active session (the one spark-submit, a
notebook or Databricks started); with ``--master`` it starts (and stops) its own; with
``--remote sc://HOST:15002`` it is a Spark Connect client. ``chokehold trade screen --engine
spark`` runs the same code.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from chokehold.config import Settings, load_settings
from chokehold.errors import ChokeholdError


def parse_years(text: str) -> list[int]:
    """``2022``, ``1995-2024`` or ``2019,2022-2023`` as a sorted list of years."""
    years: set[int] = set()
    for part in text.split(","):
        found = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", part)
        if not found or (found.group(2) and int(found.group(2)) < int(found.group(1))):
            raise ChokeholdError(f"--years {text!r}: expected YEAR, FIRST-LAST or a comma list "
                                 "of them, e.g. 1995-2024")
        first = int(found.group(1))
        years.update(range(first, int(found.group(2) or first) + 1))
    return sorted(years)


def screen(settings: Settings, years: Sequence[int], *, master: str | None = None,
           remote: str | None = None, lake: str | None = None, output: str | None = None,
           countries: str | None = None, hs_revision: str | None = None, top: int = 50,
           importer: str | None = None, dependent_only: bool = False) -> pl.DataFrame:
    """The screen of ``years`` on Spark, the first ``top`` rows returned (see run_screen).

    Country names come from ``countries`` (a BACI country_codes CSV at any URI) or else the
    warehouse. A session started here (``master``) is stopped, and its scratch removed, after.
    """
    from chokehold.analysis import spark as engine

    if master and remote:
        raise ChokeholdError("--master and --remote exclude each other: choose one")
    lake = lake or engine.lake_uri(settings)
    engine.require_local_lake(lake)
    names = None if countries else engine.countries_from_warehouse(settings.warehouse)
    scratch = Path(tempfile.mkdtemp(prefix="chokehold-spark-")) if master else None
    session = None
    try:
        if master:
            session = engine.local_session(master, local_dir=scratch)
        spark = session or (engine.remote_session(remote) if remote else engine.active_session())
        if countries:
            names = engine.countries_from_csv(spark, countries)
        return engine.run_screen(spark, lake, years, names,
                                 output=output, hs_revision=hs_revision, top=top,
                                 importer=importer, dependent_only=dependent_only)
    finally:
        if session is not None:
            session.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``screen``: run the screen, print the top rows as CSV; ``path``: print this file's path
    (for spark-submit). Errors: one line on stderr, exit 2 (bad input) or 4 (Spark failed)."""
    parser = argparse.ArgumentParser(prog="python -m chokehold.spark", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("path", help="print the path of this script, for spark-submit")
    run = commands.add_parser("screen", help="the global screen of the lake's BACI years")
    run.add_argument("--years", required=True, help="e.g. 2022 or 1995-2024")
    run.add_argument("--input", help="the lake (default: lake_dir, or lake/ beside the warehouse)")
    run.add_argument("--output", help="write the full result as Parquet here (any URI)")
    run.add_argument("--countries", help="BACI country_codes CSV (default: the warehouse's)")
    run.add_argument("--warehouse", help="warehouse for country names (default: settings)")
    run.add_argument("--revision", help="only this HS revision, e.g. HS17")
    run.add_argument("--importer", help="only this importer (ISO3)")
    run.add_argument("--dependent-only", action="store_true")
    run.add_argument("--top", type=int, default=50, help="rows to print")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--master", help="start a session, e.g. 'local[2]'")
    where.add_argument("--remote", help="Spark Connect URL, e.g. sc://HOST:15002")
    args = parser.parse_args(argv)
    if args.command == "path":
        print(Path(__file__).resolve())
        return 0
    try:
        rows = screen(load_settings(warehouse=args.warehouse), parse_years(args.years),
                      master=args.master, remote=args.remote, lake=args.input,
                      output=args.output, countries=args.countries, hs_revision=args.revision,
                      top=args.top, importer=args.importer, dependent_only=args.dependent_only)
    except ChokeholdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    rows.write_csv(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
