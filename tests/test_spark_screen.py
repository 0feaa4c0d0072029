"""The global screen on Spark equals the one-machine screen: the kernel on Spark, the SQL oracle
on DuckDB and (transpiled by SQLGlot) on Spark, the kernel on DuckDB's read of the same Parquet
files, and global_screen on a warehouse loaded with the same rows. Plus the bad-input paths."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from conftest import copy_warehouse

from chokehold.analysis import dependence
from chokehold.errors import ChokeholdError
from chokehold.warehouse import open_warehouse
from tests.lake import publish, write_partition
from tests.screen_oracle import SCREEN_SQL, spark_sql

pytestmark = pytest.mark.spark
spark_engine = pytest.importorskip("chokehold.analysis.spark",
                                   reason="the [spark] extra (pyspark, sqlglot) is not installed")

# BACI codes (country_codes, scheme baci) of the sample's countries.
CODES = {156: "CHN", 392: "JPN", 842: "USA", 251: "FRA", 276: "DEU", 410: "KOR", 704: "VNM",
         36: "AUS", 76: "BRA", 699: "IND"}
PARTITIONS = [("HS92", 2031), ("HS92", 2032), ("HS17", 2031), ("HS17", 2032)]
LINES = [280530, 284610, 284690, 81110, 10121, 850511, 261400, 811292]
KEYS = ["year", "hs_revision", "importer_iso3", "hs_code"]
EXACT = ["suppliers", "top_supplier", "flag_concentration", "flag_import_dependence",
         "flag_low_substitutability", "dependent"]
FLOATS = ["imports_usd", "hhi", "top_share", "own_exports_usd",
          "top_supplier_world_export_share", "import_dependence", "imports_to_exports"]


def sample(seed: int) -> pa.Table:
    """One revision-year: about 40% of importer x exporter x line triples, values of 0 to 3
    thousand USD (coarse, so ties for the top supplier are common; zero flows included)."""
    rng = np.random.default_rng(seed)
    codes = np.array(sorted(CODES), np.int16)
    i, e, k = (a.ravel() for a in np.meshgrid(codes, codes, np.array(LINES, np.int32),
                                               indexing="ij"))
    keep = (i != e) & (rng.random(i.size) < 0.4)
    value = rng.integers(0, 4, i.size) * 1000.0
    value[(i == 36) & (k == 811292)] = 0.0  # Australia imports this line only at zero value
    qty = np.where(rng.random(i.size) < 0.5, np.nan, value / 7)
    return pa.table({"exporter_code": e[keep], "importer_code": i[keep], "hs6": k[keep],
                     "value_usd": value[keep],
                     "qty": pa.array(qty[keep], pa.float64(), from_pandas=True)})


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Four partitions listed in _current.json, plus an older vintage's file in one partition
    folder that the manifest does not list (and must not be read)."""
    root = tmp_path_factory.mktemp("lake") / "lake"
    flows = {part: sample(n) for n, part in enumerate(PARTITIONS)}
    stale = sample(99).set_column(3, "value_usd", pa.array(np.full(sample(99).num_rows, 7e9)))
    write_partition(root, "HS92", 2031, stale)
    publish(root, [write_partition(root, rev, year, flows[rev, year]) for rev, year in PARTITIONS])
    return root, flows


@pytest.fixture(scope="module")
def countries() -> pa.Table:
    return pa.table({"code": pa.array(list(CODES), pa.int32()),
                     "iso3": pa.array(list(CODES.values()), pa.string())})


