"""An HTTP source for the fault tests: GET <comtrade_base_url>/fx?month=YYYY-MM -> JSON rows.

It asks only for the months of ``--years`` that the warehouse lacks, retries transient failures
(5xx, 429 honouring Retry-After, timeouts, truncated bodies, wrong content type) with tenacity,
and, like a careless connector, puts the API key in the URL it logs and raises, so the tests can
prove the refresh redacts it.
"""

from __future__ import annotations

import logging

import duckdb
import httpx
import polars as pl
from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt

from chokehold.config import Settings
from chokehold.errors import ChokeholdError
from chokehold.pipelines._runlog import note_periods
from chokehold.warehouse import LoadResult, load_frame

DEPENDS_ON = ()
SOURCE_ID = "httpfx"
log = logging.getLogger("chokehold.pipelines.httpfx")


class Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def months(years: str) -> list[str]:
    first, _, last = years.partition("-")
    return [f"{y}-{m:02d}" for y in range(int(first), int(last or first) + 1)
            for m in range(1, 13)]


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, Transient) and exc.retry_after is not None:
        return min(exc.retry_after, 5.0)
    return min(0.01 * 2 ** state.attempt_number, 0.2)


def _before_sleep(state: RetryCallState) -> None:
    """Log the retry (the refresh counts WARNINGs that say 'retrying' as retries)."""
    request = state.args[1] if len(state.args) > 1 else None
    log.warning("retrying %s: %s", request, state.outcome.exception())


def fetch(client: httpx.Client, url: str, settings: Settings) -> list[dict]:
    @retry(stop=stop_after_attempt(settings.http_max_retries + 1), wait=_wait,
           retry=retry_if_exception_type(Transient), before_sleep=_before_sleep, reraise=True)
    def get(client: httpx.Client, url: str) -> list[dict]:
        try:
            response = client.get(url)
            response.read()
        except httpx.TransportError as exc:  # timeouts, truncated bodies, refused connections
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise Transient(f"HTTP {response.status_code}",
                            float(retry_after) if retry_after is not None else None)
        if not response.headers.get("content-type", "").startswith("application/json"):
            raise Transient(f"content type {response.headers.get('content-type')}")
        try:
            return response.json()
        except ValueError as exc:
            raise Transient(f"bad JSON: {exc}") from exc

    try:
        return get(client, url)
    except Transient as exc:
        raise ChokeholdError(f"{url}: gave up after {settings.http_max_retries + 1} attempts: "
                             f"{exc}") from exc


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, years: str = "2024",
            **_: object) -> list[LoadResult]:
    wanted = months(years)
    have = {d.strftime("%Y-%m") for (d,) in con.execute(
        "SELECT date FROM fx_rates WHERE source = ?", [SOURCE_ID]).fetchall()}
    todo = [m for m in wanted if m not in have]
    key = settings.comtrade_api_key.get_secret_value() if settings.comtrade_api_key else ""
    rows: list[dict] = []
    with httpx.Client(timeout=settings.http_timeout_s,
                      headers={"Ocp-Apim-Subscription-Key": key}) as client:
        for month in todo:
            rows += fetch(client, f"{settings.comtrade_base_url}/fx?month={month}"
                                  f"&subscription-key={key}", settings)
    note_periods(requested=todo, received=sorted({r["date"][:7] for r in rows}))
    if not rows:
        return []
    frame = pl.DataFrame(rows).select(
        pl.col("date").str.to_date("%Y-%m-%d"), "base", "quote", pl.col("rate").cast(pl.Float64),
        pl.lit(SOURCE_ID).alias("source"), pl.lit("httpfx-api").alias("vintage"))
    return [load_frame(con, "fx_rates", frame, source_id=SOURCE_ID, vintage="httpfx-api",
                       origin=f"{settings.comtrade_base_url}/fx?subscription-key={key}")]


def app(path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
    """The server side: deterministic rates per month (for FaultServer)."""
    import json  # noqa: PLC0415

    if path != "/fx" or "month" not in query:
        return 404, "application/json", b'{"error": "not found"}'
    year, month = (int(x) for x in query["month"].split("-"))
    rows = [{"date": f"{year}-{month:02d}-01", "base": "USD", "quote": quote,
             "rate": round(base + 0.01 * month + 0.1 * (year - 2020), 4)}
            for quote, base in (("XTS", 7.0), ("XTT", 140.0))]
    return 200, "application/json", json.dumps(rows).encode()
