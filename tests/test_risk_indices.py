"""GeoPolRisk and the EU CRM supply risk on hand-made frames, registry trade factors, the
Commission's published figures, and `chokehold risk compare|screen` on the offline warehouse."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from helpers import run_cli

from chokehold.analysis import eu_crm, read, risk
from chokehold.analysis.geopolrisk import CF_COPPER, EU27, geopolrisk
from chokehold.config import PROJECT_ROOT, load_settings
from chokehold.warehouse import open_warehouse

PARAMS = eu_crm.load_params(PROJECT_ROOT / "data")
KEYS = ["importer", "commodity", "year", "china_share_value", "china_share_qty", "import_hhi",
        "production_hhi", "geopolrisk_import_risk", "geopolrisk_score", "geopolrisk_cf",
        "eu_supply_risk", "eu_trade_factor_china", "notes"]


def _imports(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"material": pl.String, "year": pl.Int32,
                                      "importer_iso3": pl.String, "partner_iso3": pl.String,
                                      "value_usd": pl.Float64, "qty": pl.Float64}, orient="row")


PRODUCTION = pl.DataFrame({"commodity": ["x"] * 3, "country_iso3": ["CHN", "AUS", "AAA"],
                           "year": [2022] * 3, "qty_t": [60.0, 30.0, 10.0]},
                          schema_overrides={"year": pl.Int32})
GOVERNANCE = pl.DataFrame({"country_iso3": ["CHN", "AUS", "BBB", "TWN"], "year": [2022] * 4,
                           "normalised": [0.6, 0.2, 0.4, 0.3],
                           "reference_keyed": [True, True, True, False]},
                          schema_overrides={"year": pl.Int32})
MATERIALS = pl.DataFrame({"material": ["X"], "commodity": ["x"], "eol_rir": [0.1]})


def test_geopolrisk_by_hand_with_a_region_and_missing_scores() -> None:
    imports = _imports([
        ("X", 2022, "AAA", "CHN", 8000.0, 4.0),   # 8000 USD / 4 t
        ("X", 2022, "AAA", "BBB", 2000.0, 1.0),   # inside the region: weight 0
        ("X", 2022, "BBB", "AUS", 6000.0, 3.0),
        ("X", 2022, "BBB", "TWN", 1000.0, 2.0),   # not keyed in the reference: 0.5
        ("X", 2022, "AAA", "ZZZ", 0.0, 0.0),      # no score at all: 0.5, but no quantity
    ])
    out = geopolrisk(imports, PRODUCTION, GOVERNANCE, {"R": ["AAA", "BBB"]}, MATERIALS, [2022])
    row = out.to_dicts()[0]
    hhi = 0.6 ** 2 + 0.3 ** 2 + 0.1 ** 2
    risk_ = (4 * 0.6 + 1 * 0 + 3 * 0.2 + 2 * 0.5) / (10 + 10)  # AAA produces 10 t
    assert row["production_hhi"] == pytest.approx(hhi)
    assert row["import_risk"] == pytest.approx(risk_)
    assert row["score"] == pytest.approx(hhi * risk_)
    assert row["price_usd_per_kg"] == pytest.approx(17000 / 1000 / 10)
    assert row["cf"] == pytest.approx(hhi * risk_ * 1.7 / CF_COPPER)
    iso = geopolrisk(imports, PRODUCTION, GOVERNANCE, {"R": ["AAA", "BBB"]}, MATERIALS, [2022],
                     wgi_join="iso3").to_dicts()[0]
    assert iso["import_risk"] == pytest.approx((2.4 + 0.6 + 2 * 0.3) / 20)


def test_eu_supply_risk_by_hand() -> None:
    imports = _imports([("X", 2022, "AAA", "CHN", 0.0, 6.0), ("X", 2022, "AAA", "AUS", 0.0, 2.0),
                        ("X", 2022, "CCC", "AAA", 0.0, 2.0)])  # AAA exports 2 t
    ban = pl.DataFrame({"supplier_iso3": ["CHN"], "commodity": ["x"], "scope": ["all"],
                        "factor": [1.2], "control_id": ["m"], "licence_level": [1],
                        "document_number": [None]})
    out = eu_crm.supply_risk(imports, PRODUCTION, GOVERNANCE, ban, {"AAA": ["AAA"]}, MATERIALS,
                             PARAMS, [2022]).to_dicts()[0]
    glob = 0.6 ** 2 * 6 * 1.2 + 0.3 ** 2 * 2 + 0.1 ** 2 * 5.0  # AAA has no score: 5
    src = (6 / 18) ** 2 * 6 * 1.2 + (2 / 18) ** 2 * 2 + (10 / 18) ** 2 * 5.0
    ir = (8 - 2) / (10 + 8 - 2)
    assert out["hhi_wgi_t_global"] == pytest.approx(glob)
    assert out["hhi_wgi_t_sourcing"] == pytest.approx(src)
    assert out["import_reliance"] == pytest.approx(ir)
    assert out["supply_risk"] == pytest.approx((glob * ir / 2 + src * (1 - ir / 2)) * 0.9 * 1.0)


@pytest.fixture(scope="module")
def data(built_warehouse: Path) -> risk.RiskData:
    with open_warehouse(built_warehouse, read_only=True) as con:
        return risk.load(con, load_settings(warehouse=built_warehouse))


def test_trade_factor_follows_the_registry_on_the_as_of_date(data: risk.RiskData) -> None:
    """Rare earths: no measure before 2025-04-04 (t = 1.0); the April 2025 licence requirement
    (level 1) gives 1.2. On 2025-12-01 it is 1.2 as well: the October 2025 package was
    suspended on 2025-11-10 (registry), so the registry gives 2025-06-01 and 2025-12-01 the same
    factor. Japan's 2026 presumption of denial (level 3) gives 1.3 for JPN only."""
    def china(day: date, importer: str) -> tuple[float, str | None]:
        got = risk.compare(data, importer, "rare_earths", 2022, day)
        return got["eu_trade_factor_china"], got["eu_trade_factor_measure"]

    assert china(date(2025, 3, 1), "JPN") == (1.0, None)
    assert china(date(2025, 6, 1), "JPN") == (1.2, "cn-2025-18-medium-heavy-rare-earths")
    assert china(date(2025, 12, 1), "JPN") == (1.2, "cn-2025-18-medium-heavy-rare-earths")
    assert china(date(2026, 2, 1), "JPN") == (1.3, "cn-2026-japan-military-end-use-ban")
    assert china(date(2026, 2, 1), "EU27")[0] == 1.2
    before = risk.compare(data, "JPN", "rare_earths", 2022, date(2025, 3, 1))
    after = risk.compare(data, "JPN", "rare_earths", 2022, date(2025, 6, 1))
    assert after["eu_supply_risk"] > before["eu_supply_risk"] * 1.1
    assert after["geopolrisk_score"] == before["geopolrisk_score"]  # GeoPolRisk has no t


