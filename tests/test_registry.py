"""The export-control registry: validation, status on a date, and the controls commands."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from chokehold.commodities import load_commodities
from chokehold.config import PROJECT_ROOT
from chokehold.errors import DataError
from chokehold.registry import load_registry
from tests.helpers import run_cli

DATA = PROJECT_ROOT / "data"
BRIEF_IDS = {
    "cn-2023-23-gallium-germanium", "cn-2023-39-graphite", "cn-2024-33-antimony-superhard",
    "cn-2024-46-us-dual-use-ban", "cn-2025-10-tungsten-tellurium-bismuth-molybdenum-indium",
    "cn-2025-18-medium-heavy-rare-earths", "cn-2025-strategic-minerals-anti-smuggling",
    "cn-2025-61-extraterritorial-rare-earths", "cn-2025-october-package",
    "cn-2025-dual-use-catalogue-2026", "cn-2026-japan-military-end-use-ban",
}


@pytest.fixture(scope="module")
def registry():
    return load_registry(DATA / "controls", load_commodities(DATA / "commodities.yaml"))


def test_every_brief_measure_is_registered_with_citations(registry) -> None:
    assert set(registry) == BRIEF_IDS
    assert all(m.citations for m in registry.values())
    seeds = " ".join(c.source for m in registry.values() for c in m.citations if not c.primary)
    assert all(s in seeds for s in ("seed 000_8bf850ee4fdb7047", "seed 001_edb2d4ca4db91feb",
                                    "seed 003_10fd699c0285eb37"))


def test_reports_cite_documents_a_reader_can_open(registry) -> None:
    """Each measure cites its own document first (issuer, number, date, URL); status periods
    name documents, never a seed file; secondary sources stay as further citations."""
    for m in registry.values():
        primary = m.citations[0]
        assert primary.primary and primary.issuer and primary.published == m.announced
        assert primary.url.startswith("https://")
        assert primary.source == (m.document_number or primary.source)
        assert all(not c.primary for c in m.citations[1:]) and len(m.citations) >= 2
        for period in m.status:
            assert ".txt" not in period.source and "https://" in period.source, period
            assert "BRIEF" not in period.source
    number18 = registry["cn-2025-18-medium-heavy-rare-earths"].status[0].source
    assert number18.startswith("MOFCOM/GAC Announcement 2025 No. 18 (2025-04-04)")


@pytest.mark.parametrize(("control", "day", "status"), [
    ("cn-2025-october-package", date(2025, 12, 1), "suspended"),
    ("cn-2025-61-extraterritorial-rare-earths", date(2025, 10, 20), "in_force"),
    ("cn-2025-18-medium-heavy-rare-earths", date(2025, 6, 1), "in_force"),
    ("cn-2025-18-medium-heavy-rare-earths", date(2025, 4, 3), "not_announced"),
    ("cn-2023-23-gallium-germanium", date(2023, 7, 15), "announced"),
    ("cn-2024-46-us-dual-use-ban", date(2025, 11, 8), "in_force"),
    ("cn-2024-46-us-dual-use-ban", date(2025, 11, 9), "suspended"),
    ("cn-2025-october-package", date(2026, 11, 22), "unknown"),
])
def test_status_on_a_date_follows_the_timeline(registry, control: str, day: date,
                                                status: str) -> None:
    assert registry[control].status_on(day) == status


def test_destination_scope(registry) -> None:
    japan = registry["cn-2026-japan-military-end-use-ban"]
    assert japan.applies_to("JPN") and not japan.applies_to("KOR")
    assert registry["cn-2025-18-medium-heavy-rare-earths"].applies_to("KOR")


def _broken_registry(tmp_path: Path, control: str, edit) -> Path:
    folder = tmp_path / "controls"
    shutil.copytree(DATA / "controls", folder)
    path = folder / f"{control}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("edit", "field", "message"), [
    (lambda r: r.pop("announced"), "announced", "Field required"),
    (lambda r: r.update(announced="2025-13-40"), "announced", "date"),
    (lambda r: r["items"][0].update(hs_codes=["999999"]), "items.0.hs_codes", "999999"),
    (lambda r: r["items"][0].update(commodity="unobtainium"), "items.0.commodity", "unobtainium"),
    (lambda r: r["status"].append({"status": "suspended", "start": "2025-06-01",
                                   "source": "x"}), "status", "overlap"),
    (lambda r: r.update(licence_level=5), "licence_level", "less than or equal to 3"),
])
def test_registry_errors_name_file_and_field(tmp_path: Path, edit, field: str,
                                             message: str) -> None:
    folder = _broken_registry(tmp_path, "cn-2025-18-medium-heavy-rare-earths", edit)
    with pytest.raises(DataError, match=message) as caught:
        load_registry(folder, load_commodities(DATA / "commodities.yaml"))
    assert caught.value.field.startswith(field)
    assert "cn-2025-18-medium-heavy-rare-earths.yaml" in str(caught.value)


def test_controls_list_json_on_a_date(capsys) -> None:
    result = run_cli(capsys, "controls", "list", "--as-of", "2025-12-01", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert set(rows) == BRIEF_IDS - {"cn-2025-dual-use-catalogue-2026",
                                     "cn-2026-japan-military-end-use-ban"}
    assert rows["cn-2025-october-package"]["status"] == "suspended"
    assert rows["cn-2025-18-medium-heavy-rare-earths"]["status"] == "in_force"
    assert rows["cn-2025-18-medium-heavy-rare-earths"]["commodities"] == [
        "permanent_magnets", "rare_earths"]
    assert {"id", "title", "announced", "effective", "status", "commodities",
            "licence_level"} <= set(rows["cn-2024-46-us-dual-use-ban"])


def test_controls_list_filters_by_destination_and_commodity(capsys) -> None:
    result = run_cli(capsys, "controls", "list", "--as-of", "2026-02-01", "--destination", "Japan",
                     "--commodity", "gallium", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    ids = [line.split(",")[0] for line in result.stdout.splitlines()[1:]]
    assert "cn-2026-japan-military-end-use-ban" in ids
    assert "cn-2024-46-us-dual-use-ban" not in ids  # reaches only the USA
    assert "cn-2025-18-medium-heavy-rare-earths" not in ids  # no gallium


def test_unknown_commodity_lists_valid_ones(capsys) -> None:
    result = run_cli(capsys, "controls", "list", "--commodity", "copper")
    assert result.exit_code == 2
    assert "unknown commodity 'copper'" in result.stderr and "rare_earths" in result.stderr


def test_unknown_control_lists_valid_ones(capsys) -> None:
    result = run_cli(capsys, "controls", "show", "no-such-measure")
    assert result.exit_code == 2
    assert "cn-2025-october-package" in result.stderr


def test_broken_registry_makes_the_command_fail(tmp_path: Path, capsys, monkeypatch) -> None:
    folder = _broken_registry(tmp_path, "cn-2023-39-graphite", lambda r: r.pop("title"))
    data_dir = tmp_path / "data"
    shutil.copytree(DATA, data_dir, ignore=shutil.ignore_patterns("controls", "*.duckdb*", "raw"))
    shutil.move(folder, data_dir / "controls")
    monkeypatch.setenv("CHOKEHOLD_DATA_DIR", str(data_dir))
    result = run_cli(capsys, "controls", "list")
    assert result.exit_code == 2
    assert "cn-2023-39-graphite.yaml" in result.stderr and "title" in result.stderr
