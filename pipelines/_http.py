"""The shared HTTP fetch layer: polite, retrying, and keeping every raw response.

``Fetcher.get`` sends one GET with an httpx client and retries (tenacity, exponential backoff)
on what is worth retrying: 429 (honouring Retry-After), 5xx, timeouts and dropped connections,
truncated bodies (fewer bytes than Content-Length, or JSON that does not parse) and a wrong
content type. Requests are spaced by a minimum interval (the source's rate limit). Every
response received, failed ones included, is written under ``raw_dir/<source>/`` with a
``.meta.json`` sidecar (sha256, URL without secrets, fetch time, status), so a bad payload stays
on disk for inspection. Secrets (query parameters or headers named in ``secret_params`` /
``secret_headers``) never reach a log, a sidecar or an error message.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from chokehold.errors import ChokeholdError

log = logging.getLogger(__name__)

DEFAULT_SECRET_PARAMS = frozenset({"subscription-key", "api_key", "apikey", "key", "token"})
DEFAULT_SECRET_HEADERS = frozenset({"ocp-apim-subscription-key", "authorization", "x-api-key"})


class FetchError(ChokeholdError):
    """A request that failed for good (after retries, or with a status not worth retrying)."""

    exit_code = 4  # a network or server failure, not bad input

    def __init__(self, message: str, *, url: str, status: int | None = None,
                 raw_path: Path | None = None, body: bytes = b"") -> None:
        kept = f" (raw response kept at {raw_path})" if raw_path else ""
        super().__init__(f"{url}: {message}{kept}")
        self.url, self.status, self.raw_path, self.body = url, status, raw_path, body
        self.reason = message


class _Retryable(Exception):
    """One attempt that failed in a way worth retrying; ``retry_after`` in seconds if the
    server said so."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, raw_path: Path | None = None,
                 body: bytes = b"") -> None:
        super().__init__(message)
        self.status, self.retry_after, self.raw_path, self.body = (
            status, retry_after, raw_path, body)


@dataclass(frozen=True)
class RawResponse:
    """A successful response as kept on disk."""

    url: str  # without secrets
    status: int
    content: bytes
    content_type: str
    path: Path
    sha256: str
    fetched_at: str
    attempts: int

    def json(self) -> Any:
        return json.loads(self.content)


def redact_url(url: httpx.URL | str, secret_params: frozenset[str] = DEFAULT_SECRET_PARAMS) -> str:
    """The URL with secret query parameters removed (not masked: nothing of them is kept)."""
    parsed = httpx.URL(str(url))
    kept = [(k, v) for k, v in parsed.params.multi_items() if k.lower() not in secret_params]
    return str(parsed.copy_with(params=httpx.QueryParams(kept)) if kept
               else parsed.copy_with(query=None))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _safe_name(name: str) -> str:
    """A relative path from a request name: sub-folders kept, nothing outside the folder."""
    parts = [re.sub(r"[^A-Za-z0-9._=,+-]+", "_", part).strip("_.") for part in name.split("/")]
    return "/".join(p for p in parts if p) or "response"