PUBLISHED_2020 = {"antimony": 2.0, "cobalt": 2.5, "graphite": 2.3, "lithium_li2o": 1.6}


def test_published_2020_supply_risk_within_a_band(data: risk.RiskData) -> None:
    """The Commission's 2020 assessment (Study on the EU's list of CRMs 2020, Final Report,
    Table 3; values in data/indicators/eu_crm.yaml, flagged verify) against ours for the EU-27
    in 2018, the first year of our production data, with the registry as of 2019 (no Chinese
    measure on these then). They cannot match: the Commission averages 2012-2016, uses the mean
    of six WGI dimensions (we have Political Stability only), Eurostat Comext trade (we have
    BACI HS92 gross weight of the map's lines), its own production sources and SI_SR values
    (ours are 1.0 until checked). Band: within +-50% of the published value. Ours (2018):
    antimony 1.67, cobalt 1.37, natural graphite 2.17, lithium 1.43. Tungsten is left out: the
    map's lines (ores 261100, unwrought 810110) miss the APT, oxide and ferro-tungsten the EU
    imports, so its net import reliance comes out 0 and the SR 0.27 against a published 1.6."""
    got = risk.indices(data, {"EU27": EU27}, [2018], date(2019, 1, 1))
    by = dict(zip(got["commodity"], got["supply_risk"]))
    for commodity, published in PUBLISHED_2020.items():
        assert PARAMS.materials[commodity].published_sr.value == published
        assert 0.5 * published <= by[commodity] <= 1.5 * published, commodity


