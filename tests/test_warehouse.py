"""The warehouse: migrations, schema as data, idempotent and transactional loads."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from chokehold.errors import DataError, WarehouseError
from chokehold.warehouse import load_frame, open_warehouse, read_query, table_specs
from chokehold.warehouse.migrations import all_migrations

COUNTRIES = pl.DataFrame({"iso3": ["JPN", "CHN"], "iso2": ["JP", "CN"], "m49": [392, 156],
                          "name": ["Japan", "China"]})


def test_fresh_warehouse_matches_the_table_specs(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        for spec in table_specs().values():
            actual = read_query(con, "SELECT column_name, data_type FROM information_schema.columns "
                                     "WHERE table_name = ? ORDER BY ordinal_position", [spec.name])
            assert actual["column_name"].to_list() == spec.column_names, spec.name
            assert actual["data_type"].to_list() == [c.type for c in spec.columns], spec.name
        applied = {r[0] for r in con.execute("SELECT id FROM schema_migrations").fetchall()}
    assert applied == {m.id for m in all_migrations()}


def test_column_descriptions_are_whole_sentences() -> None:
    """An unquoted description with a comma used to be cut there by YAML (the rest became a
    key); the parser now refuses unknown column keys, and the specs load."""
    from chokehold.warehouse.schema import _parse

    flow = table_specs()["trade_flows"].column("flow")
    assert flow.description == "import, export or re_export."
    with pytest.raises(ValueError, match="column flow: unknown keys"):
        _parse("t", {"description": "d", "primary_key": ["flow"], "columns": {
            "flow": {"type": "VARCHAR", "description": "import", "export or re_export.": None}}})


def test_missing_warehouse_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="chokehold refresh --offline"):
        open_warehouse(tmp_path / "absent.duckdb")


def test_corrupt_warehouse_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    path.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(WarehouseError, match="cannot open warehouse"):
        open_warehouse(path, read_only=True)


def test_newer_warehouse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path, create=True) as con:
        con.execute("INSERT INTO schema_migrations VALUES ('9999_future', 'from the future', now())")
    with pytest.raises(WarehouseError, match="newer chokehold"):
        open_warehouse(path)


def test_older_warehouse_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path, create=True) as con:
        con.execute("DROP TABLE production")
        con.execute("DELETE FROM schema_migrations WHERE id = '0001_foundation'")
    with open_warehouse(path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM production").fetchall() == [(0,)]
        ids = [r[0] for r in con.execute("SELECT id FROM schema_migrations").fetchall()]
    assert "0001_foundation" in ids


def test_load_is_idempotent_and_counts_changes(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        first = load_frame(con, "countries", COUNTRIES, source_id="test")
        again = load_frame(con, "countries", COUNTRIES, source_id="test")
        renamed = COUNTRIES.with_columns(
            pl.when(pl.col("iso3") == "JPN").then(pl.lit("Nippon")).otherwise("name").alias("name"))
        changed = load_frame(con, "countries", renamed, source_id="test")
        names = dict(con.execute("SELECT iso3, name FROM countries").fetchall())
        runs = con.execute("SELECT count(*) FROM load_runs").fetchall()[0][0]
    assert (first.rows_inserted, first.rows_unchanged) == (2, 0)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 2)
    assert (changed.rows_updated, changed.rows_unchanged) == (1, 1)
    assert names == {"JPN": "Nippon", "CHN": "China"}
    assert runs == 3


@pytest.mark.parametrize(
    ("bad", "row", "field", "message"),
    [
        (COUNTRIES.with_columns(pl.lit("x").alias("m49")), 1, "m49", "does not parse as INTEGER"),
        (COUNTRIES.with_columns(pl.Series("iso3", ["JPN", "CHINA"])), 2, "iso3", "fails check"),
        (COUNTRIES.with_columns(pl.Series("name", ["Japan", None])), 2, "name", "missing value"),
        (pl.concat([COUNTRIES, COUNTRIES.head(1)]), 3, "iso3", "duplicate primary key"),
        (COUNTRIES.drop("name"), None, "name", "missing columns"),
    ],
)
def test_bad_frames_name_row_and_field_and_change_nothing(
    tmp_path: Path, bad: pl.DataFrame, row: int | None, field: str, message: str
) -> None:
    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        load_frame(con, "countries", COUNTRIES.head(1), source_id="test")
        with pytest.raises(DataError, match=message) as caught:
            load_frame(con, "countries", bad, source_id="test", origin="countries.csv")
        assert (caught.value.row, caught.value.field) == (row, field)
        assert "countries.csv" in str(caught.value)
        assert con.execute("SELECT iso3 FROM countries").fetchall() == [("JPN",)]
        assert con.execute("SELECT count(*) FROM load_runs").fetchall() == [(1,)]


def test_replace_scope_deletes_what_the_source_no_longer_delivers(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        load_frame(con, "countries", COUNTRIES, source_id="test")
        result = load_frame(con, "countries", COUNTRIES.head(1), source_id="test",
                            replace_scope="TRUE")
        left = con.execute("SELECT iso3 FROM countries").fetchall()
    assert result.rows_deleted == 1
    assert left == [("JPN",)]


def test_world_partner_rows_are_refused(tmp_path: Path) -> None:
    flow = pl.DataFrame({
        "reporter_iso3": ["JPN"], "partner_iso3": ["WLD"], "flow": ["import"],
        "period": ["2024-01-01"], "freq": ["A"], "hs_code": ["280530"], "hs_revision": ["HS17"],
        "value_usd": [1.0], "qty": [None], "qty_unit": [None], "source": ["t"], "vintage": ["v"],
    })
    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        with pytest.raises(DataError, match="partner_iso3 <> 'WLD'"):
            load_frame(con, "reported_flows", flow, source_id="t")


def test_read_only_connection_refuses_writes(built_warehouse: Path) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con, pytest.raises(duckdb.Error):
        con.execute("DELETE FROM prices")


def _flows(values: list[float]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame({
        "reporter_iso3": ["JPN"] * n, "partner_iso3": ["CHN", "VNM", "USA"][:n],
        "flow": ["import"] * n, "period": ["2024-01-01"] * n, "freq": ["A"] * n,
        "hs_code": ["280530"] * n, "hs_revision": ["HS17"] * n, "value_usd": values,
        "qty": [None] * n, "qty_unit": [None] * n, "source": ["t"] * n, "vintage": ["v1"] * n,
    })


def test_unindexed_key_is_still_asserted_and_merged(tmp_path: Path) -> None:
    """reported_flows has no DuckDB key index; loads still insert, update and dedupe by key."""
    from chokehold.warehouse.staging import integrity_problems

    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        indexes = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = "
                              "'reported_flows' AND constraint_type = 'PRIMARY KEY'").fetchall()
        first = load_frame(con, "reported_flows", _flows([1.0, 2.0, 3.0]), source_id="t")
        second = load_frame(con, "reported_flows", _flows([1.0, 5.0, 3.0]), source_id="t")
        rows = dict(con.execute("SELECT partner_iso3, value_usd FROM trade_flows").fetchall())
        with pytest.raises(DataError, match="duplicate primary key"):
            load_frame(con, "reported_flows", pl.concat([_flows([1.0]), _flows([2.0])]),
                       source_id="t")
        problems = integrity_problems(con)
    assert indexes == [(0,)]
    assert (first.rows_inserted, second.rows_updated, second.rows_unchanged) == (3, 1, 2)
    assert rows == {"CHN": 1.0, "VNM": 5.0, "USA": 3.0}
    assert problems == []


def test_loading_the_trade_flows_view_says_which_tables_to_load(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb", create=True) as con:
        with pytest.raises(WarehouseError, match="reported_flows, baci_batches, baci_flows"):
            load_frame(con, "trade_flows", _flows([1.0]), source_id="t")


def test_an_old_single_trade_flows_table_is_split_without_losing_rows(tmp_path: Path) -> None:
    """Before m0007, BACI and reported rows shared one (indexed, before m0006) table."""
    path = tmp_path / "w.duckdb"
    baci = _flows([7.0, 8.0]).with_columns(pl.lit("baci").alias("source"),
                                           pl.lit("V1-HS17").alias("vintage"))
    codes = pl.DataFrame({"scheme": "baci", "code": ["392", "156", "704"],
                          "iso3": ["JPN", "CHN", "VNM"], "name": ["Japan", "China", "Viet Nam"]})
    with open_warehouse(path, create=True) as con:
        load_frame(con, "country_codes", codes, source_id="t")
        con.execute("DROP VIEW trade_flows")
        con.execute(table_specs()["reported_flows"].ddl(name="trade_flows").replace(
            ",\n    CHECK (source <> 'baci')", "").replace(
            "\n)", ",\n    PRIMARY KEY (reporter_iso3, partner_iso3, flow, period, freq, hs_code,"
                   " hs_revision, source)\n)"))
        con.register("old", pl.concat([_flows([1.0, 2.0]), baci]))
        con.execute("INSERT INTO trade_flows BY NAME "
                    "SELECT * REPLACE (period::DATE AS period) FROM old")
        con.execute("DROP VIEW baci_flows")
        con.execute("DROP VIEW reported_flows")
        con.execute("DELETE FROM schema_migrations WHERE id IN ('0006_trade_flows_key', "
                    "'0007_trade_storage', '0008_baci_hs6_number', '0009_lake', "
                    "'0014_reported_lake')")
    with open_warehouse(path) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                 "WHERE table_name = 'trade_flows'").fetchall())
        split = con.execute("SELECT (SELECT count(*) FROM reported_flows), "
                            "(SELECT count(*) FROM baci_flows), (SELECT list(release) FROM "
                            "baci_batches)").fetchall()
        values = dict(con.execute("SELECT source || partner_iso3 || hs_code, value_usd "
                                  "FROM trade_flows").fetchall())
    assert kinds == {"trade_flows": "VIEW"}
    assert split == [(2, 2, ["V1-HS17"])]
    assert values == {"tCHN280530": 1.0, "tVNM280530": 2.0, "baciCHN280530": 7.0,
                      "baciVNM280530": 8.0}


def test_baci_lines_stored_as_text_become_numbers_and_read_back_as_text(tmp_path: Path) -> None:
    """m0007 stored BACI's HS6 line as text; m0008 keeps it as a number (hs6)."""
    path = tmp_path / "w.duckdb"
    codes = pl.DataFrame({"scheme": "baci", "code": ["392", "156"], "iso3": ["JPN", "CHN"],
                          "name": ["Japan", "China"]})
    with open_warehouse(path, create=True) as con:
        load_frame(con, "country_codes", codes, source_id="t")
        con.execute("DROP VIEW trade_flows")
        con.execute("DROP VIEW baci_flows")
        con.execute("CREATE TABLE baci_flows (batch USMALLINT NOT NULL, importer_code USMALLINT "
                    "NOT NULL, exporter_code USMALLINT NOT NULL, hs_code VARCHAR NOT NULL, "
                    "value_usd DOUBLE NOT NULL, qty DOUBLE)")
        con.execute("INSERT INTO baci_flows VALUES (1, 392, 156, '010121', 5.0, NULL), "
                    "(1, 392, 156, '280530', 7.0, 1.5)")
        con.execute("INSERT INTO baci_batches VALUES (1, 'HS17', 2023, 'V1-HS17')")
        con.execute("DELETE FROM schema_migrations WHERE id IN ('0008_baci_hs6_number', "
                    "'0009_lake')")
    with open_warehouse(path) as con:
        stored = con.execute("SELECT DISTINCT typeof(hs6) FROM baci_flows").fetchall()
        rows = con.execute("SELECT hs_code, value_usd, qty, qty_unit FROM trade_flows "
                           "ORDER BY hs_code").fetchall()
    assert stored == [("UINTEGER",)]
    assert rows == [("010121", 5.0, None, None), ("280530", 7.0, 1.5, "t")]
