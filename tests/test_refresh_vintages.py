"""Published vintages: snapshots, manifests, open_vintage, diff, digest and retention."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from fakesources import months, tiny_settings, write_fx

from chokehold.config import PROJECT_ROOT
from chokehold.errors import UnknownValueError
from chokehold.pipelines.refresh import refresh_warehouse
from chokehold.vintages import diff_vintages, open_vintage, read_manifest, retained
from chokehold.warehouse import open_warehouse

SOURCES = ["tinyfx", "tinyprices"]


def test_vintage_snapshot_reopens_as_it_was(tiny) -> None:
    settings, options, folder = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    write_fx(folder, months(2024, 5))
    second = refresh_warehouse(settings, SOURCES, options)
    with open_vintage(first.vintage_id, settings) as con:
        assert con.execute("SELECT count(*), max(date) FROM fx_rates").fetchall() == [
            (3, date(2024, 3, 1))]
    with open_vintage("latest", settings) as con:
        assert con.execute("SELECT count(*) FROM fx_rates").fetchall() == [(5,)]
        assert con.execute("SELECT value FROM prices").fetchall() == [(100.0,)]
    with open_vintage("previous", settings) as con:
        assert con.execute("SELECT count(*) FROM fx_rates").fetchall() == [(3,)]
    with pytest.raises(UnknownValueError, match=second.vintage_id):
        open_vintage("19990101-deadbeef", settings)


def test_manifest_lists_sources_checksums_rows_and_code(tiny) -> None:
    settings, options, folder = tiny
    outcome = refresh_warehouse(settings, SOURCES, options)
    vdir = settings.vintages_dir / outcome.vintage_id
    manifest = read_manifest(vdir)
    assert manifest["vintage_id"] == outcome.vintage_id and manifest["run_id"] == outcome.run_id
    assert outcome.vintage_id.endswith(manifest["content_hash"][:8])
    assert manifest["tables"]["fx_rates"]["rows"] == 3
    assert manifest["tables"]["prices"]["rows"] == 1
    lake_dir = Path(manifest["lake_dir"])
    assert lake_dir == settings.lake_root
    for info in manifest["tables"].values():
        if info.get("lake"):  # a lake table: its partition files are listed under "lake"
            continue
        assert hashlib.sha256((lake_dir / info["path"]).read_bytes()).hexdigest() == info["sha256"]
    for entries in manifest["lake"].values():
        for entry in entries:
            assert hashlib.sha256((lake_dir / entry["path"]).read_bytes()).hexdigest() == \
                entry["sha256"]
    fx_csv = hashlib.sha256((folder / "fx.csv").read_bytes()).hexdigest()
    assert {"source_id": "tinyfx", "vintage": f"tiny-{fx_csv[:8]}",
            "location": str(folder / "fx.csv"), "sha256": fx_csv} in manifest["inputs"]
    assert [s["source"] for s in manifest["sources"]] == SOURCES
    assert manifest["code_revision"] is None or len(manifest["code_revision"]) >= 12
    assert "load_runs" not in manifest["tables"] and "revisions" not in manifest["tables"]


def test_same_data_same_content_hash(tiny, tmp_path: Path) -> None:
    settings, options, _ = tiny
    other = tiny_settings(tmp_path / "other")
    a = refresh_warehouse(settings, SOURCES, options)
    b = refresh_warehouse(other, SOURCES, options)
    assert a.vintage_id == b.vintage_id


@pytest.mark.slow
def test_diff_new_periods_and_revisions_beyond_tolerance(tiny) -> None:
    settings, options, folder = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    rates = months(2024, 5)
    rates["2024-01"] = 7.35          # +5%: a revision
    rates["2024-02"] = 7.01 * 1.0005  # +0.05%: below the 0.1% tolerance
    write_fx(folder, rates)
    second = refresh_warehouse(settings, SOURCES, options)
    diff = diff_vintages(first.vintage_id, second.vintage_id, settings, tolerance=0.001)
    assert diff.new_periods.to_dicts() == [
        {"dataset": "fx_rates", "series": "tinyfx/USD/XTS", "first": "2024-04-01",
         "last": "2024-05-01", "periods": 2, "rows": 2}]
    assert diff.revised.select("dataset", "column_name", "old_value", "new_value").rows() == [
        ("fx_rates", "rate", 7.0, 7.35)]
    assert diff.revised["relative_change"][0] == pytest.approx(0.05)
    assert json.loads(diff.revised["row_key"][0])["date"] == "2024-01-01"
    fx = diff.tables.filter(table="fx_rates").to_dicts()[0]
    assert (fx["added"], fx["removed"], fx["changed"]) == (2, 0, 2)
    assert diff_vintages(first.vintage_id, second.vintage_id, settings,
                         tolerance=0.0001).revised.height == 2
    digest = (settings.vintages_dir / second.vintage_id / "digest.md").read_text()
    assert "## New periods" in digest and "2024-04-01" in digest and "7.35" in digest
    stored = json.loads((settings.vintages_dir / second.vintage_id / "digest.json").read_text())
    assert stored["from"] == first.vintage_id and stored["revised_count"] == 1


def test_diff_names_new_changed_and_removed_control_measures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data, ignore=shutil.ignore_patterns(
        "warehouse.duckdb*", "vintages", "logs", "raw"))
    settings = tiny_settings(tmp_path, data_dir=data)
    first = refresh_warehouse(settings, ["controls"])
    controls = data / "controls"
    changed = controls / "cn-2023-39-graphite.yaml"
    changed.write_text(changed.read_text().replace("title: ", "title: Amended ", 1))
    (controls / "cn-2024-46-us-dual-use-ban.yaml").unlink()
    source = controls / "cn-2023-23-gallium-germanium.yaml"
    (controls / "cn-2027-01-gallium-follow-up.yaml").write_text(source.read_text().replace(
        "id: cn-2023-23-gallium-germanium", "id: cn-2027-01-gallium-follow-up"))
    second = refresh_warehouse(settings, ["controls"])
    diff = diff_vintages(first.vintage_id, second.vintage_id, settings)
    assert diff.controls.select("control_id", "change").rows() == [
        ("cn-2023-39-graphite", "changed"), ("cn-2027-01-gallium-follow-up", "new"),
        ("cn-2024-46-us-dual-use-ban", "removed")]
    assert diff.controls["title"][0].startswith("Amended ")
    with open_warehouse(settings.warehouse, read_only=True) as con:
        deleted = con.execute("SELECT count(*) FROM revisions WHERE table_name = "
                              "'control_measures' AND column_name = '*'").fetchall()
    assert deleted == [(1,)]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day)


def test_retention_keeps_last_n_and_quarter_ends() -> None:
    published = [("a", at("2025-01-05")), ("b", at("2025-02-05")), ("c", at("2025-03-05")),
                 ("d", at("2025-04-05")), ("e", at("2025-05-05")), ("f", at("2025-07-05")),
                 ("g", at("2025-08-05")), ("h", at("2025-09-05"))]
    # last 2: g, h; last of each quarter: c (Q1), e (Q2), h (Q3)
    assert retained(published, 2, True) == {"c", "e", "g", "h"}
    assert retained(published, 2, False) == {"g", "h"}
    assert retained(published, 20, False) == {v for v, _ in published}


@pytest.mark.slow
def test_retention_prunes_old_vintage_folders(tiny, tmp_path: Path) -> None:
    _, options, folder = tiny
    settings = tiny_settings(tmp_path / "kept", vintage_keep_last=2,
                             vintage_keep_quarter_ends=False)
    ids = []
    for n in range(3, 7):
        write_fx(folder, months(2024, n))
        ids.append(refresh_warehouse(settings, SOURCES, options).vintage_id)
    on_disk = sorted(p.name for p in settings.vintages_dir.iterdir())
    assert on_disk == sorted(ids[-2:])
    with open_warehouse(settings.warehouse, read_only=True) as con:
        pruned = con.execute("SELECT vintage_id FROM published_vintages WHERE pruned_at IS NOT "
                             "NULL ORDER BY published_at").fetchall()
    assert [p[0] for p in pruned] == ids[:2]


def test_orphan_snapshot_of_a_killed_run_is_removed_others_kept(tiny) -> None:
    settings, options, folder = tiny
    first = refresh_warehouse(settings, SOURCES, options)
    ours = settings.vintages_dir / "20260101-0rphan00"
    theirs = settings.vintages_dir / "20260101-other000"
    shutil.copytree(settings.vintages_dir / first.vintage_id, ours)
    shutil.copytree(settings.vintages_dir / first.vintage_id, theirs)
    manifest = json.loads((theirs / "manifest.json").read_text())
    manifest["warehouse"] = "/elsewhere/warehouse.duckdb"
    (theirs / "manifest.json").write_text(json.dumps(manifest))
    refresh_warehouse(settings, SOURCES, options)
    assert not ours.exists() and theirs.exists()
    assert "removed" in settings.refresh_log.read_text()


@pytest.mark.slow
def test_digest_report_reads_the_diff_of_the_two_newest_vintages(tiny) -> None:
    from chokehold.render import data

    settings, options, folder = tiny
    data.configure(settings)
    try:
        none, reason = data.vintage_changes()
        refresh_warehouse(settings, SOURCES, options)
        write_fx(folder, months(2024, 5))
        refresh_warehouse(settings, SOURCES, options)
        diff, _ = data.vintage_changes()
    finally:
        data.configure(tiny_settings(folder.parent / "unused"))
    assert none is None and "0 vintage(s) published" in reason
    assert diff.to_dict() == diff_vintages("previous", "latest", settings).to_dict()
    fx_new = diff.new_periods.filter(diff.new_periods["dataset"] == "fx_rates")
    assert fx_new["periods"].sum() == 2  # April and May 2024 are new
