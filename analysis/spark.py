"""The global screen on Apache Spark, from the lake's Parquet files in place (docs/spark.md).

Spark reads the BACI partitions that the lake's ``_current.json`` lists (any URI Spark reads:
file://, s3a://, abfss://, gs://, hdfs://), groups the rows by HS revision, year and
``hs6 % buckets``, and runs the screen's own kernel (``dependence.screen_kernel``) in each group
with ``applyInArrow``. Every sum of the screen stays inside one revision, year and HS6 line, so
the rows equal the one-machine screen's by construction. The full result is written as Parquet
(atomically where the output is a local folder or the session is a classic one); sorting,
``top``, ``importer`` and ``dependent_only`` apply after the kernel.

Country names: the driver passes the small BACI code -> ISO3 table (the warehouse's
``country_codes``, scheme baci, or BACI's own ``country_codes_V*.csv`` at any URI) to the
kernel inside the UDF's closure; executors need no warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa

from chokehold.analysis.dependence import SCREEN_INPUT, SCREEN_SCHEMA, screen_kernel
from chokehold.analysis.shares import SHARES_SCHEMA, Basis, shares_kernel
from chokehold.errors import ChokeholdError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LAKE_FORMAT = "chokehold-lake/1"
FLOWS_DDL = "exporter_code SMALLINT, importer_code SMALLINT, hs6 INT, value_usd DOUBLE, qty DOUBLE"
"""The lake's baci_flows columns (hs_revision and year are only in the path)."""
DEFAULT_BUCKETS = 32
"""Groups per revision and year (hs6 % buckets): enough to spread a year over a cluster, few
enough that each kernel call sums a few hundred thousand rows."""
MIN_JAVA = 17


class SparkEngineError(ChokeholdError):
    """Spark could not run (no Java, a failed job): exit 4, not the user's input."""

    exit_code = 4


@dataclass(frozen=True)
class LakeFile:
    """One listed file of the lake's current baci_flows."""

    uri: str
    hs_revision: str
    year: int


def lake_uri(settings: object) -> str:
    """The lake: the ``lake_dir`` setting where there is one, else ``<warehouse dir>/lake``."""
    lake = getattr(settings, "lake_dir", None) or Path(settings.warehouse).parent / "lake"
    return str(lake)


def _is_local(uri: str) -> bool:
    return urlparse(uri).scheme in ("", "file")


def _local_path(uri: str) -> Path:
    return Path(urlparse(uri).path if uri.startswith("file:") else uri)


def java_version() -> int | None:
    """The major version of the Java Spark would start ($JAVA_HOME/bin/java, else PATH)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def _require_java() -> None:
    version = java_version()
    if version is None or version < MIN_JAVA:
        found = "no Java found" if version is None else f"Java {version} found"
        raise SparkEngineError(
            f"Spark's local mode needs Java {MIN_JAVA}+ ({found} via JAVA_HOME or PATH): "
            "install a JRE (e.g. apt-get install openjdk-17-jre-headless) or use --remote")


def local_session(master: str = "local[2]", *, local_dir: Path, driver_memory: str = "1g",
                  shuffle_partitions: int = 4) -> SparkSession:
    """A Spark session started here, with every setting a local run needs: workers run this
    interpreter (not python3 from PATH), loopback address, UTC, no UI or progress bars, scratch
    in ``local_dir``, log level ERROR."""
    _require_java()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    local_dir.mkdir(parents=True, exist_ok=True)
    with engine_errors("starting Spark"):
        spark = (SparkSession.builder.master(master).appName("chokehold")
                 .config("spark.driver.memory", driver_memory)
                 .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.local.dir", str(local_dir))
                 .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={local_dir}")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
    return spark


CONNECT_PORT = 15002
"""Spark Connect's default port (an ``sc://HOST`` URL without one)."""


def remote_session(url: str, timeout_s: float = 10.0) -> SparkSession:
    """A Spark Connect session (``sc://HOST:15002``); the server does the work. The server is
    reached first with a plain TCP connection: the Connect client would otherwise retry an
    address nobody listens on for ten minutes before failing."""
    import socket

    from pyspark.sql import SparkSession

    try:
        parsed = urlparse(url)
        host, port = parsed.hostname, parsed.port or CONNECT_PORT
    except ValueError:
        host = None
    if parsed.scheme != "sc" or not host:
        raise ChokeholdError(f"--remote {url!r}: expected a Spark Connect URL, "
                             "sc://HOST[:PORT], e.g. sc://spark.example.org:15002")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise SparkEngineError(f"no Spark Connect server at {url} ({host}:{port}: "
                               f"{exc.strerror or exc})") from None
    with engine_errors(f"connecting to {url}"):
        return SparkSession.builder.remote(url).getOrCreate()


