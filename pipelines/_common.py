"""What every pipeline shares: checksums, sidecars, and the reference lookups it validates with."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import duckdb
import yaml
from pydantic import Field

from chokehold._lazy import polars as pl
from chokehold.errors import DataError
from chokehold.pipelines._packaged import recorded_sha256
from chokehold.yamlfiles import Strict


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_fingerprint(*paths: Path, extra: str = "") -> str:
    """One checksum over the names and contents of input files (a source's ``fingerprint``).

    Each file's checksum is cached per (path, size, mtime), so asking twice costs one stat; an
    untouched file of the embedded data package is not read at all (its installer recorded it).
    """
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(f"{path.name}\0{input_sha256(path)}\0".encode())
    return digest.hexdigest()


def input_sha256(path: Path) -> str:
    """An input file's SHA-256, hashed once per process while its size and mtime stay (a
    refresh's fingerprint and the load's provenance ask for the same file's)."""
    stat = path.stat()
    return _cached_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@cache
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return recorded_sha256(Path(path)) or sha256_file(Path(path))


def read_sidecar(data_file: Path) -> dict:
    """The ``<stem>.meta.yaml`` describing a bundled file (source, licence, unit, vintage)."""
    meta_path = data_file.with_name(data_file.stem + ".meta.yaml")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read metadata sidecar: {exc}", source=meta_path) from exc
    for key in ("source_id", "vintage", "licence", "unit"):
        if key not in (meta or {}):
            raise DataError("missing field", source=meta_path, field=key)
    return meta


def code_map(con: duckdb.DuckDBPyConnection, scheme: str) -> pl.DataFrame:
    """``code -> iso3`` for one coding scheme of the country_codes table."""
    return con.sql("SELECT code, iso3 FROM country_codes WHERE scheme = ?", params=[scheme]).pl()


def read_csv_strict(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Read a CSV whose columns must include ``schema``; parse errors name the file and column."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"cannot read CSV: {exc}", source=path) from exc
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise DataError(f"missing column; the file has {frame.columns}", source=path,
                        field=missing[0])
    frame = frame.with_row_index("_source_row", offset=2)  # row 1 is the header
    problems = []
    for col, dtype in schema.items():
        text = frame[col].str.strip_chars()
        parsed = (text.str.to_date("%Y-%m-%d", strict=False) if dtype == pl.Date
                  else text.cast(dtype, strict=False))
        bad = frame.filter(parsed.is_null() & frame[col].is_not_null())
        if bad.height:
            problems.append((int(bad["_source_row"][0]), col, bad[col][0], dtype))
        frame = frame.with_columns(parsed.alias(col))
    if problems:  # report the first bad cell in file order
        row, col, value, dtype = min(problems, key=lambda p: p[0])
        raise DataError(f"value {value!r} does not parse as {dtype}", source=path, row=row,
                        field=col)
    return frame


class FileOptions(Strict):
    """Options of a file source: its input files (``--path``, or ``path:`` in the refresh plan,
    where relative paths are under raw_dir)."""

    path: list[Path] | None = Field(default=None, description="Input files.")
