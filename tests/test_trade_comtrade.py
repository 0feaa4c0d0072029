"""The Comtrade v1 connector against a loopback server answering in the real v1 JSON shape."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from chokehold.config import load_settings
from chokehold.errors import ChokeholdError, DataError
from chokehold.pipelines import comtrade
from chokehold.warehouse import open_warehouse, read_query

KEY = "test-subscription-key-123"


def v1_row(partner: int, value: float, *, reporter: int = 392, cmd: str = "284690",
           flow: str = "M", year: int = 2023, partner2: int = 0, customs: str = "C00",
           mot: int = 0, net_wgt: float | None = 1000.0, qty: float | None = 1000.0,
           unit: str = "kg", aggregate: bool = False, cl: str = "H6") -> dict:
    """One record with every field a real data/v1/get answer carries."""
    return {
        "typeCode": "C", "freqCode": "A", "refPeriodId": year * 10000 + 101, "refYear": year,
        "refMonth": 52, "period": str(year), "reporterCode": reporter, "reporterISO": "JPN",
        "reporterDesc": "Japan", "flowCode": flow, "flowDesc": "Import",
        "partnerCode": partner, "partnerISO": "", "partnerDesc": "",
        "partner2Code": partner2, "partner2ISO": "W00", "partner2Desc": "World",
        "classificationCode": cl, "classificationSearchCode": "HS",
        "isOriginalClassification": True, "cmdCode": cmd, "cmdDesc": "", "aggrLevel": 6,
        "isLeaf": True, "customsCode": customs, "customsDesc": "TOTAL CPC", "mosCode": "0",
        "motCode": mot, "motDesc": "TOTAL MOT", "qtyUnitCode": 8 if unit == "kg" else -1,
        "qtyUnitAbbr": unit, "qty": qty, "isQtyEstimated": False, "altQtyUnitCode": -1,
        "altQtyUnitAbbr": "N/A", "altQty": None, "isAltQtyEstimated": False,
        "netWgt": net_wgt, "isNetWgtEstimated": False, "grossWgt": None,
        "isGrossWgtEstimated": False, "cifvalue": value, "fobvalue": None,
        "primaryValue": value, "legacyEstimationFlag": 0, "isReported": True,
        "isAggregate": aggregate,
    }


def answer(rows: list[dict], error: str = "") -> dict:
    return {"elapsedTime": "0.1 secs", "count": len(rows), "data": rows, "error": error}


@pytest.fixture
def cfg(warehouse_copy: Path, tmp_path: Path, httpserver: HTTPServer):
    def make(**kw):
        return load_settings(**{"warehouse": warehouse_copy, "raw_dir": tmp_path / "raw",
                                "comtrade_base_url": httpserver.url_for("/").rstrip("/"),
                                "comtrade_min_interval_s": 0, "http_max_retries": 2, **kw})
    return make


def comtrade_rows(path: Path):
    with open_warehouse(path) as con:
        return read_query(con, "SELECT * FROM trade_flows WHERE source = 'comtrade' "
                               "ORDER BY flow, partner_iso3")


def test_totals_only_never_double_counted(httpserver: HTTPServer, cfg, warehouse_copy: Path):
    rows = [
        v1_row(0, 1000.0),                       # World: the sum of the partners below
        v1_row(156, 600.0), v1_row(704, 400.0),  # China, Viet Nam
        v1_row(156, 250.0, partner2=344),        # partner2 breakdown of the China row
        v1_row(156, 300.0, customs="C01"),       # customs-procedure breakdown
        v1_row(704, 100.0, mot=1000),            # mode-of-transport breakdown
        v1_row(704, 999.0, aggregate=True),      # aggregate beside the reported row
    ]
    httpserver.expect_request("/data/v1/get/C/A/HS").respond_with_json(answer(rows))
    settings = cfg(comtrade_api_key=KEY)
    with open_warehouse(settings.warehouse) as con:
        (result,) = comtrade.refresh(con, settings, reporters="JPN", partners="all",
                                     hs="284690", years="2023", freq="A", flows="M")
    stored = comtrade_rows(settings.warehouse)
    assert result.rows_inserted == 2
    assert stored["partner_iso3"].to_list() == ["CHN", "VNM"]
    assert stored["value_usd"].sum() == 1000.0  # equals the World row: nothing counted twice
    assert stored["qty"].to_list() == [1.0, 1.0] and stored["qty_unit"].to_list() == ["t", "t"]
    assert stored["hs_revision"].unique().to_list() == ["HS22"]
    request = httpserver.log[0][0]
    assert request.headers["Ocp-Apim-Subscription-Key"] == KEY
    assert request.args["reporterCode"] == "392" and "partnerCode" not in request.args
    assert request.args["partner2Code"] == "0" and request.args["customsCode"] == "C00"
    files = [p for p in (settings.raw_dir / "comtrade").rglob("*") if p.is_file()]
    assert len(files) == 2 and KEY not in "".join(p.read_text() for p in files)
    assert json.loads(next(p for p in files if p.suffix == ".json"
                           and not p.name.endswith(".meta.json")).read_text())["count"] == 7


def test_preview_without_key_splits_under_500_rows(httpserver: HTTPServer, cfg):
    seen: list[dict] = []

    def handler(request: Request) -> Response:
        args = dict(request.args)
        seen.append(args)
        rows = [v1_row(156, 10.0, cmd=c, year=int(y)) for c in args["cmdCode"].split(",")
                for y in args["period"].split(",")]
        return Response(json.dumps(answer(rows)), content_type="application/json")

    httpserver.expect_request("/public/v1/preview/C/A/HS").respond_with_handler(handler)
    settings = cfg()
    with open_warehouse(settings.warehouse) as con:
        (result,) = comtrade.refresh(con, settings, reporters="JPN", partners="all",
                                     hs="280530,284610,284690", years="2022-2024", freq="A",
                                     flows="M")
    assert result.rows_inserted == 9  # 3 lines x 3 years, one partner each
    for args in seen:  # every request, sized for all ~250 partners, fits under the cap
        cells = len(args["cmdCode"].split(",")) * len(args["period"].split(","))
        assert cells * comtrade.ALL_PARTNERS_ESTIMATE <= 500
        assert args["maxRecords"] == "500"
    covered = {(c, y) for a in seen for c in a["cmdCode"].split(",") for y in a["period"].split(",")}
    assert len(covered) == 9 and sum(len(a["cmdCode"].split(",")) * len(a["period"].split(","))
                                     for a in seen) == 9


def test_full_answer_is_split_again(httpserver: HTTPServer, cfg, monkeypatch):
    monkeypatch.setitem(comtrade.ROW_CAPS, "preview", 3)
    monkeypatch.setattr(comtrade, "ALL_PARTNERS_ESTIMATE", 1)

    def handler(request: Request) -> Response:
        periods = request.args["period"].split(",")
        rows = [v1_row(p, 5.0, year=int(y)) for y in periods for p in (156, 704)]
        return Response(json.dumps(answer(rows[:3])), content_type="application/json")

    httpserver.expect_request("/public/v1/preview/C/A/HS").respond_with_handler(handler)
    settings = cfg()
    with open_warehouse(settings.warehouse) as con:
        comtrade.refresh(con, settings, reporters="JPN", hs="284690", years="2022-2023",
                         flows="M")
    periods = [r[0].args["period"] for r in httpserver.log]
    assert periods == ["2022,2023", "2022", "2023"]  # the capped answer was not used
    assert comtrade_rows(settings.warehouse).height == 4


@pytest.mark.parametrize(("status", "body", "expected"), [
    (401, {"statusCode": 401, "message": "Access denied due to invalid subscription key."},
     "HTTP 401: Access denied due to invalid subscription key"),
    (400, {"elapsedTime": "0 secs", "count": 0, "data": [], "error": "Invalid period"},
     "HTTP 400: Invalid period"),
    (200, {"elapsedTime": "0 secs", "count": 0, "data": [], "error": "Too many codes"},
     "Comtrade error: Too many codes"),
])
def test_error_bodies_become_clear_messages(httpserver: HTTPServer, cfg, status, body,
                                            expected):
    httpserver.expect_request("/data/v1/get/C/A/HS").respond_with_json(body, status=status)
    settings = cfg(comtrade_api_key=KEY)
    with open_warehouse(settings.warehouse) as con, pytest.raises(DataError) as err:
        comtrade.refresh(con, settings, reporters="JPN", hs="284690", years="2023")
    message = str(err.value)
    assert expected in message and "/data/v1/get/C/A/HS" in message and KEY not in message
    assert comtrade_rows(settings.warehouse).height == 0
    assert list((settings.raw_dir / "comtrade").rglob("*.meta.json"))  # raw answer kept


def test_429_and_truncated_answers_are_retried(httpserver: HTTPServer, cfg):
    good = json.dumps(answer([v1_row(156, 42.0)]))
    httpserver.expect_ordered_request("/public/v1/preview/C/A/HS").respond_with_json(
        {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."},
        status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/public/v1/preview/C/A/HS").respond_with_data(
        good[: len(good) // 2], content_type="application/json")
    httpserver.expect_ordered_request("/public/v1/preview/C/A/HS").respond_with_data(
        good, content_type="application/json")
    settings = cfg(http_max_retries=3)
    with open_warehouse(settings.warehouse) as con:
        comtrade.refresh(con, settings, reporters="JPN", hs="284690", years="2023", flows="M")
    assert comtrade_rows(settings.warehouse)["value_usd"].to_list() == [42.0]
    assert len(httpserver.log) == 3


def test_non_json_answer_fails_naming_url(httpserver: HTTPServer, cfg):
    httpserver.expect_request("/public/v1/preview/C/A/HS").respond_with_data(
        "<html>Service Unavailable</html>", content_type="application/json")
    settings = cfg(http_max_retries=0)
    with open_warehouse(settings.warehouse) as con, pytest.raises(DataError, match="not complete JSON"):
        comtrade.refresh(con, settings, reporters="JPN", hs="284690", years="2023")


@pytest.mark.parametrize(("row", "field", "text"), [
    (v1_row(123456, 5.0), "partnerCode", "unknown Comtrade country code 123456"),
    (v1_row(156, -5.0), "primaryValue", "negative value"),
    (v1_row(156, 5.0, net_wgt=None, qty=12.0, unit="N/A"), "qtyUnitAbbr", "without a unit"),
    (v1_row(156, 5.0, cmd="999999"), "cmdCode", "was not requested"),
])
def test_bad_rows_name_url_row_field_and_load_nothing(httpserver: HTTPServer, cfg, row, field,
                                                      text):
    rows = [v1_row(704, 1.0), row]
    httpserver.expect_request("/public/v1/preview/C/A/HS").respond_with_json(answer(rows))
    settings = cfg()
    with open_warehouse(settings.warehouse) as con, pytest.raises(DataError) as err:
        comtrade.refresh(con, settings, reporters="JPN", hs="284690", years="2023", flows="M")
    assert err.value.row == 2 and err.value.field == field and text in str(err.value)
    assert "/public/v1/preview/C/A/HS" in str(err.value)
    assert comtrade_rows(settings.warehouse).height == 0


def test_monthly_periods_and_exports(httpserver: HTTPServer, cfg):
    row = v1_row(156, 7.0, flow="X") | {"freqCode": "M", "period": "202303", "refMonth": 3}
    httpserver.expect_request("/public/v1/preview/C/M/HS").respond_with_json(answer([row]))
    settings = cfg()
    with open_warehouse(settings.warehouse) as con:
        comtrade.refresh(con, settings, reporters="JPN", partners="CHN", hs="284690",
                         years="2023", freq="M", flows="X")
    stored = comtrade_rows(settings.warehouse)
    assert stored.select("flow", "freq", "period").row(0) == ("export", "M", date(2023, 3, 1))
    args = httpserver.log[0][0].args
    assert args["partnerCode"] == "156" and len(args["period"].split(",")) == 12


def test_unknown_reporter_lists_valid(cfg):
    settings = cfg()
    with open_warehouse(settings.warehouse) as con, pytest.raises(ChokeholdError,
                                                                  match="unknown reporter 'XXQ'"):
        comtrade.refresh(con, settings, reporters="XXQ", hs="284690", years="2023")


@pytest.mark.slow
def test_cli_refresh_comtrade_error_exits_nonzero(httpserver: HTTPServer, warehouse_copy,
                                                  tmp_path, monkeypatch):
    import subprocess
    import sys

    httpserver.expect_request("/public/v1/preview/C/A/HS").respond_with_json(
        {"statusCode": 403, "message": "Forbidden"}, status=403)
    env = {"COMTRADE_BASE_URL": httpserver.url_for("/").rstrip("/"),
           "CHOKEHOLD_RAW_DIR": str(tmp_path / "raw"), "CHOKEHOLD_COMTRADE_MIN_INTERVAL_S": "0",
           "PATH": "/usr/bin:/bin", "CHOKEHOLD_CONFIG": str(tmp_path / "none.toml")}
    done = subprocess.run([str(Path(sys.executable).parent / "chokehold"), "-w",
                           str(warehouse_copy), "refresh", "--source", "comtrade",
                           "--reporters", "JPN", "--partners", "all", "--hs",
                           "280530,284610,284690", "--years", "2022-2024", "--freq", "A"],
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "HTTP 403: Forbidden" in done.stderr and "/public/v1/preview/C/A/HS" in done.stderr

