"""The scheduled refresh: `refresh`, `runs`, `vintages list|show` and `diff`.

Exit codes of `chokehold refresh`, for schedulers: 0 ok; 2 bad input, usage or configuration
(nothing published; the message names the file, row and field); 3 partial (some sources
failed, the rest published); 4 failed for another reason (network, bug; nothing published);
75 another refresh holds the lock (try later).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chokehold import vintages
from chokehold.cli._shared import (
    FORMAT_OPTION,
    OUTPUT_FILE,
    OutputFormat,
    emit,
    open_read,
    settings_of,
)
from chokehold.errors import ChokeholdError
from chokehold.pipelines import OFFLINE_SOURCES, plan
from chokehold.pipelines.refresh import EXIT_PARTIAL, refresh_warehouse
from chokehold.warehouse import read_query

vintages_app = typer.Typer(help="Published vintages (Parquet snapshots of the analysis tables).",
                           no_args_is_help=True)


def check_warehouse_folder(warehouse: Path) -> None:
    """Refuse, before any request, a warehouse whose folder is missing or not writable (the
    refresh writes its new copy, lock and log beside it)."""
    folder = warehouse.parent
    if not folder.is_dir():
        raise ChokeholdError(f"warehouse folder {folder} does not exist (or is not a folder); "
                             "create it, or choose another with --warehouse or CHOKEHOLD_WAREHOUSE")
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ChokeholdError(f"warehouse folder {folder} is not writable ({exc.strerror}); the "
                             "refresh writes its new copy beside the warehouse: choose another "
                             "folder with --warehouse or CHOKEHOLD_WAREHOUSE") from None


def refresh(
    ctx: typer.Context,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Load only the embedded default data (no network).")] = False,
    source: Annotated[list[str] | None, typer.Option(
        "--source", "-s", help="Source to refresh (repeatable); default: the refresh plan "
        "(setting refresh_plan, data/refresh.yaml)."
    )] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a source's option for this run: SOURCE.OPTION=VALUE "
        "(repeatable), e.g. comtrade.years=2024.")] = None,
    show_plan: Annotated[bool, typer.Option(
        "--show-plan", help="Print the sources and options this run would use, and stop.")
    ] = False,
    path: Annotated[list[Path] | None, typer.Option(
        "--path", help="Input file(s) for file-based sources (BACI, Japan Customs, USGS, ...)."
    )] = None,
    reporters: Annotated[str | None, typer.Option(help="Reporters, ISO3, comma-separated.")] = None,
    partners: Annotated[str | None, typer.Option(help="Partners, ISO3 or 'all'.")] = None,
    hs: Annotated[str | None, typer.Option(help="HS codes, comma-separated.")] = None,
    years: Annotated[str | None, typer.Option(help="Years, e.g. 2022-2024 or 2023.")] = None,
    freq: Annotated[str | None, typer.Option(help="A (annual) or M (monthly).")] = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Publish the sources that worked when others fail "
        "(run marked partial, exit code 3).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Run every source even if its inputs have not changed.")] = False,
) -> None:
    """Refresh the warehouse: only what changed, all at once, under a lock, with a vintage.

    Sources whose inputs are unchanged since their last successful load are skipped. The new
    data are built in a copy and swapped in atomically; a failed run leaves the warehouse as it
    was. Each refresh that changes data publishes a vintage (see `chokehold vintages list`).
    With no --source it runs the refresh plan (data/refresh.yaml), as the schedules do; a
    source's options come from its plan entry, then --path/--reporters/..., then --set; every
    option is validated before anything runs. Missing dependencies (the country reference for
    Comtrade) run first. Exit codes: 0 ok, 2 bad input (nothing published), 3 partial, 4 failed (network, bug;
    nothing published), 75 another refresh is running.
    """
    settings = settings_of(ctx)
    check_warehouse_folder(settings.warehouse)
    if path:  # --path is relative to the working directory (the plan's paths: to raw_dir)
        path = [p if p.is_absolute() else Path.cwd() / p for p in path]
    given = {"path": path, "reporters": reporters, "partners": partners, "hs": hs,
             "years": years, "freq": freq}
    options = {k: v for k, v in given.items() if v}
    if years:  # a bad range is refused here, before any source sends a request
        from chokehold.pipelines.comtrade import parse_years

        parse_years(years)
    if offline and source:
        unknown = [s for s in source if s not in OFFLINE_SOURCES]
        if unknown:
            raise ChokeholdError(f"--offline serves only {', '.join(OFFLINE_SOURCES)}; "
                                 f"not {', '.join(unknown)}")
    planned = plan.resolve(settings, sources=source, offline=offline, flags=options,
                           sets=set_ or [])
    if show_plan:
        emit([{"source": p.name, "options": json.dumps(p.options, default=str)}
              for p in planned], OutputFormat.table, title=f"Refresh plan ({settings.refresh_plan})")
        return
    outcome = refresh_warehouse(settings, [p.name for p in planned], options,
                                source_options={p.name: p.options for p in planned
                                                if p.declared},
                                allow_partial=allow_partial, force=force,
                                show_progress=sys.stderr.isatty())
    title = (f"Refresh {outcome.run_id}: {outcome.status}, vintage {outcome.vintage_id}"
             f"{' (new)' if outcome.published_vintage else ''}")
    if all(o.status == "skipped" for o in outcome.sources) and OUTPUT_FILE.get() is None:
        typer.echo(f"{title}: nothing new; inputs unchanged since the last load of "
                   f"{', '.join(o.source for o in outcome.sources)} (--force runs them anyway)")
        return
    emit([{"source": o.source, "status": o.status, "inserted": o.total("rows_inserted"),
           "updated": o.total("rows_updated"), "unchanged": o.total("rows_unchanged"),
           "deleted": o.total("rows_deleted"), "retries": o.stats.retries,
           "periods": o.stats.periods_received or "", "error": o.error or ""}
          for o in outcome.sources], OutputFormat.table, title=title)
    console = Console(stderr=True)
    if outcome.stale_lock is not None:
        console.print(f"[yellow]cleared a stale lock of {outcome.stale_lock.describe()}[/]")
    if outcome.status == "partial":
        console.print(f"[bold yellow]partial:[/] stale sources {', '.join(outcome.stale_sources)}"
                      " (their data are from an earlier run)", highlight=False)
        sys.exit(EXIT_PARTIAL)


def runs(ctx: typer.Context,
         run: Annotated[str | None, typer.Option(
             "--run", help="Show the sources of one run (id or 'last').")] = None,
         limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
         fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """The refresh run log: status, vintage, rows, retries and warnings per run (or per source)."""
    with open_read(ctx) as con:
        if run is None:
            frame = read_query(con, """
                SELECT r.run_id, strftime(r.started_at, '%Y-%m-%d %H:%M:%S') AS started,
                       round(epoch(r.finished_at) - epoch(r.started_at), 1) AS seconds,
                       r.status, r.vintage_id,
                       count(*) FILTER (s.status = 'ok') AS ran,
                       count(*) FILTER (s.status = 'skipped') AS skipped,
                       string_agg(s.source_id, ' ') FILTER (s.status = 'failed') AS failed,
                       sum(s.rows_inserted) AS inserted, sum(s.rows_updated) AS updated,
                       sum(s.retries) AS retries, sum(len(s.warnings)) AS warnings, r.message
                FROM refresh_runs r LEFT JOIN refresh_run_sources s USING (run_id)
                GROUP BY r.run_id, r.started_at, r.finished_at, r.status, r.vintage_id, r.message
                ORDER BY r.started_at DESC LIMIT ?""", [limit])
            emit(frame, fmt, title="Refresh runs")
            return
        if run == "last":
            rows = con.execute("SELECT run_id FROM refresh_runs ORDER BY started_at DESC "
                               "LIMIT 1").fetchall()
            if not rows:
                raise ChokeholdError("no refresh has run on this warehouse yet")
            run = rows[0][0]
        frame = read_query(con, "SELECT * EXCLUDE (run_id) FROM refresh_run_sources "
                                "WHERE run_id = ? ORDER BY started_at", [run])
    if frame.is_empty():
        raise ChokeholdError(f"no run {run!r}; `chokehold runs` lists them")
    emit(frame, fmt, title=f"Run {run}")


@vintages_app.command("list")
def vintages_list(ctx: typer.Context,
                  all_: Annotated[bool, typer.Option(
                      "--all", help="Include vintages retention has removed.")] = False,
                  fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """Published vintages, newest first: id, status, stale sources, whether on disk."""
    settings = settings_of(ctx)
    with open_read(ctx) as con:
        frame = read_query(con, "SELECT vintage_id, published_at, status, stale_sources, run_id, "
                                "code_revision, pruned_at FROM published_vintages "
                                + ("" if all_ else "WHERE pruned_at IS NULL ")
                                + "ORDER BY published_at DESC, vintage_id DESC")
    on_disk = {m["vintage_id"] for m in vintages.available(settings)}
    rows = [{**row, "on_disk": row["vintage_id"] in on_disk} for row in frame.to_dicts()]
    emit(rows, fmt, title=f"Vintages in {settings.vintages_dir}")


@vintages_app.command("show")
def vintages_show(ctx: typer.Context,
                  vintage: Annotated[str, typer.Argument(help="Vintage id, latest or previous.")],
                  fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """A vintage's manifest: tables with row counts and checksums, sources, code revision."""
    manifest = vintages.read_manifest(vintages.resolve(vintage, settings_of(ctx)))
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(manifest, indent=2, default=str) + "\n")
        return
    emit([{"table": t, "rows": info["rows"], "file": info["file"],
           "sha256": info["sha256"][:16] if fmt is OutputFormat.table else info["sha256"]}
          for t, info in manifest["tables"].items()], fmt,
         title=f"Vintage {manifest['vintage_id']} ({manifest['status']}, code "
               f"{manifest.get('code_revision')}, run {manifest['run_id']})")
    emit(manifest["sources"], fmt, title="Sources")