def active_session() -> SparkSession:
    """The session already running (a notebook, Databricks), or spark-submit's."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None and "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit's own JVM
        with engine_errors("starting Spark"):
            spark = SparkSession.builder.getOrCreate()
    if spark is None:
        raise ChokeholdError("no active Spark session: pass --master 'local[2]' (or another "
                             "master URL) or --remote sc://HOST:15002, or run under spark-submit")
    return spark


@contextmanager
def engine_errors(doing: str) -> Iterator[None]:
    """Spark and Py4J failures as one line (SparkEngineError, exit 4)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield
    except (PySparkException, Py4JError, ConnectionError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()),
                     type(exc).__name__)
        raise SparkEngineError(f"Spark failed {doing}: {first[:400]}") from exc


def require_local_lake(lake: str) -> str:
    """The lake's manifest URI; a local lake without one is refused before Spark starts."""
    manifest = lake.rstrip("/") + "/_current.json"
    if _is_local(lake) and not _local_path(manifest).is_file():
        raise ChokeholdError(f"no lake at {lake}: {manifest} does not exist "
                             "(--input names the lake folder)")
    return manifest


def lake_files(spark: SparkSession, lake: str, years: Sequence[int],
               hs_revision: str | None = None) -> list[LakeFile]:
    """The baci_flows files ``_current.json`` lists for ``years`` (and one revision), read
    through Spark so that any URI works. Older vintages' files in the folder are never read."""
    manifest = require_local_lake(lake)
    from pyspark.errors import AnalysisException

    try:
        with engine_errors(f"reading {manifest}"):
            text = _read_text(spark, manifest)
    except SparkEngineError as exc:
        if isinstance(exc.__cause__, AnalysisException) and \
                exc.__cause__.getCondition() == "PATH_NOT_FOUND":
            raise ChokeholdError(f"no lake at {lake}: {manifest} does not exist") from None
        raise
    try:
        current = json.loads(text)
        if current.get("format") != LAKE_FORMAT:
            raise ValueError(f"format {current.get('format')!r}, expected {LAKE_FORMAT!r}")
        entries = current["tables"].get("baci_flows", [])
        files = [LakeFile(lake.rstrip("/") + "/" + e["path"], e["hs_revision"], int(e["year"]))
                 for e in entries]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ChokeholdError(f"{manifest}: not a chokehold lake manifest ({exc})") from None
    held = sorted({f.year for f in files if hs_revision in (None, f.hs_revision)})
    missing = sorted(set(years) - set(held))
    if missing:
        what = f"baci_flows {hs_revision}" if hs_revision else "baci_flows"
        raise ChokeholdError(
            f"{manifest}: no {what} for {', '.join(map(str, missing))}; the lake holds "
            f"{_spans(held) or 'no years'}")
    return [f for f in files if f.year in set(years) and hs_revision in (None, f.hs_revision)]


def _read_text(spark: SparkSession, uri: str) -> str:
    """A small text file through Spark. Spark hides names starting with ``_`` unless told
    otherwise (the read option exists from 4.3); older classic sessions read it through the
    Hadoop FileSystem of the JVM."""
    rows = spark.read.option("ignoredPathSegmentRegex", r"^\.").text(uri, wholetext=True) \
        .collect()
    if rows:
        return rows[0][0]
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:
        raise ChokeholdError(f"{uri}: this Spark hides files starting with '_' (Spark 4.3+ "
                             "reads them)")
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(spark._jsc.hadoopConfiguration()).open(path)
    try:
        return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def _spans(years: Sequence[int]) -> str:
    """1995-1997, 2001 for [1995, 1996, 1997, 2001]."""
    spans: list[list[int]] = []
    for year in years:
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def lake_flows(spark: SparkSession, files: Sequence[LakeFile]) -> DataFrame:
    """The listed files as one frame, with hs_revision (string) and year (int) from the
    manifest rather than from the path (Spark and DuckDB type hive partitions differently)."""
    from functools import reduce

    from pyspark.sql import functions as F

    by_partition: dict[tuple[str, int], list[str]] = {}
    for f in files:
        by_partition.setdefault((f.hs_revision, f.year), []).append(f.uri)
    frames = [spark.read.schema(FLOWS_DDL).parquet(*uris).select(
        *(F.col(c) for c in SCREEN_INPUT), "qty", F.lit(rev).alias("hs_revision"),
        F.lit(year).cast("int").alias("year")) for (rev, year), uris in sorted(by_partition.items())]
    return reduce(lambda a, b: a.unionByName(b), frames)


