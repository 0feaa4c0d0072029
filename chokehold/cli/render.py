"""`chokehold render`: the Quarto reports and briefing slides, one by one or as a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chokehold.cli._shared import settings_of
from chokehold.commodities import HS_REVISIONS
from chokehold.config import PROJECT_ROOT
from chokehold.errors import ChokeholdError

REPORTS_DIR = PROJECT_ROOT / "reports"
DEFAULT_OUT = REPORTS_DIR / "_output"


class BatchFailed(ChokeholdError):
    """Documents failed: exit 3 when the others were rendered (as a partial refresh), 4 when
    none was."""

    def __init__(self, failed: int, of: int) -> None:
        super().__init__(f"{failed} of {of} documents failed")
        self.exit_code = 3 if failed < of else 4


def render(
    ctx: typer.Context,
    report: Annotated[str | None, typer.Argument(
        help="Document name (control-exposure, price-gap, briefing, monthly-digest) or a "
        ".qmd path.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-P", help="Parameter as key=value (repeatable), e.g. -P importer=KOR.")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="Formats, comma-separated: html, pdf, revealjs, pptx (default: the "
        "document's own).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder (made if missing).")
                   ] = DEFAULT_OUT,
    engine: Annotated[str, typer.Option(
        "--engine", help="auto (Quarto when installed), builtin or quarto.")] = "auto",
    all_: Annotated[bool, typer.Option(
        "--all", help="Render every document of the matrix file (one kernel for all).")] = False,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", help="The batch to render with --all (default: setting matrix_file).")
    ] = None,
    revision: Annotated[str | None, typer.Option(
        "--revision", help="HS revision of the BACI figures where a year has it, e.g. HS92 "
        "(setting hs_revision; default: the newest revision covering each year).")] = None,
) -> None:
    """Render a report to HTML, PDF, reveal.js or PPTX, or the whole pack with --all.

    Parameters are checked against the registry and the warehouse before anything runs; each
    document is executed once and converted to every format; outputs appear atomically.
    """
    if engine not in ("auto", "builtin", "quarto"):
        raise typer.BadParameter(f"{engine!r}: choose auto, builtin or quarto", param_hint="--engine")
    if all_ == (report is not None):
        raise typer.BadParameter("give a REPORT or --all (not both)")
    from chokehold.render.engine import Job, Renderer, Result
    from chokehold.render.params import split_assignments

    if revision is not None and revision not in HS_REVISIONS:
        raise typer.BadParameter(f"{revision!r} is not an HS revision; valid: "
                                 f"{', '.join(HS_REVISIONS)}", param_hint="--revision")
    if out.exists() and not out.is_dir():
        raise ChokeholdError(f"--out {out} is a file: give a folder (made if missing)")
    formats = [f.strip() for f in to.split(",") if f.strip()] if to else None
    console = Console(stderr=True)
    settings = settings_of(ctx)
    if revision is not None:
        settings = settings.model_copy(update={"hs_revision": revision})
    with Renderer(settings, out, engine) as renderer:  # type: ignore[arg-type]
        if all_:
            from chokehold.render.matrix import expand, load_matrix
            jobs = [renderer.prepare(Job(j.report, j.params, formats or j.formats))
                    for j in expand(load_matrix(matrix or settings_of(ctx).matrix_file))]
        else:
            jobs = [renderer.prepare(Job(report, split_assignments(param or []), formats))]
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task(f"rendering ({renderer.engine})", total=len(jobs))

            def advance(result: Result) -> None:  # type: ignore[valid-type]
                progress.advance(task)
                progress.console.print(("[red]failed[/] " if result.error else "[green]ok[/] ") +
                                       f"{result.name} ({result.seconds:.1f} s)", highlight=False)

            results = renderer.render_many(jobs, advance)
    for result in results:
        for path in result.outputs:
            typer.echo(str(path))
    failed = [r for r in results if r.error]
    if failed:
        for result in failed:
            console.print(f"[bold red]failed:[/] {result.name}: {result.error}", highlight=False,
                          soft_wrap=True)
        raise BatchFailed(len(failed), len(results))


def register(app: typer.Typer) -> None:
    app.command("render")(render)