class Fetcher:
    """GET with retries, spacing and raw storage for one source (e.g. ``comtrade``).

    ``expect`` of ``get`` names the body kind that counts as complete: ``"json"`` (must parse)
    or None (any body). ``content_types`` lists acceptable media types (prefix match).
    ``sleep`` and ``clock`` are injectable so tests need not wait.
    """

    def __init__(
        self,
        source: str,
        raw_dir: Path,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 6,
        min_interval_s: float = 0.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 120.0,
        secret_params: frozenset[str] = DEFAULT_SECRET_PARAMS,
        secret_headers: frozenset[str] = DEFAULT_SECRET_HEADERS,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.folder = Path(raw_dir) / source
        self.max_retries = max_retries
        self.min_interval_s = min_interval_s
        self.secret_params = frozenset(p.lower() for p in secret_params)
        self.secret_headers = frozenset(h.lower() for h in secret_headers)
        self._backoff = wait_exponential(multiplier=backoff_initial_s, max=backoff_max_s)
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
        self._sleep, self._clock = sleep, clock
        self._last_request: float | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- public -------------------------------------------------------------------------------

    def get(self, url: str, *, name: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None, expect: str | None = "json",
            content_types: tuple[str, ...] = ("application/json", "text/json")
            ) -> RawResponse:
        """Fetch ``url`` and keep the body at ``raw_dir/<source>/<name>``.

        Raises FetchError naming the URL (without secrets), the status, and where the last raw
        response was kept.
        """
        request = self._client.build_request("GET", url, params=params, headers=headers)
        shown = redact_url(request.url, self.secret_params)
        attempts = 0

        def attempt() -> RawResponse:
            nonlocal attempts
            attempts += 1
            return self._attempt(request, shown, name, attempts, expect, content_types)

        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "%s: attempt %d failed (%s); retrying", shown, state.attempt_number,
                state.outcome.exception() if state.outcome else "?"),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retryable as exc:
            raise FetchError(f"{exc} (gave up after {attempts} attempts)", url=shown,
                             status=exc.status, raw_path=exc.raw_path, body=exc.body) from None

    # -- internals ----------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gave one, else exponential backoff."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(state)

    def _space(self) -> None:
        if self._last_request is not None and self.min_interval_s > 0:
            gap = self.min_interval_s - (self._clock() - self._last_request)
            if gap > 0:
                self._sleep(gap)
        self._last_request = self._clock()

    def _attempt(self, request: httpx.Request, shown: str, name: str, number: int,
                 expect: str | None, content_types: tuple[str, ...]) -> RawResponse:
        self._space()
        log.info("GET %s (attempt %d)", shown, number)
        try:
            response = self._client.send(request)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:  # refused, reset, incomplete body, ...
            raise _Retryable(f"connection failed: {type(exc).__name__}: {exc}") from None
        body = response.content
        ok = response.status_code < 400
        path = self._keep(name if ok else f"{name}.failed-{number}", body, shown, response)
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code == 429:
            raise _Retryable("429 Too Many Requests", status=429, raw_path=path, body=body,
                             retry_after=parse_retry_after(response.headers.get("retry-after")))
        if response.status_code >= 500:
            raise _Retryable(f"server error {response.status_code}", status=response.status_code,
                             raw_path=path, body=body)
        if not ok:
            raise FetchError(f"HTTP {response.status_code}", url=shown,
                             status=response.status_code, raw_path=path, body=body)
        declared = response.headers.get("content-length")
        if (declared is not None and "content-encoding" not in response.headers
                and declared.isdigit() and int(declared) != len(body)):
            raise _Retryable(f"truncated body: {len(body)} of {declared} bytes",
                             status=response.status_code, raw_path=path, body=body)
        if content_types and not any(ctype.startswith(t) for t in content_types):
            raise _Retryable(f"unexpected content type {ctype or '(none)'!r}; expected "
                             f"{', '.join(content_types)}", status=response.status_code,
                             raw_path=path, body=body)
        if expect == "json":
            try:
                json.loads(body)
            except ValueError as exc:
                raise _Retryable(f"body is not complete JSON ({exc})",
                                 status=response.status_code, raw_path=path, body=body) from None
        meta = json.loads(path.with_name(path.name + ".meta.json").read_text(encoding="utf-8"))
        return RawResponse(shown, response.status_code, body, ctype, path, meta["sha256"],
                           meta["fetched_at"], number)

    def _keep(self, name: str, body: bytes, shown: str, response: httpx.Response) -> Path:
        """Write the body and its sidecar; the sidecar holds no secret and no header values."""
        path = self.folder / _safe_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        meta = {
            "source": self.source,
            "url": shown,
            "status": response.status_code,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
            "content_type": response.headers.get("content-type"),
            "content_length_header": response.headers.get("content-length"),
        }
        path.with_name(path.name + ".meta.json").write_text(
            json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path
