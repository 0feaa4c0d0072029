"""A loopback HTTP server that fails at random, for testing connectors and the refresh.

``FaultServer(app, rate=0.25)`` serves ``app(path, query) -> (status, content_type, body)`` on
127.0.0.1 and replaces a ``rate`` share of responses (chosen by a seeded RNG) by one of:

- ``500``: an internal server error;
- ``429``: too many requests, with ``Retry-After: <retry_after>``;
- ``timeout``: the response is held ``hold_s`` seconds (set the client timeout below that);
- ``truncated``: the headers promise the whole body, half of it is sent, the connection closes;
- ``content_type``: 200 with an HTML maintenance page instead of the data.

Paths starting with one of ``down_prefixes`` always get 503 (a source down for the whole run).
``stats`` counts what was served; ``requests`` keeps (path, query, headers) of every request
and ``served`` (path, outcome).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

App = Callable[[str, dict[str, str]], tuple[int, str, bytes]]
FAULTS = ("500", "429", "timeout", "truncated", "content_type")
HTML = b"<html><body><h1>Down for maintenance</h1></body></html>"


class FaultServer:
    def __init__(self, app: App, *, rate: float = 0.25, seed: int = 0,
                 faults: tuple[str, ...] = FAULTS, retry_after: int = 0, hold_s: float = 0.6,
                 down_prefixes: tuple[str, ...] = ()) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        self.app, self.rate, self.faults = app, rate, faults
        self.retry_after, self.hold_s, self.down_prefixes = retry_after, hold_s, down_prefixes
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.served: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # clients hang up on faults
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _choose(self, path: str) -> str:
        with self._lock:
            if any(path.startswith(p) for p in self.down_prefixes):
                outcome = "down"
            elif self._rng.random() < self.rate:
                outcome = self._rng.choice(self.faults)
            else:
                outcome = "ok"
            self.stats[outcome] += 1
            self.served.append((path, outcome))
            return outcome

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, content_type: str, body: bytes,
                      extra: dict[str, str] | None = None, send: bytes | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body if send is None else send)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with server._lock:
                    server.requests.append((parts.path, query, dict(self.headers)))
                outcome = server._choose(parts.path)
                if outcome == "down":
                    self._send(503, "text/plain", b"service unavailable")
                elif outcome == "500":
                    self._send(500, "text/plain", b"internal server error")
                elif outcome == "429":
                    self._send(429, "application/json", b'{"message": "rate limit"}',
                               {"Retry-After": str(server.retry_after)})
                elif outcome == "content_type":
                    self._send(200, "text/html", HTML)
                else:
                    if outcome == "timeout":
                        time.sleep(server.hold_s)
                    status, content_type, body = server.app(parts.path, query)
                    if outcome == "truncated":
                        self._send(status, content_type, body, send=body[: len(body) // 2])
                        self.close_connection = True
                    else:
                        self._send(status, content_type, body)

        return Handler