def test_compare_json_has_the_keys_and_the_api_values(built_warehouse: Path, capsys) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "risk", "compare",
                     "--importer", "JPN", "--commodity", "rare_earths", "--year", "2022",
                     "--as-of", "2025-06-01", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(KEYS) <= set(out)
    with open_warehouse(built_warehouse, read_only=True) as con:
        lines = read.material_lines(con)
        imports = read.material_imports(con, lines, [2022])
        china, total, value_cn, value = con.execute("""
            SELECT sum(qty) FILTER (partner_iso3 = 'CHN'), sum(qty),
                   sum(value_usd) FILTER (partner_iso3 = 'CHN'), sum(value_usd)
            FROM trade_flows WHERE reporter_iso3 = 'JPN' AND source = 'baci'
              AND period = DATE '2022-01-01' AND hs_code IN ('280530', '284610', '284690')
            """).fetchall()[0]
    assert out["china_share_qty"] == pytest.approx(china / total)
    assert out["china_share_value"] == pytest.approx(value_cn / value)
    assert imports.filter(pl.col("importer_iso3") == "JPN").height > 0
    assert out["eu_trade_factor_china"] == 1.2
    assert out["notes"]["geopolrisk_cf"]["unit"] == "eq. kg Cu / kg"
    assert "cn-2025-18" in out["notes"]["eu_supply_risk"]["method"]
    names = run_cli(capsys, "--warehouse", str(built_warehouse), "risk", "compare", "-i", "EU27",
                    "-c", "Lithium (Li2O)", "--year", "2022", "-f", "json")
    assert json.loads(names.stdout)["members"] == EU27


def test_screen_ranks_every_commodity(built_warehouse: Path, capsys) -> None:
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "risk", "screen",
                     "--importer", "JPN", "--year", "2022", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) > 30
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True) and rows[0]["rank_geopolrisk"] == 1
    assert {r["commodity"] for r in rows} >= {"rare_earths", "cobalt", "tungsten"}


@pytest.mark.parametrize(("args", "message"), [
    (["-c", "unobtainium"], "unknown commodity or raw material (none with production"),
    (["-c", "permanent_magnets"], "no production of permanent_magnets, so no index; commodities"),
    (["-i", "DEU,XXX"], "unknown country XXX in importer 'DEU,XXX'"),
    (["--year", "2017"], "no production of Cobalt in 2017; years with production: 2018-2024"),
])
def test_bad_input_exits_2_naming_what_is_missing(built_warehouse: Path, capsys, args, message):
    argv = {"-i": "JPN", "-c": "cobalt", "--year": "2022"}
    argv.update(dict(zip(args[::2], args[1::2])))
    result = run_cli(capsys, "--warehouse", str(built_warehouse), "risk", "compare",
                     *[x for kv in argv.items() for x in kv])
    assert result.exit_code == 2 and message in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_no_trade_and_no_wgi_year_exit_2(warehouse_copy: Path, capsys) -> None:
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        (quiet,) = con.execute("""
            SELECT iso3 FROM countries WHERE iso3 NOT IN (
                SELECT DISTINCT reporter_iso3 FROM trade_flows WHERE source = 'baci'
                  AND period = DATE '2022-01-01' AND hs_code IN ('282200', '810510'))
            ORDER BY iso3 LIMIT 1""").fetchone()
    result = run_cli(capsys, "--warehouse", str(warehouse_copy), "risk", "compare", "-i", quiet,
                     "-c", "Cobalt", "--year", "2022")
    assert result.exit_code == 2
    assert f"{quiet} has no BACI imports of Cobalt in 2022; years with imports:" in result.stderr
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute("DELETE FROM governance WHERE year = 2022")
    result = run_cli(capsys, "--warehouse", str(warehouse_copy), "risk", "screen", "-i", "JPN",
                     "--year", "2022")
    assert result.exit_code == 2 and "no WGI scores loaded for 2022; loaded: 1996-2024" in (
        result.stderr)
