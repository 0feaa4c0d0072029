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
)


@app.callback()
def _root(
    ctx: typer.Context,
    warehouse: Annotated[Path | None, typer.Option(
        "--warehouse", "-w", help="DuckDB warehouse file (default: CHOKEHOLD_WAREHOUSE, "
        "chokehold.toml, or data/warehouse.duckdb).")] = None,
) -> None:
    ctx.obj = load_settings(warehouse=warehouse)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(app)


_register_all()


def main() -> None:
    """Console entry point: user errors print one clear message and exit non-zero."""
    try:
        app(standalone_mode=False)
    except ChokeholdError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit codes
        import click
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