def countries_from_warehouse(warehouse: Path) -> pa.Table:
    """BACI code -> ISO3 (country_codes, scheme baci), signed, as the kernel names them."""
    from chokehold.analysis import read
    from chokehold.warehouse import open_warehouse

    with open_warehouse(warehouse, read_only=True) as con:
        return read.baci_country_codes(con)


def countries_from_csv(spark: SparkSession, uri: str) -> pa.Table:
    """BACI code -> ISO3 from a release's own country_codes_V*.csv (country_code,
    country_iso3), at any URI Spark reads."""
    from pyspark.errors import AnalysisException

    try:
        with engine_errors(f"reading {uri}"):
            rows = spark.read.option("header", True).csv(uri).select(
                "country_code", "country_iso3").collect()
        return pa.table({"code": pa.array([int(r[0]) for r in rows], pa.int32()),
                         "iso3": pa.array([r[1] for r in rows], pa.string())})
    except (SparkEngineError, ValueError, TypeError) as exc:
        if isinstance(exc, SparkEngineError) and not isinstance(exc.__cause__, AnalysisException):
            raise
        first = str(exc).splitlines()[0][:300]
        raise ChokeholdError(f"{uri}: not a BACI country_codes CSV with country_code and "
                             f"country_iso3 ({first})") from None


def _spark_schema(schema: pa.Schema) -> str:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema).simpleString().removeprefix("struct<")[:-1] \
        .replace(":", " ")


def screen(flows: DataFrame, countries: pa.Table, buckets: int = DEFAULT_BUCKETS) -> DataFrame:
    """The screen of every revision and year in ``flows`` (lake_flows): the kernel per
    (hs_revision, year, hs6 % buckets) group. Rows in no particular order."""
    from pyspark.sql import functions as F

    def kernel(group: pa.Table) -> pa.Table:
        return screen_kernel(group, countries, year=group.column("year")[0].as_py(),
                             hs_revision=group.column("hs_revision")[0].as_py())

    return flows.groupBy("hs_revision", "year", (F.col("hs6") % buckets).alias("bucket")) \
        .applyInArrow(kernel, _spark_schema(SCREEN_SCHEMA))


def commodity_lines_from_warehouse(warehouse: Path) -> pa.Table:
    """The HS6 lines of each commodity group in each revision (commodity_hs), hs6 a number."""
    from chokehold.analysis import read
    from chokehold.warehouse import open_warehouse

    with open_warehouse(warehouse, read_only=True) as con:
        return read.commodity_hs6_lines(con)


def import_shares(flows: DataFrame, lines: pa.Table, countries: pa.Table,
                  buckets: int = DEFAULT_BUCKETS, basis: Basis = "value") -> DataFrame:
    """Partner shares (of value or quantity) and HHI per importer, commodity group, revision and
    year of ``flows`` (lake_flows), with ``lines`` (commodity_id, hs_revision, hs6) defining the
    groups: the share kernel per (hs_revision, year, importer % buckets) group."""
    from pyspark.sql import functions as F

    def kernel(group: pa.Table) -> pa.Table:
        return shares_kernel(group, countries, year=group.column("year")[0].as_py(),
                             hs_revision=group.column("hs_revision")[0].as_py(), basis=basis)

    groups = F.broadcast(flows.sparkSession.createDataFrame(lines))
    return flows.join(groups, on=["hs_revision", "hs6"]).groupBy(
        "hs_revision", "year", (F.col("importer_code") % buckets).alias("bucket")) \
        .applyInArrow(kernel, _spark_schema(SHARES_SCHEMA))


