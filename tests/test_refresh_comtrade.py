"""The refresh with the real Comtrade connector against a flaky loopback Comtrade look-alike:
the same warehouse as from a clean server, retries counted, the key never written anywhere,
and a Comtrade outage that leaves the other sources publishing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fakesources import months, register, write_fx
from fakesources.comtrade_api import app
from faultserver import FAULTS, App, FaultServer

from chokehold.config import load_settings
from chokehold.pipelines.refresh import refresh_warehouse
from chokehold.warehouse import open_warehouse

pytestmark = pytest.mark.slow  # end-to-end: `make test-fast` leaves it out

SENTINEL = "SENTINEL-COMTRADE-KEY-5d1c"
# Three reporters, two lines, one flow, twelve months: the keyless preview endpoint (500 rows a
# call) must split this into dozens of requests, so every kind of fault gets its turn.
QUERY = {"reporters": "JPN,KOR,USA", "partners": "all", "hs": "280530,284690",
         "years": "2023", "freq": "M"}


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back off 10 ms instead of 1 s between retries (the fetch layer's default), to keep the
    test fast; Retry-After from the server is still honoured."""
    from chokehold.pipelines import _http  # noqa: PLC0415

    real_init = _http.Fetcher.__init__

    def init(self, *args, **kwargs) -> None:
        real_init(self, *args, **{"backoff_initial_s": 0.01, **kwargs})

    monkeypatch.setattr(_http.Fetcher, "__init__", init)


