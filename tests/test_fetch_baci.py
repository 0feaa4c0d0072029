"""`chokehold fetch baci`: a BACI release over real HTTP on loopback (Range, resume, errors),
then loaded; and `trade shares` for a commodity the embedded extract lacks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chokehold.config import PROJECT_ROOT
from chokehold.errors import ChokeholdError, DataError
from chokehold.pipelines.baci_fetch import DownloadError, download

SAMPLE = PROJECT_ROOT / "data" / "samples" / "baci" / "BACI_HS17_V202501.zip"
NAME = "/DATA_DOWNLOAD/baci/data/BACI_HS17_V202501.zip"


class Release(BaseHTTPRequestHandler):
    """Serves the sample zip at CEPII's path, honouring Range; ``cut_first`` drops the first
    answer after that many bytes; ``ignore_range`` answers 200 with the whole file."""

    body = SAMPLE.read_bytes()
    cut_first: int | None = None
    ignore_range = False
    corrupt = False
    requests: list[str | None] = []

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        cls = type(self)
        cls.requests.append(self.headers.get("Range"))
        if self.path != NAME:
            self.send_error(404)
            return
        body = cls.body if not cls.corrupt else cls.body[:200] + b"X" + cls.body[201:]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not cls.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if cls.cut_first is not None:
            self.wfile.write(body[start:start + cls.cut_first])
            cls.cut_first = None
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server() -> Iterator[tuple[str, type[Release]]]:
    handler = type("ReleaseHandler", (Release,), {"requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/DATA_DOWNLOAD/baci/data", handler
    httpd.shutdown()
    httpd.server_close()


def test_a_cut_download_resumes_with_range_and_is_checked(server, tmp_path: Path) -> None:
    base, handler = server
    handler.cut_first = 700
    target = download(f"{base}/BACI_HS17_V202501.zip", tmp_path / "BACI_HS17_V202501.zip")
    assert target.read_bytes() == SAMPLE.read_bytes()
    assert handler.requests == [None, "bytes=700-"]
    meta = json.loads((tmp_path / "BACI_HS17_V202501.zip.meta.json").read_text())
    assert meta["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert meta["size"] == SAMPLE.stat().st_size and meta["url"].endswith(NAME)
    download(f"{base}/BACI_HS17_V202501.zip", target)  # there already: no request
    assert len(handler.requests) == 2


def test_a_part_file_resumes_and_a_server_ignoring_range_restarts(server, tmp_path: Path
                                                                  ) -> None:
    base, handler = server
    part = tmp_path / "BACI_HS17_V202501.zip.part"
    part.write_bytes(SAMPLE.read_bytes()[:500])
    handler.ignore_range = True
    target = download(f"{base}/BACI_HS17_V202501.zip", tmp_path / "BACI_HS17_V202501.zip")
    assert target.read_bytes() == SAMPLE.read_bytes() and not part.exists()
    assert handler.requests == ["bytes=500-"]


def test_errors_missing_release_bad_checksum_corrupt_zip_dead_server(server, tmp_path: Path
                                                                     ) -> None:
    base, handler = server
    with pytest.raises(ChokeholdError, match=r"no such release \(404\)") as info:
        download(f"{base}/BACI_HS17_V209901.zip", tmp_path / "a.zip")
    assert info.value.exit_code == 2
    with pytest.raises(DataError, match="differs from the expected"):
        download(f"{base}/BACI_HS17_V202501.zip", tmp_path / "b.zip", sha256="0" * 64)
    assert not (tmp_path / "b.zip").exists()
    handler.corrupt = True
    with pytest.raises(DataError, match="CRC-32|not a zip"):
        download(f"{base}/BACI_HS17_V202501.zip", tmp_path / "c.zip")
    assert not (tmp_path / "c.zip").exists()
    with pytest.raises(DownloadError, match="after 2 attempts; run the command again") as info:
        download("http://127.0.0.1:9/BACI_HS17_V202501.zip", tmp_path / "d.zip", max_retries=1)
    assert info.value.exit_code == 4


def _cli(warehouse: Path, raw: Path, base: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHOKEHOLD_BACI_BASE_URL": base, "CHOKEHOLD_RAW_DIR": str(raw),
           "CHOKEHOLD_HTTP_MAX_RETRIES": "0"}
    return subprocess.run([str(Path(sys.executable).with_name("chokehold")), "--warehouse", str(warehouse),
                           *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_fetch_baci_downloads_loads_and_fills_gallium(server, warehouse_copy: Path,
                                                      tmp_path: Path) -> None:
    base, handler = server
    raw = tmp_path / "raw"
    before = _cli(warehouse_copy, raw, base, "trade", "shares", "--importer", "JPN",
                  "--commodity", "gallium")
    assert before.returncode == 2 and "Traceback" not in before.stderr
    assert "hold no rows for gallium's HS lines" in before.stderr
    assert "chokehold fetch baci --release V202501 --revision HS17" in before.stderr
    done = _cli(warehouse_copy, raw, base, "fetch", "baci", "--release", "V202501",
                "--revision", "HS17", "--years", "2023")
    assert done.returncode == 0, done.stderr
    assert (raw / "baci" / "BACI_HS17_V202501.zip").read_bytes() == SAMPLE.read_bytes()
    shares = _cli(warehouse_copy, raw, base, "trade", "shares", "--importer", "JPN",
                  "--commodity", "gallium", "--format", "json")
    assert shares.returncode == 0, shares.stderr
    rows = json.loads(shares.stdout)
    assert {r["period"] for r in rows} == {"2023-01-01"}  # --years 2023 only
    china = next(r for r in rows if r["partner_iso3"] == "CHN")
    assert china["value_usd"] == pytest.approx(28_730_900)
    assert china["share"] == pytest.approx(28730.9 / (28730.9 + 9120.5 + 5010.2))
    bad = _cli(warehouse_copy, raw, base, "fetch", "baci", "--release", "V209901",
               "--revision", "HS17")
    assert bad.returncode == 2 and "no such release (404)" in bad.stderr
    bad = _cli(warehouse_copy, raw, base, "fetch", "baci", "--release", "V202501",
               "--revision", "HS18")
    assert bad.returncode == 2 and "valid: HS92, HS96" in bad.stderr
