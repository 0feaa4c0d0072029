"""`chokehold fetch baci`: download an official release from CEPII and load it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chokehold.cli._shared import settings_of
from chokehold.errors import ChokeholdError

fetch_app = typer.Typer(help="Download full releases of bulk sources, then load them.",
                        no_args_is_help=True)


def _years(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        first, _, last = text.partition("-")
        years = list(range(int(first), int(last or first) + 1))
    except ValueError:
        years = []
    if not years:
        raise ChokeholdError(f"--years {text!r}: give a year (2023) or a rising range (2022-2024)")
    return years


@fetch_app.command("baci")
def baci(
    ctx: typer.Context,
    release: Annotated[str, typer.Option("--release", help="BACI release, e.g. V202501.")],
    revision: Annotated[str, typer.Option("--revision", help="HS revision, e.g. HS17.")],
    years: Annotated[str | None, typer.Option(
        "--years", help="Only these years, e.g. 2022-2024 (default: the whole release).")] = None,
    sha256: Annotated[str | None, typer.Option(
        "--sha256", help="Expected SHA-256 of the zip (refused if it differs).")] = None,
    no_load: Annotated[bool, typer.Option(
        "--no-load", help="Download and check only; load later with `refresh --source baci`.")
    ] = False,
) -> None:
    """Download BACI_<revision>_<release>.zip from CEPII into data/raw/baci/ (resumable, size
    and CRC checked, a progress bar), then load it as `refresh --source baci --path` does."""
    from chokehold.cli.runs import refresh
    from chokehold.pipelines.baci_fetch import download, extract_years, release_name

    settings = settings_of(ctx)
    chosen = _years(years)
    name = release_name(revision, release)
    target = download(f"{settings.baci_base_url.rstrip('/')}/{name}",
                      settings.raw_dir / "baci" / name, sha256=sha256,
                      timeout_s=settings.http_timeout_s, max_retries=settings.http_max_retries,
                      show_progress=sys.stderr.isatty())
    typer.echo(f"downloaded {target}", err=True)
    if no_load:
        return
    paths = ([target] if chosen is None else
             extract_years(target, chosen, target.with_suffix("")))
    refresh(ctx, source=["baci"], path=paths)


def register(app: typer.Typer) -> None:
    app.add_typer(fetch_app, name="fetch")
