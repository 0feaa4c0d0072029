"""The lake: bulk facts as content-named Parquet partitions, the catalog, _current.json,
vintages as manifests that share partitions, orphan cleanup, m0009 and SIGKILL safety."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import copy_warehouse
from fakesources import data_state, months, register, tiny_settings, write_fx
from fakesources.killpoint import run_until
from test_trade_baci import COUNTRIES, Y2023, write_release
from typer.testing import CliRunner

from chokehold import vintages
from chokehold.analysis import dependence
from chokehold.cli import app
from chokehold.pipelines import baci
from chokehold.pipelines.refresh import refresh_warehouse
from chokehold.warehouse import lake, open_warehouse, read_query, views
from chokehold.warehouse.schema import table_specs
from chokehold.warehouse.staging import integrity_problems

CONTRACT_TYPES = [("exporter_code", "SMALLINT"), ("importer_code", "SMALLINT"),
                  ("hs6", "INTEGER"), ("value_usd", "DOUBLE"), ("qty", "DOUBLE")]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_types(path: Path) -> list[tuple[str, str]]:
    with duckdb.connect() as con:
        return [(r[0], r[1]) for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
        ).fetchall()]


@pytest.fixture
def lakehouse(built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The offline warehouse (30 embedded BACI years in the lake) with the tiny FX source;
    returns (settings, refresh options, FX input folder)."""
    register(monkeypatch)
    settings = tiny_settings(tmp_path)
    copy_warehouse(built_warehouse, settings.warehouse)
    folder = write_fx(tmp_path / "in", months(2024, 3))
    return settings, {"path": [folder]}, folder


def catalog_of(warehouse: Path) -> list[lake.PartFile]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return lake.catalog(con)


def test_baci_partitions_follow_the_contract(built_warehouse: Path) -> None:
    entries = [e for e in catalog_of(built_warehouse) if e.table == "baci_flows"]
    root = built_warehouse.parent / "lake"
    assert len(entries) == 30 and {e.keys["hs_revision"] for e in entries} == {"HS92"}
    for entry in entries[:3]:
        path = root / entry.path
        assert entry.path == (f"baci_flows/hs_revision=HS92/year={entry.keys['year']}/"
                              f"{entry.sha256}.parquet")
        assert sha(path) == entry.sha256 and file_types(path) == CONTRACT_TYPES
    with open_warehouse(built_warehouse, read_only=True) as con:
        in_view = con.execute("SELECT count(*) FROM baci_flows").fetchall()[0][0]
        kind = con.execute("SELECT table_type FROM information_schema.tables "
                           "WHERE table_name = 'baci_flows'").fetchall()
    assert in_view == sum(e.rows for e in entries) == 1_264_888 and kind == [("VIEW",)]


