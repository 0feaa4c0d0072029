"""The offline build loads the expected number of rows per table and year
(tests/data/expected_row_counts.csv; refresh it with `make row-counts` after an intended
change)."""

from __future__ import annotations

from pathlib import Path

from row_counts import read_expected, row_counts

from chokehold.warehouse import open_warehouse


def test_offline_build_has_the_expected_row_counts(built_warehouse: Path) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        found = {(r["table"], r["year"]): int(r["rows"]) for r in row_counts(con)}
    expected = {(r["table"], r["year"]): int(r["rows"]) for r in read_expected()}
    differences = {key: (expected.get(key), found.get(key))
                   for key in expected.keys() | found.keys() if expected.get(key) != found.get(key)}
    assert differences == {}, ("(table, year): (expected, found); if intended, run "
                               "`make row-counts`")
    assert expected[("production", "2024")] > 0 and expected[("control_measures", "")] == 11
