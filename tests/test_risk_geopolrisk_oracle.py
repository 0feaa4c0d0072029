"""Our GeoPolRisk against geopolrisk-py's own output (the reference implementation, GPL-3.0, run
as an oracle in a subprocess with HOME in a temporary folder, since it writes ~/Documents):
every raw material it covers x JPN, USA, DEU, KOR and the EU-27 x 2018-2022, within 1e-6."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from chokehold.analysis import risk
from chokehold.analysis.geopolrisk import EU27, geopolrisk
from chokehold.config import load_settings
from chokehold.warehouse import open_warehouse

ORACLE = Path(__file__).with_name("geopolrisk_oracle.py")
IMPORTERS = {"Japan": ["JPN"], "USA": ["USA"], "Germany": ["DEU"], "Rep. of Korea": ["KOR"],
             "EU": EU27}
YEARS = [2018, 2019, 2020, 2021, 2022]
REL = 1e-6
pytestmark = pytest.mark.slow  # the reference package runs ~1,300 combinations: `make test` only


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    if importlib.util.find_spec("geopolrisk") is None:
        pytest.skip("geopolrisk-py is not installed for this Python, so the reference "
                    "implementation cannot run (pip install geopolrisk-py==2.0.1)")
    # Two processes (one per core), each a share of the years with its own HOME: the package
    # takes 0.1-0.6 s per combination, most of this test's time.
    runs = []
    for n, years in enumerate((YEARS[:3], YEARS[3:])):
        home = tmp_path_factory.mktemp(f"home{n}")
        out = home / "oracle.json"
        runs.append((home, out, subprocess.Popen(
            [sys.executable, str(ORACLE), str(out), "--years", *map(str, years),
             "--importers", *IMPORTERS, "--materials", "all"],
            env={**os.environ, "HOME": str(home)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)))
    records = []
    for home, out, proc in runs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        assert (home / "Documents" / "geopolrisk" / "logs").is_dir()  # it wrote there, not in ~
        records += json.loads(out.read_text(encoding="utf-8"))["records"]
    return records


def _close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=REL, abs_tol=1e-12)


def test_matches_geopolrisk_py(oracle: list[dict], built_warehouse: Path) -> None:
    with open_warehouse(built_warehouse, read_only=True) as con:
        data = risk.load(con, load_settings(warehouse=built_warehouse), YEARS)
    mapped = data.materials.filter(pl.col("origin") == "geopolrisk-py HS map")
    assert mapped["reference_id"].n_unique() == mapped.height == 53
    ours = geopolrisk(data.imports, data.production, data.governance, IMPORTERS, mapped, YEARS)
    by_key = {(r["importer"], r["material"], r["year"]): r for r in ours.iter_rows(named=True)}
    material_of = dict(zip(mapped["reference_id"], mapped["material"]))
    assert {r["material"] for r in oracle} == set(material_of)
    assert len(oracle) == 53 * len(IMPORTERS) * len(YEARS)
    compared, nan_in_oracle = 0, []
    for rec in oracle:
        key = (rec["importer"], material_of[rec["material"]], rec["year"])
        mine = by_key.get(key)
        if "error" in rec:  # the package raises where the year has no production at all
            assert mine is None, (key, rec["error"])
            continue
        assert mine is not None, key
        if rec["score"] is None:  # NaN in the package (see below)
            nan_in_oracle.append(key)
            continue
        for theirs, field in (("score", "score"), ("import_risk", "import_risk"),
                              ("cf", "cf"), ("hhi", "production_hhi"),
                              ("price", "price_usd_per_kg")):
            assert _close(mine[field], rec[theirs]), (key, field, mine[field], rec[theirs])
        compared += 1
    assert compared >= 0.9 * len(oracle)
    # The package's wgi.db has the text 'nan' for French Polynesia in 2018, which its code reads
    # as NaN (not as missing -> 0.5), so any importer buying from PYF that year gets NaN; ours
    # treats it as missing. Those must be exactly the oracle's NaN rows.
    pyf = data.imports.filter((pl.col("partner_iso3") == "PYF") & (pl.col("year") == 2018))
    expected = {(name, m, 2018) for name, members in IMPORTERS.items()
                for m in pyf.filter(pl.col("importer_iso3").is_in(members))["material"]}
    assert set(nan_in_oracle) == expected & set(by_key)
