"""The Spark entry point: ``python -m chokehold.spark screen ...`` or, on a cluster,
``spark-submit "$(python -m chokehold.spark path)" screen ...`` (docs/spark.md).

Without ``--master`` or ``--remote`` it uses the active session (the one spark-submit, a
notebook or Databricks started); with ``--master`` it starts (and stops) its own; with
``--remote sc://HOST:15002`` it is a Spark Connect client. ``chokehold trade screen --engine
spark`` runs the same code.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from chokehold.analysis.shares import Basis
from chokehold.config import Settings, load_settings
from chokehold.errors import ChokeholdError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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


@contextmanager
def session(master: str | None, remote: str | None) -> Iterator[SparkSession]:
    """A local session started here (stopped, its scratch removed, after), a Spark Connect
    session, or the active one."""
    from chokehold.analysis import spark as engine

    if master and remote:
        raise ChokeholdError("--master and --remote exclude each other: choose one")
    if importlib.util.find_spec("pyspark") is None:
        raise engine.SparkEngineError("the Spark engine needs pyspark: pip install "
                                      "'chokehold[spark]' (or run where Spark provides it)")
    if remote:
        connected = engine.remote_session(remote)
        try:
            yield connected
        finally:
            connected.stop()  # this client's server-side session, not the server
        return
    if not master:
        yield engine.active_session()
        return
    scratch = Path(tempfile.mkdtemp(prefix="chokehold-spark-"))
    started = None
    try:
        started = engine.local_session(master, local_dir=scratch)
        yield started
    finally:
        if started is not None:
            started.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _names(spark: SparkSession, settings: Settings, countries: str | None) -> pa.Table:
    """BACI code -> ISO3: a country_codes CSV at any URI, else the warehouse's."""
    from chokehold.analysis import spark as engine

    if countries:
        return engine.countries_from_csv(spark, countries)
    return engine.countries_from_warehouse(settings.warehouse)


def screen(settings: Settings, years: Sequence[int], *, master: str | None = None,
           remote: str | None = None, lake: str | None = None, output: str | None = None,
           countries: str | None = None, hs_revision: str | None = None, top: int = 50,
           importer: str | None = None, dependent_only: bool = False) -> pl.DataFrame:
    """The screen of ``years`` on Spark, the first ``top`` rows returned (see run_screen)."""
    from chokehold.analysis import spark as engine

    lake = lake or engine.lake_uri(settings)
    engine.require_local_lake(lake)
    with session(master, remote) as spark:
        return engine.run_screen(spark, lake, years, _names(spark, settings, countries),
                                 output=output, hs_revision=hs_revision, top=top,
                                 importer=importer, dependent_only=dependent_only)


def shares(settings: Settings, years: Sequence[int], *, output: str | None = None,
           master: str | None = None, remote: str | None = None, lake: str | None = None,
           countries: str | None = None, hs_revision: str | None = None,
           commodity: str | None = None, importer: str | None = None,
           basis: Basis = "value", top: int = 50) -> pl.DataFrame:
    """Partner shares and HHI per importer, commodity group (commodity_hs of the warehouse;
    one group if ``commodity``), revision and year on Spark, all written as Parquet to
    ``output`` (if given); returns the first ``top`` rows (of ``importer``, if given)."""
    from chokehold.analysis import spark as engine
    from chokehold.commodities import load_commodities, require_commodity
    from chokehold.countries import resolve_iso3

    lake = lake or engine.lake_uri(settings)
    engine.require_local_lake(lake)
    lines = engine.commodity_lines_from_warehouse(settings.warehouse)
    if commodity:
        require_commodity(load_commodities(settings.commodities_file), commodity)
        lines = lines.filter(pc.equal(lines.column("commodity_id"), commodity))
        if lines.num_rows == 0:
            raise ChokeholdError(f"commodity {commodity!r} has no HS6 lines in the warehouse's "
                                 "commodity_hs")
    with session(master, remote) as spark:
        names = _names(spark, settings, countries)
        if importer:
            importer = resolve_iso3(importer, set(names.column("iso3").to_pylist()))
        return engine.run_shares(spark, lake, years, lines, names, output=output,
                                 hs_revision=hs_revision, importer=importer, basis=basis,
                                 top=top)


def _lake_options(command: argparse.ArgumentParser) -> None:
    """What both jobs take: years, lake, names, warehouse, revision, where Spark runs."""
    command.add_argument("--years", required=True, help="e.g. 2022 or 1995-2024")
    command.add_argument("--input", help="the lake (default: lake_dir, or lake/ beside the "
                         "warehouse)")
    command.add_argument("--countries", help="BACI country_codes CSV (default: the warehouse's)")
    command.add_argument("--warehouse", help="the warehouse (default: settings)")
    command.add_argument("--revision", help="only this HS revision, e.g. HS17")
    where = command.add_mutually_exclusive_group()
    where.add_argument("--master", help="start a session, e.g. 'local[2]'")
    where.add_argument("--remote", help="Spark Connect URL, e.g. sc://HOST:15002")


def main(argv: Sequence[str] | None = None) -> int:
    """``screen``: the screen, top rows printed as CSV; ``shares``: every importer x group x
    year's partner shares and HHI, written; ``path``: this file's path, for spark-submit.
    Errors: one line on stderr, exit 2 (bad input) or 4 (Spark failed)."""
    parser = argparse.ArgumentParser(prog="python -m chokehold.spark", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("path", help="print the path of this script, for spark-submit")
    run = commands.add_parser("screen", help="the global screen of the lake's BACI years")
    _lake_options(run)
    run.add_argument("--output", help="write the full result as Parquet here (any URI)")
    run.add_argument("--importer", help="only this importer (ISO3)")
    run.add_argument("--dependent-only", action="store_true")
    run.add_argument("--top", type=int, default=50, help="rows to print")
    share = commands.add_parser("shares", help="partner shares and HHI of every importer x "
                                "commodity group x year, written as Parquet")
    _lake_options(share)
    share.add_argument("--output", help="write the full result as Parquet here (any URI)")
    share.add_argument("--commodity", help="only this commodity group")
    share.add_argument("--importer", help="only this importer's rows are printed (ISO3)")
    share.add_argument("--basis", choices=["value", "qty"], default="value")
    share.add_argument("--top", type=int, default=50, help="rows to print")
    args = parser.parse_args(argv)
    if args.command == "path":
        print(Path(__file__).resolve())
        return 0
    where = {"master": args.master, "remote": args.remote, "lake": args.input,
             "countries": args.countries, "hs_revision": args.revision}
    try:
        settings, years = load_settings(warehouse=args.warehouse), parse_years(args.years)
        if args.command == "shares":
            rows = shares(settings, years, output=args.output, commodity=args.commodity,
                          importer=args.importer, basis=args.basis, top=args.top, **where)
        else:
            rows = screen(settings, years, output=args.output, top=args.top,
                          importer=args.importer, dependent_only=args.dependent_only,
                          **where)
    except ChokeholdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    rows.write_csv(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
