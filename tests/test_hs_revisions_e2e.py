"""Two HS revisions side by side, end to end: a small HS17 BACI release (a CEPII-shaped zip)
loaded beside the embedded HS92 extract for a year both cover; `chokehold render
control-exposure` (builtin engine, a real Jupyter kernel) and `chokehold trade screen` name the
revision they read, take the documented default (the newest revision covering the period),
switch with --revision, and never sum across revisions: each figure is the one computed here in DuckDB
from that revision's partition file alone."""

from __future__ import annotations

import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import copy_warehouse
from typer.testing import CliRunner

from chokehold.cli import app
from chokehold.config import load_settings
from chokehold.pipelines.refresh import refresh_warehouse
from chokehold.render import report as R
from chokehold.warehouse import lake

pytestmark = pytest.mark.slow  # renders a document: `make test-fast` leaves it out

YEAR = 2024  # the embedded HS92 extract's last year
RARE_EARTHS = (280530, 284610, 284690)
COUNTRIES = """country_code,country_name,country_iso2,country_iso3
156,China,CN,CHN
392,Japan,JP,JPN
410,"Korea, Republic of",KR,KOR
704,Viet Nam,VN,VNM
842,USA,US,USA
"""
PRODUCTS = """code,description
280530,Rare-earth metals
284610,Cerium compounds
284690,Other rare-earth compounds
850511,Permanent magnets
"""
FLOWS = f"""t,i,j,k,v,q
{YEAR},156,392,280530,91234.5,410.0
{YEAR},156,392,284690,12345.6,95.5
{YEAR},704,392,280530,23456.7,120.0
{YEAR},842,392,284610,3456.7,8.25
{YEAR},156,410,280530,45678.9,300.0
{YEAR},392,410,284690,5678.9,12.0
{YEAR},156,842,284690,67890.1,700.0
{YEAR},156,842,850511,99999.9,50.0
"""


def release(folder: Path) -> Path:
    """BACI_HS17_V202501.zip as CEPII ships it: one year file and the two code files."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "BACI_HS17_V202501.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"BACI_HS17_Y{YEAR}_V202501.csv", FLOWS)
        zf.writestr("country_codes_V202501.csv", COUNTRIES)
        zf.writestr("product_codes_HS17_V202501.csv", PRODUCTS)
    return archive


def partition_sum(warehouse: Path, revision: str, *, exporter: int | None = None,
                  lines: tuple[int, ...] = RARE_EARTHS) -> float:
    """Japan's imports of ``lines`` (from ``exporter``) in YEAR, straight from the one
    partition file of that revision the catalog lists."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (path,) = [e.path for e in lake.catalog(con, "baci_flows")
                   if e.part == f"baci_flows/hs_revision={revision}/year={YEAR}"]
        file = lake.root(con) / path
    with duckdb.connect() as con:
        return con.execute(
            "SELECT sum(value_usd) FROM read_parquet(?) WHERE importer_code = 392 AND "
            "list_contains(?, hs6) AND (? IS NULL OR exporter_code = ?)",
            [str(file), list(lines), exporter, exporter]).fetchall()[0][0]


@pytest.fixture(scope="module")
def two_revisions(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline warehouse with the HS17 release loaded by `refresh --source baci`."""
    root = tmp_path_factory.mktemp("hs17")
    settings = load_settings(warehouse=copy_warehouse(built_warehouse, root / "w.duckdb"))
    outcome = refresh_warehouse(settings, ["baci"], {"path": [release(root / "in")]})
    assert outcome.status == "ok"
    return settings.warehouse


def render(warehouse: Path, out: Path, *options: str) -> str:
    """`chokehold render control-exposure` (builtin engine: one Jupyter kernel) to HTML."""
    result = CliRunner().invoke(app, ["-w", str(warehouse), "render", "control-exposure",
                                      "--engine", "builtin", "--to", "html", "--out", str(out),
                                      *options])
    assert result.exit_code == 0, result.output
    return (out / "control-exposure.html").read_text(encoding="utf-8")


def test_both_revisions_are_held_for_the_year(two_revisions: Path) -> None:
    with duckdb.connect(str(two_revisions), read_only=True) as con:
        held = con.execute("SELECT hs_revision, count(*) FROM trade_flows WHERE source = 'baci' "
                           f"AND period = DATE '{YEAR}-01-01' AND reporter_iso3 = 'JPN' "
                           "GROUP BY 1 ORDER BY 1").fetchall()
    assert [r[0] for r in held] == ["HS17", "HS92"] and held[0][1] == 4


def test_control_exposure_reads_one_revision_and_names_it(two_revisions: Path,
                                                         tmp_path: Path) -> None:
    hs17, hs92 = ({"china": partition_sum(two_revisions, rev, exporter=156),
                   "total": partition_sum(two_revisions, rev)} for rev in ("HS17", "HS92"))
    assert hs17["china"] == pytest.approx(103_580_100.0)  # 91,234.5 + 12,345.6 thousand USD
    default = render(two_revisions, tmp_path / "default")
    assert f"In {YEAR} (BACI HS17)" in default  # the newest revision covering the year
    assert f"HS revision HS17 {YEAR}; HS92 1995-{YEAR - 1}" in default
    assert f"({R.usd(hs17['china'])} of {R.usd(hs17['total'])})" in default
    chosen = render(two_revisions, tmp_path / "hs92", "--revision", "HS92")
    assert f"In {YEAR} (BACI HS92)" in chosen and "HS revision HS92 1995-2024" in chosen
    assert f"({R.usd(hs92['china'])} of {R.usd(hs92['total'])})" in chosen
    summed = R.usd(hs17["china"] + hs92["china"])
    assert summed not in default and summed not in chosen


def test_trade_screen_default_and_revision_option(two_revisions: Path) -> None:
    runner = CliRunner()
    base = ["-w", str(two_revisions), "trade", "screen", "--year", str(YEAR),
            "--importer", "JPN", "--top", "500"]
    figures = {}
    for revision in ("HS17", "HS92"):
        args = base + (["--revision", revision] if revision == "HS92" else [])
        table = runner.invoke(app, args)
        assert table.exit_code == 0, table.output
        assert f"Dependency screen (baci; {YEAR} {revision})" in table.output.replace("\n", "")
        csv = runner.invoke(app, [*args, "--format", "csv"])
        assert csv.exit_code == 0, csv.output
        frame = pl.read_csv(csv.stdout.encode(), schema_overrides={"hs_code": pl.String})
        assert set(frame["hs_revision"]) == {revision}
        figures[revision] = frame.filter(pl.col("hs_code") == "280530").row(0, named=True)
    for revision, row in figures.items():  # one revision's partition, nothing added
        assert row["imports_usd"] == pytest.approx(
            partition_sum(two_revisions, revision, lines=(280530,)))
    assert figures["HS17"]["imports_usd"] == pytest.approx(114_691_200.0)
    assert figures["HS92"]["imports_usd"] != figures["HS17"]["imports_usd"]
    for wrong in ("17", "HS99"):  # not a revision at all, or one HS never had
        bad = runner.invoke(app, ["-w", str(two_revisions), "render", "control-exposure",
                                  "--revision", wrong])
        assert bad.exit_code == 2 and "--revision" in bad.output and "HS17" in bad.output
