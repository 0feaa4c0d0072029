"""The root command's static index (chokehold.cli.COMMANDS) matches what the command modules
register, so `chokehold --help` lists every command with its help without importing them."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import typer
import typer.main

import chokehold.cli as cli


def _registered() -> dict[str, tuple[str, str]]:
    """What the modules register today: command name -> (module, first paragraph of its help)."""
    found: dict[str, tuple[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"chokehold.cli.{info.name}")
        typer_app = typer.Typer()
        module.register(typer_app)
        for name, command in typer.main.get_group(typer_app).commands.items():
            assert name not in found, f"{name} registered by {found[name][0]} and {info.name}"
            text = command.short_help or command.help or ""
            found[name] = (info.name, inspect.cleandoc(text).split("\n\n")[0].strip())
    return found


def test_index_lists_every_registered_command_with_its_help() -> None:
    registered = _registered()
    assert set(cli.COMMANDS) == set(registered), (
        "add new commands to chokehold.cli.COMMANDS (name: (module, one-line help))")
    for name, entry in cli.COMMANDS.items():
        assert entry == registered[name], name


def test_each_indexed_command_resolves_to_its_module_command() -> None:
    for name, (module, _) in cli.COMMANDS.items():
        assert cli.module_commands(module)[name].name == name


def test_help_imports_no_command_module() -> None:
    code = ("import sys; from chokehold.cli import run; run(['--help']); "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('polars', 'duckdb', 'numpy', 'pydantic', 'pydantic_settings') "
            "or (m.startswith('chokehold.cli.') and m != 'chokehold.cli._coerce') "
            "or m.startswith('chokehold.analysis')); "
            "print('HEAVY', heavy, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "HEAVY []" in result.stderr, result.stderr
    for name in cli.COMMANDS:
        assert name in result.stdout


def test_status_imports_neither_polars_nor_the_settings(built_warehouse: Path,
                                                         tmp_path: Path) -> None:
    """`chokehold status` with no config file or CHOKEHOLD_* variable loads no Polars, no
    pydantic (typer's option coercion is done without it, cli/_coerce.py) and no rich emoji
    table."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("CHOKEHOLD_", "COMTRADE_"))}
    code = ("import sys; from chokehold.cli import run; "
            f"code = run(['-w', {str(built_warehouse)!r}, 'status']); "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'polars', 'numpy', 'pyarrow', 'pandas', 'pydantic', 'pydantic_settings'}"
            " | ({'rich._emoji_codes'} & set(sys.modules))); "
            "print('HEAVY', code, heavy, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=tmp_path, env=env)
    assert "HEAVY 0 []" in result.stderr, result.stderr
    assert "Latest period per series" in result.stdout


def test_default_warehouse_matches_the_settings(tmp_path: Path, monkeypatch) -> None:
    from chokehold.config import load_settings

    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.upper().startswith(("CHOKEHOLD_", "COMTRADE_")):
            monkeypatch.delenv(key)
    assert not cli._configured()
    assert cli.LazySettings(warehouse=None).warehouse() == load_settings().warehouse
    given = tmp_path / "w.duckdb"
    assert cli.LazySettings(warehouse=given).warehouse() == load_settings(warehouse=given).warehouse
    (tmp_path / "chokehold.toml").write_text('warehouse = "elsewhere.duckdb"\n')
    assert cli._configured()
    assert cli.LazySettings(warehouse=None).warehouse() == Path("elsewhere.duckdb")


def test_light_coercion_keeps_typer_values_and_messages(capsys, built_warehouse: Path,
                                                        tmp_path: Path) -> None:
    """Options coerced without pydantic give the values typer's adapters give (an Enum member,
    a Path), and a bad value still gets typer's message and exit 2."""
    import typer.main

    from chokehold.cli._coerce import LightRuntimeParam, lighten

    command = typer.main.get_command(cli.app)
    ctx = command.make_context("chokehold", ["-w", str(built_warehouse), "status"],
                               resilient_parsing=True)
    lighten(command, ctx)
    warehouse = next(p for p in command.params if p.name == "warehouse")
    assert isinstance(warehouse._runtime_param, LightRuntimeParam)
    assert warehouse._runtime_param.coerce(str(tmp_path), warehouse, ctx) == tmp_path
    fmt = next(p for p in cli.module_commands("warehouse")["status"].params if p.name == "fmt")
    lighten(cli.module_commands("warehouse")["status"], ctx)
    from chokehold.cli._shared import OutputFormat

    assert fmt._runtime_param.coerce("csv", fmt, ctx) is OutputFormat.csv
    assert fmt._runtime_param.coerce(OutputFormat.json, fmt, ctx) is OutputFormat.json
    code = cli.run(["-w", str(built_warehouse), "status", "--format", "yaml"])
    assert code == 2
    err = " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert "Invalid value for '--format' / '-f'" in err and "'yaml' is not one of" in err
