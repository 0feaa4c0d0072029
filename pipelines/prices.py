"""Price files into the warehouse, one mapping (data/prices/*.yaml) per vendor layout.

Each mapping names its files; every file that is new or changed since its last load (by its
checksum and its mapping's) is read, validated as a whole and loaded into ``prices`` (the mid,
in its own currency and unit) and ``price_observations`` (low, high, the cell as published,
grade, basis, file and row). A bad file raises a DataError naming file, sheet, row and column
before anything from it is loaded. The VAT schedule (data/vat_rates.yaml) is loaded too.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from chokehold._lazy import polars as pl
from chokehold.commodities import load_commodities
from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.pipelines._common import files_fingerprint, sha256_file
from chokehold.pipelines.price_mapping import PriceMapping, load_mappings, read_price_file
from chokehold.pipelines.price_units import UNITS_FILE, load_vat, units_frame, vat_frame
from chokehold.warehouse import LoadResult, load_frame, read_query

VAT_SOURCE = "chokehold_vat_rates"
UNITS_SOURCE = "chokehold_units"


def mapping_root(mapping: PriceMapping, settings: Settings) -> Path:
    return settings.bundled_dir if mapping.root == "bundled" else settings.price_files_dir


def mapped_files(mapping: PriceMapping, settings: Settings) -> list[tuple[Path, str]]:
    """The files a mapping matches: (path, path relative to its root), in name order."""
    root = mapping_root(mapping, settings)
    return sorted((p, p.relative_to(root).as_posix()) for p in root.glob(mapping.files)
                  if p.is_file())


def check_mappings(mappings: list[PriceMapping], settings: Settings) -> None:
    """Commodities must be known and each series must belong to one mapping only."""
    commodities = load_commodities(settings.commodities_file)
    owner: dict[str, str] = {}
    for mapping in mappings:
        path = settings.price_mappings_dir / f"{mapping.id}.yaml"
        for n, series in enumerate(mapping.series):
            if series.commodity not in commodities:
                raise DataError(f"unknown commodity {series.commodity!r}; valid: "
                                f"{', '.join(sorted(commodities))}", source=path,
                                field=f"series.{n}.commodity")
            if series.id in owner:
                raise DataError(f"series {series.id} is also defined by mapping "
                                f"{owner[series.id]}", source=path, field=f"series.{n}.id")
            owner[series.id] = mapping.id


def _mapping_frames(mapping: PriceMapping) -> dict[str, pl.DataFrame]:
    source = pl.DataFrame([mapping.source.model_dump() | {"source_id": mapping.source.id}])
    series = pl.DataFrame(
        [{"series_id": s.id, "commodity": s.commodity, "market": s.market,
          "frequency": s.frequency, "mapping_id": mapping.id, "source": mapping.source.id}
         for s in mapping.series])
    return {
        "sources": source.select("source_id", "publisher", "title", "licence", "url",
                                 pl.col("citation").cast(pl.String)),
        "price_series": series,
    }


def file_scope(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, relative: str) -> str:
    """The rows a file is the whole truth for: its series over its period range, both taken
    from what it holds now and what it held when last loaded (so a quote turned into ``n/a``
    or a row dropped, even the last one, is deleted and recorded in ``revisions``)."""
    before = read_query(con, "SELECT series_id, date FROM price_observations WHERE origin = ?",
                        [relative])
    keys = pl.concat([frame.select("series_id", "date"), before.cast(frame.select(
        "series_id", "date").schema)])
    if keys.is_empty():
        return "FALSE"
    series = ", ".join("'" + s.replace("'", "''") + "'" for s in keys["series_id"].unique().sort())
    return (f"series_id IN ({series}) AND date BETWEEN DATE '{keys['date'].min()}' "
            f"AND DATE '{keys['date'].max()}'")


def load_file(con: duckdb.DuckDBPyConnection, mapping: PriceMapping, frame: pl.DataFrame,
              origin: Path, relative: str, sha256: str, mapping_sha256: str) -> list[LoadResult]:
    """Load one file's observations (already validated) into prices and price_observations."""
    vintage = mapping.vintage or f"sha256:{sha256[:12]}"
    source = mapping.source.id
    prices = frame.select(
        "series_id", "commodity", "market", "date", "value", "currency", "unit", "vat_included",
        pl.lit(source).alias("source"), pl.lit(vintage).alias("vintage"), "_source_row")
    observations = frame.select(
        "series_id", "date", "low", "high", "original_value", "grade", "basis",
        pl.lit(relative).alias("origin"), pl.col("_source_row").alias("source_row"),
        "published_unit", "scale", "_source_row")
    record = pl.DataFrame([{"mapping_id": mapping.id, "path": relative, "sha256": sha256,
                            "mapping_sha256": mapping_sha256, "observations": frame.height,
                            "source": source}])
    kwargs = {"source_id": source, "vintage": vintage, "origin": origin, "sha256": sha256}
    scope = file_scope(con, frame, relative)
    return [load_frame(con, "prices", prices, replace_scope=scope, **kwargs),
            load_frame(con, "price_observations", observations, replace_scope=scope, **kwargs),
            load_frame(con, "price_files", record, **kwargs)]


def _loaded(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, str, int]]:
    rows = con.execute("SELECT mapping_id, path, sha256, mapping_sha256, observations "
                       "FROM price_files").fetchall()
    return {(m, p): (s, ms, int(n)) for m, p, s, ms, n in rows}


def fingerprint(settings: Settings, **_: object) -> str:
    """The VAT schedule, the commodity list, every mapping and every file a mapping matches."""
    mappings = load_mappings(settings.price_mappings_dir)
    files = [path for mapping in mappings for path, _ in mapped_files(mapping, settings)]
    return files_fingerprint(settings.vat_file, settings.commodities_file, UNITS_FILE,
                             *sorted(settings.price_mappings_dir.glob("*.yaml")), *files)


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, **_: object) -> list[LoadResult]:
    """Load the VAT schedule, the unit table and every mapped price file that is new or
    changed."""
    results = [load_frame(con, "vat_rates", vat_frame(load_vat(settings.vat_file)),
                          source_id=VAT_SOURCE, vintage=f"sha256:{sha256_file(settings.vat_file)[:12]}",
                          origin=settings.vat_file, replace_scope="TRUE"),
               load_frame(con, "units", units_frame(), source_id=UNITS_SOURCE,
                          vintage=f"sha256:{sha256_file(UNITS_FILE)[:12]}", origin=UNITS_FILE,
                          replace_scope="TRUE")]
    mappings = load_mappings(settings.price_mappings_dir)
    check_mappings(mappings, settings)
    loaded = _loaded(con)
    for mapping in mappings:
        mapping_path = settings.price_mappings_dir / f"{mapping.id}.yaml"
        mapping_sha = sha256_file(mapping_path)
        for table, frame in _mapping_frames(mapping).items():
            results.append(load_frame(con, table, frame, source_id=mapping.source.id,
                                      origin=mapping_path))
        for path, relative in mapped_files(mapping, settings):
            sha = sha256_file(path)
            before = loaded.get((mapping.id, relative))
            if before is not None and before[:2] == (sha, mapping_sha):
                results.append(LoadResult("prices", mapping.source.id, None, before[2], 0, 0,
                                          before[2]))  # unchanged file: skipped by checksum
                continue
            frame = read_price_file(path, mapping)
            results += load_file(con, mapping, frame, path, relative, sha, mapping_sha)
    return results