def _require_java() -> None:
    version = spark_engine.java_version()
    if version is None or version < spark_engine.MIN_JAVA:
        pytest.skip(f"Spark needs Java {spark_engine.MIN_JAVA}+; found "
                    f"{'none' if version is None else version} (JAVA_HOME or PATH)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ConnectServer:
    """A real Spark Connect server (pyspark's own SparkConnectServer, local[2]) on a free
    loopback port, started with spark-submit as its own process."""

    def __init__(self, scratch: Path) -> None:
        import pyspark

        home = Path(pyspark.__file__).parent
        self.port, self.log = _free_port(), scratch / "connect-server.log"
        env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable,
               "SPARK_LOCAL_IP": "127.0.0.1"}
        conf = {"spark.connect.grpc.binding.address": "127.0.0.1",
                "spark.connect.grpc.binding.port": str(self.port),
                "spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "UTC",
                "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                "spark.local.dir": str(scratch),
                "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={scratch}"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(home / "bin" / "spark-submit"), "--master", "local[2]", "--driver-memory",
                 "1g", "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                 *(a for k, v in conf.items() for a in ("--conf", f"{k}={v}"))],
                cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def url(self, timeout_s: float = 180) -> str:
        """``sc://127.0.0.1:PORT`` once the server accepts connections."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the Spark Connect server exited ({self.process.returncode}): "
                            + self.log.read_text()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return f"sc://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"no Spark Connect server on port {self.port} after {timeout_s} s")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)  # spark-submit and its JVM, started here
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory: pytest.TempPathFactory):
    """One Spark Connect server for the --remote tests."""
    _require_java()
    server = ConnectServer(tmp_path_factory.mktemp("connect"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory, connect_server: ConnectServer):
    """One local[2] session for every Spark test (1 GB driver, 4 shuffle partitions, UI off).
    It asks for the Connect server only so that the server's JVM boots meanwhile."""
    _require_java()
    session = spark_engine.local_session("local[2]", local_dir=tmp_path_factory.mktemp("spark"))
    yield session
    session.stop()


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.col(f.name).cast(pl.from_arrow(pa.array([], f.type)).dtype)
                        for f in dependence.SCREEN_SCHEMA).sort(KEYS)