@pytest.fixture(scope="module")
def reference_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding only the reference tables (country codes) the connector needs."""
    root = tmp_path_factory.mktemp("reference") / "wh"
    refresh_warehouse(load_settings(warehouse=root / "warehouse.duckdb"), ["reference"])
    return root


def settings_for(root: Path, reference: Path, server: FaultServer, **extra):
    shutil.copytree(reference, root / "wh")
    values = {"warehouse": root / "wh" / "warehouse.duckdb", "raw_dir": root / "raw",
              "comtrade_base_url": server.url, "comtrade_min_interval_s": 0.0,
              "http_timeout_s": 0.3, "http_max_retries": 8}
    return load_settings(**{**values, **extra})


def comtrade_rows(warehouse: Path) -> list[tuple]:
    with open_warehouse(warehouse, read_only=True) as con:
        return con.execute("SELECT reporter_iso3, partner_iso3, flow, period, hs_code, "
                           "value_usd, qty FROM trade_flows WHERE source = 'comtrade' "
                           "ORDER BY ALL").fetchall()


def test_flaky_comtrade_gives_the_same_warehouse(tmp_path: Path, reference_warehouse) -> None:
    with FaultServer(app, rate=0.0) as clean:
        settings = settings_for(tmp_path / "clean", reference_warehouse, clean)
        refresh_warehouse(settings, ["comtrade"], QUERY)
    expected = comtrade_rows(settings.warehouse)
    # reporters x partners (World dropped) x lines x flows (M, X, RX) x months
    assert len(expected) == 3 * 5 * 2 * 3 * 12
    with FaultServer(app, rate=0.25, seed=11) as flaky:
        settings = settings_for(tmp_path / "flaky", reference_warehouse, flaky)
        outcome = refresh_warehouse(settings, ["comtrade"], QUERY)
    faults = sum(flaky.stats[f] for f in FAULTS)
    assert set(FAULTS) <= set(flaky.stats), flaky.stats
    assert 0.2 <= faults / flaky.stats.total() <= 0.3
    assert comtrade_rows(settings.warehouse) == expected
    assert len(set(comtrade_rows(settings.warehouse))) == len(expected)
    # The availability check before the run retries too, but outside the source's own count.
    data_faults = sum(o in FAULTS for path, o in flaky.served if "/getDA/" not in path)
    assert outcome.status == "ok" and outcome.sources[0].stats.retries == data_faults


def test_comtrade_key_never_written(tmp_path: Path, reference_warehouse, monkeypatch,
                                    capsys) -> None:
    register(monkeypatch)
    folder = write_fx(tmp_path / "in", months(2024, 3))
    options = {**QUERY, "path": [folder]}
    with FaultServer(app, rate=0.5, seed=5) as flaky:
        settings = settings_for(tmp_path, reference_warehouse, flaky,
                                comtrade_api_key=SENTINEL)
        refresh_warehouse(settings, ["comtrade", "tinyfx"], options)
    with FaultServer(app, down_prefixes=("/data",)) as down:
        settings = load_settings(**{**settings.model_dump(), "comtrade_base_url": down.url,
                                    "http_max_retries": 1, "comtrade_api_key": SENTINEL})
        write_fx(folder, months(2024, 4))
        outcome = refresh_warehouse(settings, ["comtrade", "tinyfx"],
                                    {**options, "years": "2024"}, allow_partial=True)
    assert outcome.status == "partial" and outcome.stale_sources == ["comtrade"]
    assert any(h.get("Ocp-Apim-Subscription-Key") == SENTINEL for _, _, h in flaky.requests)
    written = [p for root in (settings.warehouse.parent, settings.raw_dir)
               for p in root.rglob("*") if p.is_file() and p.suffix != ".duckdb"]
    assert written and [str(p) for p in written if SENTINEL.encode() in p.read_bytes()] == []
    with open_warehouse(settings.warehouse, read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE data_type LIKE 'VARCHAR%'").fetchall()
        leaks = [(t, c) for t, c in columns if con.execute(
            f'SELECT count(*) FROM "{t}" WHERE "{c}"::VARCHAR LIKE ?',
            [f"%{SENTINEL}%"]).fetchall()[0][0]]
    assert leaks == []
    digest = (settings.vintages_dir / outcome.vintage_id / "digest.md").read_text()
    assert "**Stale sources**" in digest and "comtrade" in digest


def revised(reporter: str, period: str) -> App:
    """The look-alike, with Comtrade announcing a new release of one reporter and period."""
    def answer(path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        status, kind, body = app(path, query)
        if "/getDA/" not in path:
            return status, kind, body
        payload = json.loads(body)
        for row in payload["data"]:
            if row["reporterISO"] == reporter and str(row["period"]) == period:
                row["lastReleased"], row["datasetChecksum"] = "2026-11-01T00:00:00", 7
        return status, kind, json.dumps(payload).encode()
    return answer


def data_requests(server: FaultServer) -> int:
    return sum("/getDA/" not in path for path, _, _ in server.requests)


def test_comtrade_runs_again_only_when_its_datasets_change(tmp_path: Path,
                                                           reference_warehouse) -> None:
    query = {**QUERY, "freq": "A", "years": "2022-2023"}
    with FaultServer(app, rate=0.0) as server:
        settings = settings_for(tmp_path, reference_warehouse, server)
        first = refresh_warehouse(settings, ["comtrade"], query)
        asked = data_requests(server)
        same = refresh_warehouse(settings, ["comtrade"], query)
        assert data_requests(server) == asked  # only getDA was asked
    with FaultServer(revised("DEU", "2023"), rate=0.0) as elsewhere:
        settings = load_settings(**{**settings.model_dump(), "comtrade_base_url": elsewhere.url})
        other_reporter = refresh_warehouse(settings, ["comtrade"], query)
        assert data_requests(elsewhere) == 0
    with FaultServer(revised("KOR", "2023"), rate=0.0) as news:
        settings = load_settings(**{**settings.model_dump(), "comtrade_base_url": news.url})
        again = refresh_warehouse(settings, ["comtrade"], query)
        assert data_requests(news) == asked
    assert [o.sources[0].status for o in (first, same, other_reporter, again)] == [
        "ok", "skipped", "skipped", "ok"]
    assert first.sources[0].total("rows_inserted") == 3 * 5 * 2 * 3 * 2
    assert again.sources[0].total("rows_inserted") == 0


def test_comtrade_runs_when_availability_cannot_be_read(tmp_path: Path,
                                                        reference_warehouse) -> None:
    def no_availability(path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        if "/getDA/" in path:
            return 200, "application/json", b'{"data": null, "error": "getDA is down"}'
        return app(path, query)

    query = {**QUERY, "freq": "A", "years": "2023"}
    with FaultServer(no_availability, rate=0.0) as server:
        settings = settings_for(tmp_path, reference_warehouse, server)
        runs = [refresh_warehouse(settings, ["comtrade"], query) for _ in range(2)]
    assert [r.sources[0].status for r in runs] == ["ok", "ok"]
    assert runs[0].sources[0].fingerprint is None
