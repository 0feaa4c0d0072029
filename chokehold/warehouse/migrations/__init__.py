"""Versioned schema migrations.

Each module ``mNNNN_<name>.py`` here defines ``DESCRIPTION`` and ``apply(con)``; its id is the
module name without the ``m``. The warehouse records applied ids in ``schema_migrations``. Code
refuses a warehouse that holds an id it does not know (the warehouse is newer than the code) and
applies the ones it lacks, in id order (upgrade). Migrations are written with IF NOT EXISTS so the
table specs in ``tables/*.yaml`` stay the single description of the current schema.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Migration:
    id: str
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def migration_ids() -> list[str]:
    """The id of every migration this code knows, in order, without importing them (the
    read-only open asks only whether the warehouse has them all)."""
    return sorted(info.name[1:] for info in pkgutil.iter_modules(__path__)
                  if info.name.startswith("m"))


def all_migrations() -> list[Migration]:
    """Every migration this code knows, in the order they apply."""
    found = []
    for mid in migration_ids():
        module = importlib.import_module(f"{__name__}.m{mid}")
        found.append(Migration(mid, module.DESCRIPTION, module.apply))
    return found