def assert_same_rows(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Same keys, same top supplier, counts and flags; values within 1e-12 relative."""
    got, want = _sorted(got), _sorted(want)
    assert got.select(KEYS).rows() == want.select(KEYS).rows()
    assert got.select(EXACT).rows() == want.select(EXACT).rows()
    for column in FLOATS:
        a, b = got[column].to_numpy(), want[column].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-12, atol=0, err_msg=column)


def duckdb_oracle(lake: Path, countries: pa.Table) -> pl.DataFrame:
    """SCREEN_SQL on DuckDB over the files _current.json lists."""
    entries = json.loads((lake / "_current.json").read_text())["tables"]["baci_flows"]
    con = duckdb.connect()
    con.register("countries", countries)
    con.execute("CREATE VIEW flows AS " + " UNION ALL ".join(
        f"SELECT *, '{e['hs_revision']}' AS hs_revision, CAST({e['year']} AS INTEGER) AS year "
        f"FROM read_parquet('{lake / e['path']}')" for e in entries))
    return con.sql(SCREEN_SQL).pl()


@pytest.fixture(scope="module")
def oracle(lake: tuple[Path, dict], countries: pa.Table) -> pl.DataFrame:
    rows = duckdb_oracle(lake[0], countries)
    assert 250 < rows.height < 4 * len(CODES) * len(LINES)  # the all-zero cells are not rows
    return rows


def test_sample_has_ties_zero_flows_and_empty_cells(lake: tuple[Path, dict]):
    """The sample exercises what can go wrong: ties for the top, zero flows, all-zero cells."""
    flows = pl.concat(pl.from_arrow(t).with_columns(pl.lit(n).alias("part"))
                      for n, t in enumerate(lake[1].values()))
    cells = flows.group_by("part", "importer_code", "hs6").agg(
        pl.col("value_usd").sum().alias("total"),
        (pl.col("value_usd") == pl.col("value_usd").max()).sum().alias("at_top"))
    assert (flows["value_usd"] == 0).sum() > 100
    assert cells.filter(pl.col("total") > 0, pl.col("at_top") > 1).height > 50
    assert cells.filter(pl.col("total") == 0).height >= 1


def test_oracle_equals_kernel_on_duckdb(lake: tuple[Path, dict], countries: pa.Table,
                                        oracle: pl.DataFrame):
    """DuckDB reads the listed files; the kernel screens each revision-year; SQL agrees."""
    con = duckdb.connect()
    entries = json.loads((lake[0] / "_current.json").read_text())["tables"]["baci_flows"]
    screens = [dependence.screen_kernel(
        con.sql(f"SELECT * FROM read_parquet('{lake[0] / e['path']}')").to_arrow_table(),
        countries, year=e["year"], hs_revision=e["hs_revision"]) for e in entries]
    assert all(s.schema == dependence.SCREEN_SCHEMA for s in screens)
    assert_same_rows(pl.from_arrow(pa.concat_tables(screens)), oracle)


@pytest.fixture(scope="module")
def loaded(built_warehouse: Path, lake: tuple[Path, dict],
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the offline warehouse (and its lake) with the sample's rows loaded as BACI
    partitions, the way a BACI release is loaded."""
    from chokehold.pipelines import baci

    target = copy_warehouse(built_warehouse, tmp_path_factory.mktemp("loaded") / "warehouse.duckdb")
    with open_warehouse(target) as con:
        for revision in sorted({r for r, _ in PARTITIONS}):
            years = {}
            for rev, year in PARTITIONS:
                if rev == revision:
                    name = f"sample_{rev}_{year}"
                    con.register(name, lake[1][(rev, year)])
                    years[year] = f"SELECT * FROM {name}"
            baci.load_years(con, revision, "t", years, origin="test sample", sha256=None)
    return target


def test_warehouse_global_screen_equals_oracle(loaded: Path, oracle: pl.DataFrame):
    """Today's warehouse path (global_screen) on the same rows loaded into baci_flows."""
    with open_warehouse(loaded, read_only=True) as con:
        assert dependence.screen_revision(con, 2031) == "HS17"  # the newest, never a sum
        screens = [dependence.global_screen(con, year, hs_revision=rev) for rev, year in PARTITIONS]
    assert_same_rows(pl.concat(screens), oracle)


def test_kernel_on_spark_and_oracle_on_spark_equal_duckdb(spark, lake: tuple[Path, dict],
                                                          countries: pa.Table,
                                                          oracle: pl.DataFrame, tmp_path: Path):
    """The kernel per (revision, year, hs6 % N) group and the transpiled SQL, both on Spark.
    The older vintage's file in the lake folder is not read (its values are 7e9)."""
    out = tmp_path / "screen"
    top = spark_engine.run_screen(spark, str(lake[0]), [2031, 2032], countries, output=str(out),
                                  top=5)
    written = pl.read_parquet(out / "*.parquet")
    assert_same_rows(written, oracle)
    assert (out / "_SUCCESS").exists() and not list(tmp_path.glob("screen.tmp-*"))
    want_top = oracle.sort(["imports_usd", "importer_iso3", "hs_code", "year", "hs_revision"],
                           descending=[True, False, False, False, False]).head(5)
    assert top.select(KEYS).rows() == want_top.select(KEYS).rows()
    flows = spark_engine.lake_flows(spark, spark_engine.lake_files(spark, str(lake[0]),
                                                                   [2031, 2032]))
    assert_same_rows(pl.from_arrow(spark_engine.screen(flows, countries, buckets=3).toArrow()),
                     oracle)  # any split by line gives the same rows
    flows.createOrReplaceTempView("flows")
    spark.createDataFrame(countries).createOrReplaceTempView("countries")
    assert_same_rows(pl.from_arrow(spark.sql(spark_sql()).toArrow()), oracle)


def test_filters_after_the_kernel(spark, lake: tuple[Path, dict], countries: pa.Table,
                                  oracle: pl.DataFrame):
    rows = spark_engine.run_screen(spark, str(lake[0]), [2032], countries, hs_revision="HS17",
                                   importer="jpn", dependent_only=True, top=1000)
    want = oracle.filter(pl.col("year") == 2032, pl.col("hs_revision") == "HS17",
                         pl.col("importer_iso3") == "JPN", pl.col("dependent"))
    assert want.height > 0
    assert_same_rows(rows, want)


def test_bad_input_one_line(spark, lake: tuple[Path, dict], countries: pa.Table, tmp_path: Path):
    with pytest.raises(ChokeholdError, match=r"no baci_flows for 2030, 2033; the lake holds "
                                             r"2031-2032") as info:
        spark_engine.run_screen(spark, str(lake[0]), [2030, 2031, 2032, 2033], countries)
    assert info.value.exit_code == 2
    with pytest.raises(ChokeholdError, match="no lake at"):
        spark_engine.run_screen(spark, f"file://{tmp_path}/nowhere", [2031], countries)
    with pytest.raises(ChokeholdError, match="not a BACI country_codes CSV") as info:
        spark_engine.countries_from_csv(spark, str(tmp_path / "country_codes.csv"))
    assert info.value.exit_code == 2
    (tmp_path / "_current.json").write_text('{"format": "something else"}')
    with pytest.raises(ChokeholdError, match="not a chokehold lake manifest"):
        spark_engine.run_screen(spark, str(tmp_path), [2031], countries)


def test_spark_failing_mid_job_leaves_no_output(spark, lake: tuple[Path, dict],
                                                countries: pa.Table, tmp_path: Path):
    """A listed file that is not Parquet: the job fails (exit 4, one line) and --output stays
    empty, while an earlier finished result there survives."""
    broken = tmp_path / "lake"
    manifest = json.loads((lake[0] / "_current.json").read_text())
    for entry in manifest["tables"]["baci_flows"]:
        target = broken / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((lake[0] / entry["path"]).read_bytes())
    target.write_bytes(b"PAR1 not really parquet PAR1")
    (broken / "_current.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    with pytest.raises(spark_engine.SparkEngineError) as info:
        spark_engine.run_screen(spark, str(broken), [2031, 2032], countries, output=str(out))
    assert info.value.exit_code == 4 and "\n" not in str(info.value)
    assert not out.exists() and not list(tmp_path.glob("out.tmp-*"))


def test_cli_engine_spark(spark, lake: tuple[Path, dict], loaded: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str], oracle: pl.DataFrame):
    """chokehold trade screen --engine spark, in the test's session (no --master: the active
    one), country names from a BACI country_codes CSV."""
    from tests.helpers import run_cli

    names = tmp_path / "country_codes_V209901.csv"
    names.write_text("country_code,country_name,country_iso2,country_iso3\n" + "".join(
        f'{code},"{iso3} name",,{iso3}\n' for code, iso3 in CODES.items()))
    out, listing = tmp_path / "result", tmp_path / "top.json"
    done = run_cli(capsys, "-w", str(loaded), "trade", "screen", "--engine", "spark",
                   "--years", "2031-2032", "--input", str(lake[0]), "--result", str(out),
                   "--countries", f"file://{names}",
                   "--top", "3", "--format", "json", "--output", str(listing))
    assert done.exit_code == 0, done.stderr
    assert done.stdout == "" and f"wrote 3 rows to {listing}" in done.stderr
    rows = json.loads(listing.read_text())
    want = oracle.sort(["imports_usd", "importer_iso3", "hs_code", "year", "hs_revision"],
                       descending=[True, False, False, False, False]).head(3)
    assert [(r["year"], r["hs_revision"], r["importer_iso3"], r["hs_code"]) for r in rows] \
        == want.select(KEYS).rows()
    assert_same_rows(pl.read_parquet(out / "*.parquet"), oracle)
    done = run_cli(capsys, "-w", str(loaded), "trade", "screen", "--engine", "spark",
                   "--years", "2031-2032", "--master", "local[2]", "--remote", "sc://x:15002",
                   "--input", str(lake[0]))
    assert done.exit_code == 2 and "exclude each other" in done.stderr


def _module(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chokehold.spark", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_module_entry_point_bad_input_without_a_jvm(tmp_path: Path):
    """python -m chokehold.spark: missing lake (exit 2) and no Java (exit 4), one line each."""
    assert Path(_module("path").stdout.strip()).name == "spark.py"
    done = _module("screen", "--years", "2031", "--master", "local[1]", "--input",
                   str(tmp_path / "none"), "--countries", str(tmp_path / "c.csv"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"no lake at {tmp_path / 'none'}" in done.stderr
    (tmp_path / "_current.json").write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)
    done = _module("screen", "--years", "2031", "--master", "local[1]", "--countries", "x.csv",
                   "--input", str(tmp_path), env=env)
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1 and "needs Java 17+" in done.stderr
    done = _module("screen", "--years", "20x1")
    assert done.returncode == 2 and "--years '20x1'" in done.stderr


def test_import_shares_on_spark_equal_the_warehouse_path(spark, lake: tuple[Path, dict],
                                                        loaded: Path, countries: pa.Table,
                                                        tmp_path: Path):
    """Partner shares and HHI per importer, commodity group and year on Spark (the share kernel
    per importer bucket) equal import_shares on the warehouse's trade_flows, group by group;
    811292 belongs to two groups (gallium and germanium) in HS17."""
    from chokehold.warehouse import read_query

    lines = spark_engine.commodity_lines_from_warehouse(loaded)
    flows = spark_engine.lake_flows(spark, spark_engine.lake_files(spark, str(lake[0]),
                                                                   [2031, 2032]))
    got = pl.from_arrow(spark_engine.import_shares(flows, lines, countries, buckets=3).toArrow())
    with open_warehouse(loaded, read_only=True) as con:
        trade = read_query(con, "SELECT * FROM trade_flows WHERE source = 'baci' "
                                "AND year(period) IN (2031, 2032)")
        hs = read_query(con, "SELECT commodity_id, hs_revision, hs_code FROM commodity_hs")
    keys = ["importer_iso3", "partner_iso3", "year"]
    compared = 0
    for (commodity, rev), part in got.group_by("commodity_id", "hs_revision"):
        want = dependence.import_shares(dependence.commodity_flows(trade, hs, commodity, rev))
        want = want.select(pl.col("reporter_iso3").alias("importer_iso3"), "partner_iso3",
                           pl.col("period").dt.year().cast(pl.Int32).alias("year"),
                           "value_usd", "qty", "share", "hhi").sort(keys)
        part = part.select(want.columns).sort(keys)
        assert part.select(keys).rows() == want.select(keys).rows(), (commodity, rev)
        for column in ("value_usd", "qty", "share", "hhi"):
            a, b = part[column].to_numpy(), want[column].to_numpy()
            assert np.array_equal(np.isnan(a), np.isnan(b)), column
            np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-12, atol=0)
        compared += part.height
    assert {"gallium", "germanium", "rare_earths"} <= set(got["commodity_id"])
    assert compared == got.height > 100
    from chokehold.spark import main  # the spark-submit script, in the active session

    out = tmp_path / "shares"
    assert main(["shares", "--years", "2031-2032", "--input", str(lake[0]), "--warehouse",
                 str(loaded), "--output", str(out)]) == 0
    assert pl.read_parquet(out / "*.parquet").sort(got.columns).equals(got.sort(got.columns))


SHARE_KEYS = ("period", "reporter_iso3", "commodity", "partner_iso3")


def assert_same_shares(got: list[dict], want: list[dict]) -> None:
    """The same rows (period, importer, group, partner); value, quantity, share and HHI within
    1e-12 relative; basis, months and source equal."""
    def keyed(rows: list[dict]) -> dict:
        return {tuple(r[k] for k in SHARE_KEYS): r for r in rows}

    got_rows, want_rows = keyed(got), keyed(want)
    assert sorted(got_rows) == sorted(want_rows) and len(got_rows) == len(got)
    for key, row in want_rows.items():
        for column in ("value_usd", "qty", "share", "hhi"):
            a, b = got_rows[key][column], row[column]
            assert (a is None) == (b is None), (key, column)
            if b is not None:
                assert a == pytest.approx(b, rel=1e-12, abs=0), (key, column)
        assert [got_rows[key][c] for c in ("basis", "months", "source")] == \
            [row[c] for c in ("basis", "months", "source")]


def _duckdb_shares(capsys: pytest.CaptureFixture[str], loaded: Path, *args: str) -> list[dict]:
    """trade shares on the warehouse (the DuckDB/Polars path), sample years only."""
    from tests.helpers import run_cli

    done = run_cli(capsys, "-w", str(loaded), "trade", "shares", "--revision", "HS17",
                   "--format", "json", *args)
    assert done.exit_code == 0, done.stderr
    return [r for r in json.loads(done.stdout) if r["period"][:4] in ("2031", "2032")]


def test_cli_shares_engine_spark_equal_the_duckdb_path(spark, lake: tuple[Path, dict],
                                                       loaded: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]):
    """chokehold trade shares --engine spark (the share kernel per importer bucket, in the
    test's session) prints what trade shares prints on the warehouse, on value and on quantity;
    --output holds every importer x group x year."""
    from tests.helpers import run_cli

    for basis in ("value", "qty"):
        want = _duckdb_shares(capsys, loaded, "-i", "JPN", "-c", "gallium", "--basis", basis)
        assert len(want) > 5
        out = tmp_path / f"shares-{basis}"
        done = run_cli(capsys, "-w", str(loaded), "trade", "shares", "--engine", "spark",
                       "--years", "2031-2032", "--input", str(lake[0]), "--revision", "HS17",
                       "-i", "Japan", "-c", "gallium", "--basis", basis, "--top", "1000",
                       "--result", str(out), "--format", "json")
        assert done.exit_code == 0, done.stderr
        got = json.loads(done.stdout)
        assert {r["hs_revision"] for r in got} == {"HS17"}
        assert_same_shares(got, want)
        written = pl.read_parquet(out / "*.parquet")
        assert set(written["commodity_id"]) == {"gallium"}
        assert written["importer_iso3"].n_unique() == len(CODES)  # every importer is written
    done = run_cli(capsys, "-w", str(loaded), "trade", "shares", "--engine", "spark",
                   "--years", "2031", "--input", str(lake[0]), "--freq", "monthly")
    assert done.exit_code == 2 and "drop --source and --freq" in done.stderr
    done = run_cli(capsys, "-w", str(loaded), "trade", "shares", "--engine", "spark",
                   "--years", "2031", "--input", str(lake[0]), "-c", "unobtainium")
    assert done.exit_code == 2 and "unobtainium" in done.stderr


def _chokehold(*args: str) -> subprocess.CompletedProcess:
    """The chokehold command in its own process (a Connect client changes pyspark's mode for
    the whole process, so it cannot share one with the local session)."""
    return subprocess.run([str(Path(sys.executable).parent / "chokehold"), *args],
                          capture_output=True, text=True, timeout=300)


def test_spark_connect_equals_the_duckdb_path(connect_server: ConnectServer,
                                              lake: tuple[Path, dict], loaded: Path,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]):
    """--remote sc://127.0.0.1:PORT to a real Spark Connect server: the kernels run there
    (applyInArrow under Connect) and the rows equal the DuckDB path's, screen and shares."""
    url = connect_server.url()
    out = tmp_path / "screen"
    done = _chokehold("-w", str(loaded), "trade", "screen", "--engine", "spark", "--remote", url,
                      "--years", "2031-2032", "--input", str(lake[0]), "--result", str(out),
                      "--top", "5", "--format", "json")
    assert done.returncode == 0, done.stderr
    with open_warehouse(loaded, read_only=True) as con:
        want = pl.concat([dependence.global_screen(con, year, hs_revision=rev)
                          for rev, year in PARTITIONS])
    assert_same_rows(pl.read_parquet(out / "*.parquet"), want)
    assert (out / "_SUCCESS").exists() and not list(tmp_path.glob("screen.tmp-*"))
    top = want.sort(["imports_usd", "importer_iso3", "hs_code", "year", "hs_revision"],
                    descending=[True, False, False, False, False]).head(5)
    assert [(r["year"], r["hs_revision"], r["importer_iso3"], r["hs_code"], r["top_supplier"])
            for r in json.loads(done.stdout)] == \
        top.select(*KEYS, "top_supplier").rows()
    done = _chokehold("-w", str(loaded), "trade", "shares", "--engine", "spark", "--remote", url,
                      "--years", "2031-2032", "--input", str(lake[0]), "--revision", "HS17",
                      "-i", "KOR", "-c", "germanium", "--top", "1000", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert_same_shares(json.loads(done.stdout),
                       _duckdb_shares(capsys, loaded, "-i", "KOR", "-c", "germanium"))


def test_remote_nobody_listens_on(lake: tuple[Path, dict], loaded: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]):
    """A --remote where no server listens: one line, exit 4, at once (the Connect client alone
    would retry for ten minutes), nothing under --result; a URL that is not sc://: exit 2."""
    from tests.helpers import run_cli

    out = tmp_path / "out"
    url = f"sc://127.0.0.1:{_free_port()}"
    for command in ("screen", "shares"):
        done = run_cli(capsys, "-w", str(loaded), "trade", command, "--engine", "spark",
                       "--remote", url, "--years", "2031", "--input", str(lake[0]),
                       "--result", str(out))
        assert done.exit_code == 4, done.stderr
        assert done.stderr.strip().count("\n") == 0
        assert f"no Spark Connect server at {url}" in done.stderr
        assert not out.exists() and not list(tmp_path.glob("out.tmp-*"))
    done = run_cli(capsys, "-w", str(loaded), "trade", "screen", "--engine", "spark",
                   "--remote", "http://127.0.0.1:15002", "--years", "2031",
                   "--input", str(lake[0]))
    assert done.exit_code == 2 and "expected a Spark Connect URL" in done.stderr
