"""The shared HTTP layer against a loopback server: retries, spacing, raw files, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from chokehold.pipelines._http import Fetcher, FetchError, parse_retry_after, redact_url

SECRET = "s3cr3t-key-value"


class FakeTime:
    """Injected clock and sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def fetcher(tmp_path: Path, fake: FakeTime, **kw) -> Fetcher:
    return Fetcher("demo", tmp_path / "raw", timeout_s=5, max_retries=kw.pop("max_retries", 3),
                   backoff_initial_s=0.5, sleep=fake.sleep, clock=fake.clock, **kw)


def test_ok_json_is_kept_with_sidecar_and_no_secret(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/data").respond_with_json({"count": 1, "data": [1]})
    fake = FakeTime()
    with fetcher(tmp_path, fake) as f:
        got = f.get(httpserver.url_for("/data"), name="sub/one.json",
                    params={"a": "1", "subscription-key": SECRET},
                    headers={"Ocp-Apim-Subscription-Key": SECRET})
    assert got.json() == {"count": 1, "data": [1]}
    assert got.path == tmp_path / "raw" / "demo" / "sub" / "one.json"
    meta = json.loads(got.path.with_name("one.json.meta.json").read_text())
    assert meta["status"] == 200 and meta["sha256"] == got.sha256 and len(meta["sha256"]) == 64
    assert meta["url"].endswith("/data?a=1") and "subscription" not in meta["url"]
    stored = "".join(p.read_text() for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert SECRET not in stored
    # the server did receive the key
    request = httpserver.log[0][0]
    assert request.headers["Ocp-Apim-Subscription-Key"] == SECRET


def test_429_honours_retry_after_then_succeeds(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_ordered_request("/x").respond_with_json(
        {"statusCode": 429, "message": "Rate limit is exceeded."}, status=429,
        headers={"Retry-After": "7"})
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": True})
    fake = FakeTime()
    with fetcher(tmp_path, fake) as f:
        got = f.get(httpserver.url_for("/x"), name="x.json")
    assert got.attempts == 2 and got.json() == {"ok": True}
    assert 7.0 in fake.sleeps
    assert (tmp_path / "raw" / "demo" / "x.json.failed-1").exists()


def test_5xx_backs_off_exponentially_and_gives_up_naming_url(httpserver: HTTPServer,
                                                              tmp_path: Path):
    httpserver.expect_request("/boom").respond_with_data("oops", status=503)
    fake = FakeTime()
    with fetcher(tmp_path, fake, max_retries=3) as f, pytest.raises(FetchError) as err:
        f.get(httpserver.url_for("/boom"), name="boom.json", params={"token": SECRET})
    assert fake.sleeps == [0.5, 1.0, 2.0]
    message = str(err.value)
    assert "/boom" in message and "503" in message and "4 attempts" in message
    assert SECRET not in message and err.value.raw_path.exists()


def test_truncated_body_is_retried(httpserver: HTTPServer, tmp_path: Path):
    full = json.dumps({"count": 2, "data": [1, 2]})
    httpserver.expect_ordered_request("/t").respond_with_data(
        full[:10], content_type="application/json")  # cut JSON, consistent length
    httpserver.expect_ordered_request("/t").respond_with_response(Response(
        full[:12], headers={"Content-Length": str(len(full))}, content_type="application/json"))
    httpserver.expect_ordered_request("/t").respond_with_data(full, content_type="application/json")
    fake = FakeTime()
    with fetcher(tmp_path, fake) as f:
        got = f.get(httpserver.url_for("/t"), name="t.json")
    assert got.attempts == 3 and got.json()["count"] == 2


def test_wrong_content_type_is_retried_then_reported(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/h").respond_with_data("<html>maintenance</html>",
                                                      content_type="text/html")
    fake = FakeTime()
    with fetcher(tmp_path, fake, max_retries=1) as f, pytest.raises(FetchError,
                                                                    match="content type"):
        f.get(httpserver.url_for("/h"), name="h.json")


def test_4xx_is_not_retried(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/denied").respond_with_json({"message": "bad key"}, status=401)
    fake = FakeTime()
    with fetcher(tmp_path, fake) as f, pytest.raises(FetchError) as err:
        f.get(httpserver.url_for("/denied"), name="d.json")
    assert err.value.status == 401 and fake.sleeps == [] and b"bad key" in err.value.body


def test_timeout_is_retried(tmp_path: Path):
    import httpx

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"ok": 1})

    fake = FakeTime()
    client = httpx.Client(transport=httpx.MockTransport(handler))
    with Fetcher("demo", tmp_path, sleep=fake.sleep, clock=fake.clock, client=client) as f:
        assert f.get("http://127.0.0.1/x", name="x.json").json() == {"ok": 1}
    assert len(calls) == 2


def test_min_interval_spaces_requests(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/r").respond_with_json({})
    fake = FakeTime()
    with fetcher(tmp_path, fake, min_interval_s=2.5) as f:
        f.get(httpserver.url_for("/r"), name="r1.json")
        fake.now += 1.0
        f.get(httpserver.url_for("/r"), name="r2.json")
    assert fake.sleeps == [pytest.approx(1.5)]


def test_redact_and_retry_after_parsing():
    assert redact_url("http://h/p?subscription-key=abc&x=1") == "http://h/p?x=1"
    assert redact_url("http://h/p?token=abc") == "http://h/p"
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
