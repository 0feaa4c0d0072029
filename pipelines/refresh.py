"""Run sources into the warehouse, one transaction per load, with a progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
from chokehold.pipelines import source_module
from rich.progress import Progress

from chokehold.config import Settings
from chokehold.warehouse import LoadResult


def run_sources(con: duckdb.DuckDBPyConnection, settings: Settings, sources: Sequence[str],
                options: dict[str, Any] | None = None, *, show_progress: bool = True
                ) -> list[LoadResult]:
    """Refresh each named source in order; the first failure stops the run (loads are atomic)."""
    modules = [(name, source_module(name)) for name in sources]
    results: list[LoadResult] = []
    with Progress(transient=True, disable=not show_progress) as progress:
        task = progress.add_task("refresh", total=len(modules))
        for name, module in modules:
            progress.update(task, description=f"loading {name}")
            results += module.refresh(con, settings, **(options or {}))
            progress.advance(task)
    return results
