"""The `chokehold` command.

Each module of this package that defines ``register(app)`` adds its commands, so a new area
(trade, prices, scenarios, reports, ...) plugs in without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chokehold.config import load_settings
from chokehold.errors import ChokeholdError

app = typer.Typer(
    name="chokehold",
    help="Exposure of economies to export controls on critical minerals, and what the controls "
    "do to prices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"chokehold {version('chokehold')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    warehouse: Annotated[Path | None, typer.Option(
        "--warehouse", "-w", help="DuckDB warehouse file (default: CHOKEHOLD_WAREHOUSE, "
        "chokehold.toml, or data/warehouse.duckdb).")] = None,
    _show_version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = load_settings(warehouse=warehouse)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)


def _add_output_option(typer_app: typer.Typer) -> None:
    """Every listing command (one with ``fmt``) also takes ``--output FILE``."""
    from chokehold.cli._shared import with_output_option

    for command in typer_app.registered_commands:
        command.callback = with_output_option(command.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _add_output_option(group.typer_instance)


_register_all()
_add_output_option(app)


def main() -> None:
    """Console entry point: exits with the code `run` returns (returns normally on 0)."""
    code = run()
    if code:
        sys.exit(code)


def run(args: list[str] | None = None) -> int:
    """Run the command line; user errors print one clear message (no traceback) and give its
    exit code: usage 2 (typer's short message), ChokeholdError its own, interrupted 130."""
    try:
        result = app(args=args, prog_name="chokehold", standalone_mode=False)
    except ChokeholdError as exc:
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                                   soft_wrap=True)
        return exc.exit_code
    except typer.TyperException as exc:  # typer bundles its own click: usage errors land here
        if type(exc).__name__ != "NoArgsIsHelpError":  # (its help is printed already)
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        Console(stderr=True).print("interrupted", highlight=False)
        return 130
    return result if isinstance(result, int) else 0