def test_m0009_moves_an_m0008_era_warehouse_into_the_lake(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    codes = pl.DataFrame({"scheme": "baci", "code": ["392", "156", "704"],
                          "iso3": ["JPN", "CHN", "VNM"], "name": ["Japan", "China", "Viet Nam"]})
    with open_warehouse(path, create=True) as con:
        from chokehold.warehouse import load_frame
        load_frame(con, "country_codes", codes, source_id="t")
        # As m0008 left it: baci_flows a table, no catalog, no lake.
        con.execute("DROP VIEW trade_flows")
        con.execute("DROP VIEW baci_flows")
        con.execute("DROP TABLE lake_files")
        con.execute("DROP TABLE warehouse_meta")
        con.execute(table_specs()["baci_flows"].ddl())
        con.execute("INSERT INTO baci_batches VALUES (1, 'HS17', 2023, 'V1-HS17'), "
                    "(2, 'HS92', 2023, 'V1-HS92')")
        con.execute("INSERT INTO baci_flows VALUES (1, 392, 156, 10121, 5.0, NULL), "
                    "(1, 392, 704, 280530, 7.0, 1.5), (2, 392, 156, 280530, 9.0, 2.0)")
        con.execute("DELETE FROM schema_migrations WHERE id = '0009_lake'")
    with open_warehouse(path) as con:
        rows = con.execute("SELECT hs_revision, partner_iso3, hs_code, value_usd, qty, vintage "
                           "FROM trade_flows ORDER BY ALL").fetchall()
        kind = con.execute("SELECT table_type FROM information_schema.tables "
                           "WHERE table_name = 'baci_flows'").fetchall()
        entries = lake.catalog(con)
        assert integrity_problems(con) == []
    assert rows == [("HS17", "CHN", "010121", 5.0, None, "V1-HS17"),
                    ("HS17", "VNM", "280530", 7.0, 1.5, "V1-HS17"),
                    ("HS92", "CHN", "280530", 9.0, 2.0, "V1-HS92")]
    assert kind == [("VIEW",)]
    assert [(e.part, e.rows, e.release) for e in entries] == [
        ("baci_flows/hs_revision=HS17/year=2023", 2, "V1-HS17"),
        ("baci_flows/hs_revision=HS92/year=2023", 1, "V1-HS92")]
    for entry in entries:
        file = tmp_path / "lake" / entry.path
        assert sha(file) == entry.sha256 and file_types(file) == CONTRACT_TYPES


def test_views_live_in_code_and_follow_it(warehouse_copy: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing warehouse's views are the code's, and follow a change of the code."""
    with open_warehouse(warehouse_copy) as con:
        live = dict(con.execute("SELECT view_name, sql FROM duckdb_views() "
                                "WHERE NOT internal").fetchall())
        for sql in views.statements(con):
            con.execute(sql)
        again = dict(con.execute("SELECT view_name, sql FROM duckdb_views() "
                                 "WHERE NOT internal").fetchall())
    assert live == again
    assert {"price_units", "prices_usd", "price_gap", "trade_flows", "baci_flows"} <= set(live)
    monkeypatch.setattr(views, "FX_MAX_CARRY_DAYS", 11)
    monkeypatch.setattr(views, "PRICES_USD_VIEW", views.PRICES_USD_VIEW.replace(
        "p.date - d.date <= 4", "p.date - d.date <= 11"))
    with open_warehouse(warehouse_copy, read_only=True) as con:  # read-only opens follow too
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'prices_usd'"
                          ).fetchall()[0][0]
    assert "<= 11" in sql and "<= 4)" not in sql


def test_current_json_lists_exactly_the_files_of_each_table(lakehouse) -> None:
    settings, options, _ = lakehouse
    refresh_warehouse(settings, ["tinyfx"], options)
    document = json.loads((settings.lake_root / lake.CURRENT).read_text())
    assert document["format"] == "chokehold-lake/1" and document["published_at"].endswith("Z")
    listed = {(t, e["path"]) for t, entries in document["tables"].items() for e in entries}
    assert listed == {(e.table, e.path) for e in catalog_of(settings.warehouse)}
    one = document["tables"]["baci_flows"][0]
    assert set(one) >= {"path", "hs_revision", "year", "release", "rows", "sha256"}
    assert isinstance(one["year"], int) and one["release"].startswith("V202401b")
    assert sha(settings.lake_root / one["path"]) == one["sha256"]
    with duckdb.connect() as con:  # another engine reads only the listed files
        files = [str(settings.lake_root / e["path"]) for e in document["tables"]["baci_flows"]]
        assert con.execute(f"SELECT count(*) FROM read_parquet({files})").fetchall()[0][0] == \
            sum(e["rows"] for e in document["tables"]["baci_flows"])


def test_a_small_refresh_shares_every_partition_and_reuses_its_digest(
        lakehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, options, folder = lakehouse
    first = refresh_warehouse(settings, ["tinyfx"], options)
    bulk_before = sorted(p for p in (settings.lake_root / "baci_flows").rglob("*.parquet"))
    write_fx(folder, months(2024, 5))
    second = refresh_warehouse(settings, ["tinyfx"], options)
    assert second.published_vintage and second.vintage_id != first.vintage_id
    old, new = (vintages.read_manifest(settings.vintages_dir / v.vintage_id)
                for v in (first, second))
    assert new["lake"]["baci_flows"] == old["lake"]["baci_flows"]
    assert new["lake"]["reported_flows"] == old["lake"]["reported_flows"]
    assert new["tables"]["baci_batches"]["path"] == old["tables"]["baci_batches"]["path"]
    assert new["tables"]["fx_rates"]["path"] != old["tables"]["fx_rates"]["path"]
    assert sorted((settings.lake_root / "baci_flows").rglob("*.parquet")) == bulk_before
    folder_bytes = sum(p.stat().st_size for p in (settings.vintages_dir / second.vintage_id
                                                  ).rglob("*"))
    assert folder_bytes < 100_000
    computed = vintages.diff_vintages(first.vintage_id, second.vintage_id, settings,
                                      tolerance=0.5)  # another tolerance: computed afresh
    assert computed.tables.filter(pl.col("table") == "trade_flows")["added"].to_list() == [0]

    def no_recompute(*_: object, **__: object) -> None:
        raise AssertionError("diff recomputed although digest.json holds it")

    monkeypatch.setattr(vintages, "diff_folders", no_recompute)
    stored = vintages.diff_vintages("previous", "latest", settings)
    assert stored.to_id == second.vintage_id
    assert stored.new_periods.filter(pl.col("dataset") == "fx_rates").height == 1
    with vintages.open_vintage(first.vintage_id, settings) as con:
        assert con.execute("SELECT count(*) FROM fx_rates WHERE source = 'tinyfx'"
                           ).fetchall() == [(3,)]
        assert con.execute("SELECT count(*) FROM trade_flows WHERE source = 'baci'"
                           ).fetchall() == [(1_264_888,)]


def test_reported_flows_live_in_partitions_that_change_only_with_their_rows(
        warehouse_copy: Path) -> None:
    """reported_flows: one file per source, frequency, reporter and year, merged by key; a
    partition whose rows do not change keeps its file; revisions and deletions are kept."""
    from chokehold.warehouse import load_frame
    rows = pl.DataFrame({
        "reporter_iso3": ["JPN", "JPN", "KOR", "JPN"], "partner_iso3": ["CHN", "VNM", "CHN", "CHN"],
        "flow": "import", "period": [date(2024, 1, 1)] * 3 + [date(2023, 5, 1)], "freq": "M",
        "hs_code": "280530", "hs_revision": "HS17", "value_usd": [1.0, 2.0, 3.0, 4.0],
        "qty": [None, 1.0, 2.0, 3.0], "qty_unit": [None, "t", "t", "t"], "source": "t",
        "vintage": "v1"})
    with open_warehouse(warehouse_copy) as con:
        root = lake.root(con)
        first_load = load_frame(con, "reported_flows", rows, source_id="t", vintage="v1")
        first = lake.catalog(con, "reported_flows")
        again = load_frame(con, "reported_flows", rows, source_id="t", vintage="v2")
        assert lake.catalog(con, "reported_flows") == first
        revised = load_frame(con, "reported_flows", rows.filter(pl.col("reporter_iso3") == "KOR")
                             .with_columns(pl.col("value_usd") * 2, pl.lit("v2").alias("vintage")),
                             source_id="t", vintage="v2")
        second = lake.catalog(con, "reported_flows")
        in_files = con.execute("SELECT sum(value_usd) FROM read_parquet(?)",
                               [[str(root / e.path) for e in second]]).fetchall()[0][0]
        kept_vintages = dict(con.execute("SELECT reporter_iso3, list(DISTINCT vintage) "
                                         "FROM trade_flows WHERE source = 't' GROUP BY 1"
                                         ).fetchall())
        revision = con.execute("SELECT column_name, old_value, new_value, old_vintage, "
                               "new_vintage FROM revisions WHERE table_name = 'reported_flows'"
                               ).fetchall()
        trimmed = load_frame(con, "reported_flows", rows.head(1), source_id="t", vintage="v3",
                             replace_scope="reporter_iso3 = 'JPN' AND year(period) = 2024")
        third = lake.catalog(con, "reported_flows")
        left = con.execute("SELECT partner_iso3, period FROM reported_flows "
                           "WHERE reporter_iso3 = 'JPN' ORDER BY ALL").fetchall()
        deleted = con.execute("SELECT row_key FROM revisions WHERE column_name = '*'").fetchall()
        tables = con.execute("SELECT count(*) FROM duckdb_tables() "
                             "WHERE table_name = 'reported_flows'").fetchall()
        assert integrity_problems(con) == []
    assert [e.part for e in first] == [
        "reported_flows/source=t/freq=M/reporter_iso3=JPN/year=2023",
        "reported_flows/source=t/freq=M/reporter_iso3=JPN/year=2024",
        "reported_flows/source=t/freq=M/reporter_iso3=KOR/year=2024"]
    assert [e.rows for e in first] == [1, 2, 1] and tables == [(0,)]
    for entry in first:
        assert entry.path == f"{entry.part}/{entry.sha256}.parquet"
        assert sha(root / entry.path) == entry.sha256
    assert (first_load.rows_inserted, again.rows_unchanged, revised.rows_updated) == (4, 4, 1)
    assert [e.path for e in second][:2] == [e.path for e in first][:2]  # JPN files shared
    assert second[2].path != first[2].path and in_files == 13.0
    assert kept_vintages == {"JPN": ["v1"], "KOR": ["v2"]}  # unchanged rows keep their vintage
    assert revision == [("value_usd", "3.0", "6.0", "v1", "v2")]
    assert (trimmed.rows_deleted, trimmed.rows_unchanged) == (1, 1)
    assert left == [("CHN", date(2023, 5, 1)), ("CHN", date(2024, 1, 1))]
    assert [e.path for e in third] == [first[0].path, third[1].path, second[2].path]
    assert third[1].path != first[1].path and third[1].rows == 1
    assert len(deleted) == 1 and '"partner_iso3":"VNM"' in deleted[0][0]


def test_diff_compares_only_the_changed_partitions(lakehouse, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """New BACI years are counted from the manifests; a replaced year is compared alone."""
    settings, options, _ = lakehouse
    first = refresh_warehouse(settings, ["tinyfx"], options)
    release = write_release(tmp_path / "rel")
    second = refresh_warehouse(settings, ["baci"], {"path": release})
    newer = tmp_path / "new" / "BACI_HS17_Y2023_V202601.csv"
    newer.parent.mkdir()
    newer.write_text(Y2023.replace("1200,25", "1250,25"))
    third = refresh_warehouse(settings, ["baci"], {"path": [newer]})
    attached: list[set[str] | None] = []
    attach = vintages._attach_views
    monkeypatch.setattr(vintages, "_attach_views", lambda con, folder, schema, parts=None: (
        attached.append(parts), attach(con, folder, schema, parts)))
    folder = {v.vintage_id: settings.vintages_dir / v.vintage_id for v in (first, second, third)}
    added = vintages.diff_folders(folder[first.vintage_id], folder[second.vintage_id], 0.001)
    assert attached == [set()] * 4  # codes alike; both partitions new: no row read
    trade = added.tables.filter(pl.col("table") == "trade_flows").row(0, named=True)
    assert (trade["added"], trade["removed"], trade["changed"]) == (6, 0, 0)
    assert added.tables.filter(pl.col("table") == "fx_rates")["added"].to_list() == [0]
    assert added.new_periods.filter(pl.col("dataset") == "trade_flows").is_empty()  # HS92 had them
    attached.clear()
    revised = vintages.diff_folders(folder[second.vintage_id], folder[third.vintage_id], 0.001)
    assert attached[2:] == [{"baci_flows/hs_revision=HS17/year=2023"}] * 2
    trade = revised.tables.filter(pl.col("table") == "trade_flows").row(0, named=True)
    assert (trade["added"], trade["removed"], trade["changed"]) == (0, 0, 2)  # value + vintage
    value = revised.revised.filter(pl.col("column_name") == "value_usd").row(0, named=True)
    assert (value["old_value"], value["new_value"]) == (1_200_000.0, 1_250_000.0)


def test_orphans_and_pruned_vintages_leave_the_lake(lakehouse) -> None:
    settings, options, folder = lakehouse
    settings = settings.model_copy(update={"vintage_keep_last": 1,
                                           "vintage_keep_quarter_ends": False})
    refresh_warehouse(settings, ["tinyfx"], options)
    first_fx = {p for p in (settings.lake_root / lake.SNAPSHOTS / "fx_rates").iterdir()}
    stray = settings.lake_root / "baci_flows" / "hs_revision=HS17" / "year=2030"
    stray.mkdir(parents=True)
    (stray / ".tmp-abc.parquet").write_bytes(b"half")
    (stray / f"{'0' * 64}.parquet").write_bytes(b"never published")
    write_fx(folder, months(2024, 4))
    refresh_warehouse(settings, ["tinyfx"], options)
    assert not stray.exists()
    now_fx = {p for p in (settings.lake_root / lake.SNAPSHOTS / "fx_rates").iterdir()}
    assert not (now_fx & first_fx) and len(now_fx) == 1  # the pruned vintage's snapshot went
    for entry in catalog_of(settings.warehouse):
        assert (settings.lake_root / entry.path).exists()


def test_two_hs_revisions_side_by_side(warehouse_copy: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with open_warehouse(warehouse_copy) as con:
        baci.refresh(con, None, path=write_release(tmp_path / "rel"))
        assert dependence.screen_revision(con, 2022) == "HS17"
        assert dependence.screen_revision(con, 2022, prefer="HS92") == "HS92"
        assert dependence.screen_revision(con, 2021) == "HS92"
        hs92 = dependence.global_screen(con, 2022, hs_revision="HS92")
        flows = read_query(con, "SELECT * FROM trade_flows WHERE source = 'baci' AND "
                                "reporter_iso3 = 'JPN' AND period = DATE '2022-01-01'")
        lines = read_query(con, "SELECT commodity_id, hs_revision, hs_code FROM commodity_hs")
    assert set(hs92["hs_revision"]) == {"HS92"}
    monkeypatch.setenv("CHOKEHOLD_WAREHOUSE", str(warehouse_copy))
    result = CliRunner().invoke(app, ["trade", "screen", "--year", "2022", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert set(pl.read_csv(result.stdout.encode())["hs_revision"]) == {"HS17"}
    monkeypatch.setenv("CHOKEHOLD_HS_REVISION", "HS92")
    result = CliRunner().invoke(app, ["trade", "screen", "--year", "2022", "--format", "csv"])
    assert set(pl.read_csv(result.stdout.encode())["hs_revision"]) == {"HS92"}
    commodity = lines.filter(pl.col("hs_revision") == "HS17")["commodity_id"][0]
    chosen = dependence.commodity_flows(flows, lines, commodity)
    assert set(chosen["hs_revision"]) <= {"HS17"}


KILL_POINTS = ("written", "sealed", "publish", "current")
JAPAN_SAMPLE = Path("data/samples/japan_customs/japan_customs_2024.csv").resolve()


@pytest.mark.slow  # a fault run: a refresh killed at each point
@pytest.mark.parametrize("point", KILL_POINTS)
@pytest.mark.parametrize("source", ["baci", "japan_customs"])
def test_sigkill_while_partitions_are_written_or_the_catalog_commits(
        built_warehouse: Path, tmp_path: Path, point: str, source: str) -> None:
    """BACI years and reported-flow partitions (Japan Customs) alike."""
    settings = tiny_settings(tmp_path)
    copy_warehouse(built_warehouse, settings.warehouse)
    options = ({"path": write_release(tmp_path / "rel")} if source == "baci"
               else {"path": [JAPAN_SAMPLE]})
    kwargs = {"warehouse": settings.warehouse}
    refresh_warehouse(settings, ["reference"], {})  # a first vintage: the state before
    before, catalog_before = data_state(settings.warehouse), catalog_of(settings.warehouse)
    context = multiprocessing.get_context("forkserver")
    proc = context.Process(target=run_until, args=(kwargs, [source], options, point))
    proc.start()
    proc.join(300)
    assert proc.exitcode == -9
    with open_warehouse(settings.warehouse, read_only=True) as con:
        assert integrity_problems(con) == []
        live = lake.catalog(con)
        for table in lake.TABLES:
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == sum(
                e.rows for e in live if e.table == table)
    if point == "current":  # swapped in: the new data, _current.json one publish behind
        assert data_state(settings.warehouse) != before and live != catalog_before
    else:
        assert data_state(settings.warehouse) == before and live == catalog_before
    listed = json.loads((settings.lake_root / lake.CURRENT).read_text())["tables"]
    assert all((settings.lake_root / e["path"]).exists() for es in listed.values() for e in es)
    refresh_warehouse(settings, [source], options)  # the next refresh cleans up
    listed = json.loads((settings.lake_root / lake.CURRENT).read_text())["tables"]
    current = {e.path for e in catalog_of(settings.warehouse)}
    assert {e["path"] for es in listed.values() for e in es} == current
    on_disk = {p.relative_to(settings.lake_root).as_posix()
               for p in settings.lake_root.rglob("*") if p.is_file()}
    referenced = lake.referenced(vintages.available(settings))
    assert on_disk - {lake.CURRENT} == current | referenced
    assert not [p for p in on_disk if os.path.basename(p).startswith(lake.TMP_PREFIX)]


def test_diff_after_new_country_codes_compares_the_shared_partitions(
        lakehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release that names a country anew changes the rows of every BACI partition both
    vintages have, so those are compared; its own new year is still counted from the
    manifests (its rows are all new whatever the codes say)."""
    settings, _, _ = lakehouse
    second = refresh_warehouse(settings, ["baci"], {"path": write_release(tmp_path / "rel")})
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "country_codes_V202601.csv").write_text(
        COUNTRIES.replace("704,Viet Nam,VN,VNM", "704,Viet Nam,VN,VNX"))
    (folder / "BACI_HS17_Y2021_V202601.csv").write_text(
        "t,i,j,k,v,q\n2021,156,392,280530,900,18\n2021,156,842,280530,40,1\n")
    third = refresh_warehouse(settings, ["baci"], {"path": [folder / "BACI_HS17_Y2021_V202601.csv"]})
    attached: list[set[str] | None] = []
    attach = vintages._attach_views
    monkeypatch.setattr(vintages, "_attach_views", lambda con, folder, schema, parts=None: (
        attached.append(parts), attach(con, folder, schema, parts)))
    diff = vintages.diff_folders(settings.vintages_dir / second.vintage_id,
                                 settings.vintages_dir / third.vintage_id, 0.001)
    compared = attached[2]
    assert attached[3] == compared and "baci_flows/hs_revision=HS17/year=2021" not in compared
    assert {"baci_flows/hs_revision=HS17/year=2022", "baci_flows/hs_revision=HS92/year=2010"} \
        <= compared
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:  # (none in 2021)
        renamed = con.execute("SELECT count(*) FROM baci_flows WHERE 704 IN (importer_code, "
                              "exporter_code)").fetchall()[0][0]
    trade = diff.tables.filter(pl.col("table") == "trade_flows").row(0, named=True)
    assert renamed >= 2  # the release's own 2022 and 2023 rows, and the embedded HS92 years'

    assert trade["added"] == 2 + renamed and trade["removed"] == renamed  # VNM rows now VNX