def diff(ctx: typer.Context,
         from_: Annotated[str, typer.Option("--from", help="Older vintage (id or previous).")],
         to: Annotated[str, typer.Option("--to", help="Newer vintage (id or latest).")] = "latest",
         tolerance: Annotated[float | None, typer.Option(
             help="Relative change below which a value is not called revised "
             "(default: diff_tolerance setting).")] = None,
         limit: Annotated[int, typer.Option(help="Revised values shown (largest first).")] = 30,
         fmt: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.table) -> None:
    """What changed between two vintages: new periods, revised values, control measures."""
    result = vintages.diff_vintages(from_, to, settings_of(ctx), tolerance)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(result.to_dict(max_revised=limit), indent=2, default=str)
                         + "\n")
        return
    if fmt is OutputFormat.csv:
        emit(result.revised.head(limit), fmt)
        return
    console = Console()
    console.print(f"[bold]{result.from_id} -> {result.to_id}[/] (tolerance {result.tolerance:g})")
    if result.stale_sources:
        console.print(f"[yellow]stale sources in {result.to_id}:[/] "
                      + ", ".join(result.stale_sources), highlight=False)
    if result.empty:
        console.print("No data changed.")
        return
    emit(result.tables, fmt, title="Rows by table")
    emit(result.new_periods, fmt, title="New periods")
    emit(result.revised.head(limit), fmt,
         title=f"Revised values ({result.revised_count} in all, largest first)")
    emit(result.controls, fmt, title="New or changed control measures")


def register(app: typer.Typer) -> None:
    app.command()(refresh)
    app.command()(runs)
    app.command()(diff)
    app.add_typer(vintages_app, name="vintages")