def write_result(spark: SparkSession, result: DataFrame, output: str) -> None:
    """The full result as Parquet under ``output``, which holds only a finished result: written
    to a sibling temporary folder and renamed into place (local folders: os.replace; other URIs
    in a classic session: Hadoop FileSystem.rename). Under Spark Connect to a remote URI,
    Spark's committer writes in place and readers check for ``_SUCCESS``."""
    target = output.rstrip("/")
    temp = f"{target}.tmp-{uuid.uuid4().hex[:8]}"
    local = _is_local(target)
    jvm = getattr(spark, "_jvm", None)
    if not local and jvm is None:
        with engine_errors(f"writing {output}"):
            result.write.mode("overwrite").parquet(target)
        return
    try:
        with engine_errors(f"writing {output}"):
            result.write.parquet(temp)  # fails if it exists (the default mode)
        if local:
            final, staged = _local_path(target), _local_path(temp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(staged, final)
            return
        with engine_errors(f"moving the result to {output}"):
            path = jvm.org.apache.hadoop.fs.Path(target)
            fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
            if fs.exists(path):
                fs.delete(path, True)
            if not fs.rename(jvm.org.apache.hadoop.fs.Path(temp), path):
                raise SparkEngineError(f"could not rename {temp} to {target}")
    finally:
        _remove(spark, temp)


def _remove(spark: SparkSession, uri: str) -> None:
    """Delete a temporary folder if it is still there."""
    if _is_local(uri):
        shutil.rmtree(_local_path(uri), ignore_errors=True)
        return
    jvm = getattr(spark, "_jvm", None)
    if jvm is not None:
        path = jvm.org.apache.hadoop.fs.Path(uri)
        fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
        if fs.exists(path):
            fs.delete(path, True)


ORDER = (["imports_usd", "importer_iso3", "hs_code", "year", "hs_revision"],
         [True, False, False, False, False])
"""Result order: largest imports first, ties by importer, line, year and revision."""


def run_screen(spark: SparkSession, lake: str, years: Sequence[int], countries: pa.Table, *,
               output: str | None = None, hs_revision: str | None = None, top: int = 50,
               importer: str | None = None, dependent_only: bool = False,
               buckets: int = DEFAULT_BUCKETS) -> pl.DataFrame:
    """Screen ``years`` of the lake on Spark; write everything to ``output`` (if given) and
    return the first ``top`` rows (after the ``importer`` / ``dependent_only`` filters)."""
    from pyspark.sql import functions as F

    files = lake_files(spark, lake, years, hs_revision)
    with engine_errors("screening"):
        result = screen(lake_flows(spark, files), countries, buckets)
        if output:
            write_result(spark, result, output)
            result = spark.read.parquet(output)
        if importer:
            result = result.filter(F.col("importer_iso3") == importer.upper())
        if dependent_only:
            result = result.filter(F.col("dependent"))
        cols, desc = ORDER
        ordered = result.orderBy(*(F.col(c).desc() if d else F.col(c).asc()
                                   for c, d in zip(cols, desc)))
        return pl.from_arrow(ordered.limit(top).toArrow().cast(SCREEN_SCHEMA))


SHARES_ORDER = ["year", "hs_revision", "commodity_id", "importer_iso3"]
"""Shares order: by year, revision, group and importer; largest share first, ties by partner."""


def run_shares(spark: SparkSession, lake: str, years: Sequence[int], lines: pa.Table,
               countries: pa.Table, *, output: str | None = None,
               hs_revision: str | None = None, importer: str | None = None,
               basis: Basis = "value", top: int = 50,
               buckets: int = DEFAULT_BUCKETS) -> pl.DataFrame:
    """Partner shares and HHI of every importer x commodity group (``lines``) x year of the
    lake on Spark; write everything to ``output`` (if given) and return the first ``top`` rows
    (of ``importer`` only, if given)."""
    from pyspark.sql import functions as F

    files = lake_files(spark, lake, years, hs_revision)
    with engine_errors("computing shares"):
        result = import_shares(lake_flows(spark, files), lines, countries, buckets, basis)
        if output:
            write_result(spark, result, output)
            result = spark.read.parquet(output)
        if importer:
            result = result.filter(F.col("importer_iso3") == importer)
        ordered = result.orderBy(*SHARES_ORDER, F.col("share").desc_nulls_last(),
                                 "partner_iso3")
        return pl.from_arrow(ordered.limit(top).toArrow().cast(SHARES_SCHEMA))
