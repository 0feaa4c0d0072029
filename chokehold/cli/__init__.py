"""The `chokehold` command.

Each module of this package that defines ``register(app)`` adds its commands, so a new area
(trade, prices, scenarios, reports, ...) plugs in without touching the command code. The root
knows the commands from ``COMMANDS`` (name -> module, one-line help) and imports a module only
when one of its commands runs, so ``chokehold --help`` starts in a fraction of a second;
tests/test_cli_index.py fails when a module registers a command the index does not list.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from chokehold.cli._coerce import lighten
from chokehold.errors import ChokeholdError, DiskFullError, is_disk_full

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module of chokehold.cli that registers it, its one-line help in `chokehold --help`)
    "render": ("render", "Render a report to HTML, PDF, reveal.js or PPTX, or the whole pack "
               "with --all."),
    "refresh": ("runs", "Refresh the warehouse: only what changed, all at once, under a lock, "
                "with a vintage."),
    "runs": ("runs", "The refresh run log: status, vintage, rows, retries and warnings per run "
             "(or per source)."),
    "diff": ("runs", "What changed between two vintages: new periods, revised values, control "
             "measures."),
    "deminimis": ("scenario", "Share of Chinese-origin controlled rare-earth content in an "
                  "item's value, whether it\nreaches the 0.1% de-minimis threshold, and whether "
                  "a licence is needed on the date."),
    "status": ("warehouse", "Tables and row counts, latest period per source, vintages, and the "
               "last loads."),
    "sql": ("warehouse", "Run a read-only query on the warehouse; write statements are refused."),
    "schema": ("warehouse", "The data dictionary: every table and column with its type, unit "
               "and description."),
    "summary": ("warehouse", "What `make demo` prints: China's share of Japan's rare-earth "
                "imports, latest prices."),
    "controls": ("controls", "The export-control registry (data/controls/)."),
    "fetch": ("fetch", "Download full releases of bulk sources, then load them."),
    "prices": ("prices", "Price series, the domestic-vs-overseas price gap, event studies."),
    "risk": ("risk", "Supply-risk indices: GeoPolRisk, EU CRM supply risk, concentration."),
    "vintages": ("runs", "Published vintages (Parquet snapshots of the analysis tables)."),
    "scenario": ("scenario", "Exposure scenarios: Monte Carlo shortfall and price paths under "
                 "each control (scenarios in data/scenarios/)."),
    "trade": ("trade", "Import dependence: shares, concentration, screen, mirror, rerouting."),
}


def module_commands(module_name: str) -> dict[str, Any]:
    """The click commands that ``chokehold.cli.<module_name>``'s ``register(app)`` adds, by name
    (built once per module, with ``--output`` added to every listing command)."""
    if module_name not in _BUILT:
        module = importlib.import_module(f"{__name__}.{module_name}")
        typer_app = typer.Typer()
        module.register(typer_app)
        _add_output_option(typer_app)
        _BUILT[module_name] = dict(typer.main.get_group(typer_app).commands)
    return _BUILT[module_name]


_BUILT: dict[str, dict[str, Any]] = {}


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists ``COMMANDS`` without importing anything, imports a command's module
    only to run it (or to show its own help)."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(name for name in COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        module_name, short_help = COMMANDS[cmd_name]
        if self._listing:  # the root's --help: the name and one line are enough
            return typer.core.TyperCommand(name=cmd_name, help=short_help)
        command = module_commands(module_name).get(cmd_name)
        return None if command is None else lighten(command, ctx)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        lighten(self, ctx)  # options are coerced without pydantic where typer allows
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except typer.core._click.exceptions.UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                exc.message = (f"{exc.message.rstrip('.')}. Did you mean "
                               f"{', '.join(repr(m) for m in matches)}?")
            raise


app = typer.Typer(
    name="chokehold",
    cls=LazyGroup,
    help="Exposure of economies to export controls on critical minerals, and what the controls "
    "do to prices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class LazySettings:
    """``ctx.obj`` of every command: the settings, loaded (and validated) on first use, so a
    command that needs none does not pay for pydantic; see ``_shared.settings_of``."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self._settings: Any = None

    def warehouse(self) -> Path:
        """The warehouse file. With no config file and no CHOKEHOLD_* or COMTRADE_* variable
        the settings are the defaults (nothing to validate), so pydantic is not loaded for it."""
        if self._settings is None and not _configured():
            return Path(self.overrides.get("warehouse") or DEFAULT_WAREHOUSE)
        return self.get().warehouse

    def get(self) -> Any:
        if self._settings is None:
            from chokehold.config import load_settings

            self._settings = load_settings(**self.overrides)
        return self._settings


DEFAULT_WAREHOUSE = Path(__file__).resolve().parents[2] / "data" / "warehouse.duckdb"
"""``Settings.warehouse``'s default (tests/test_cli_index.py checks they agree)."""


def _configured() -> bool:
    """Whether anything but the defaults could shape the settings: a chokehold.toml (or the
    file CHOKEHOLD_CONFIG names) or a variable that pydantic-settings would read."""
    if Path(os.environ.get("CHOKEHOLD_CONFIG", "chokehold.toml")).exists():
        return True
    return any(k.upper().startswith(("CHOKEHOLD_", "COMTRADE_")) for k in os.environ)


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
    ctx.obj = LazySettings(warehouse=warehouse)


def _add_output_option(typer_app: typer.Typer) -> None:
    """Every listing command (one with ``fmt``) also takes ``--output FILE``."""
    from chokehold.cli._shared import with_output_option

    for command in typer_app.registered_commands:
        command.callback = with_output_option(command.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _add_output_option(group.typer_instance)


def main() -> None:
    """Console entry point: exits with the code `run` returns (returns normally on 0)."""
    code = run()
    # The interpreter's last garbage collection, as it exits, walks every object the imports
    # made (~0.1 s, a fifth of `chokehold status`); freezing them first skips that walk.
    atexit.register(gc.freeze)
    if code:
        sys.exit(code)


def run(args: list[str] | None = None) -> int:
    """Run the command line; user errors print one clear message (no traceback) and give its
    exit code: usage 2 (typer's short message), ChokeholdError its own, interrupted 130."""
    try:
        result = app(args=args, prog_name="chokehold", standalone_mode=False)
    except ChokeholdError as exc:
        return _print_error(exc)
    except typer.TyperException as exc:  # typer bundles its own click: usage errors land here
        if type(exc).__name__ != "NoArgsIsHelpError":  # (its help is printed already)
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        from rich.console import Console

        Console(stderr=True).print("interrupted", highlight=False)
        return 130
    except Exception as exc:  # a full disk is the machine's state, not a bug: one line, exit 4
        if not is_disk_full(exc):
            raise
        return _print_error(DiskFullError("writing the output", exc))
    return result if isinstance(result, int) else 0


def _print_error(exc: ChokeholdError) -> int:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                               soft_wrap=True)
    return exc.exit_code
