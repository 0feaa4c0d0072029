"""Download an official CEPII BACI release zip, resumably, into ``raw_dir/baci/``.

CEPII publishes each release and HS revision as one zip at
``https://www.cepii.fr/DATA_DOWNLOAD/baci/data/BACI_<revision>_<release>.zip`` (e.g.
``BACI_HS17_V202501.zip``, about 1-2 GB): one CSV per year (``BACI_HS17_Y2022_V202501.csv``),
``country_codes_V202501.csv``, ``product_codes_HS17_V202501.csv`` and a readme. The download
streams to ``<name>.part``; an interrupted one resumes where it stopped with an HTTP Range
request (a server that ignores Range sends it whole again). A finished file must have the size
the server announced, every member's CRC-32 must match (the zip's own checksums) and, when given,
its SHA-256; only then is it renamed into place with a ``.meta.json`` sidecar (URL, size,
sha256, fetch time). A file already there with its sidecar is not downloaded again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

from chokehold.errors import ChokeholdError, DataError

RELEASE = re.compile(r"^V\d{6}[a-z]?$")
REVISIONS = ("HS92", "HS96", "HS02", "HS07", "HS12", "HS17", "HS22")
RELEASES_PAGE = "https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=37"
CHUNK = 1 << 20


class _Retry(Exception):
    """A server answer worth retrying (429, 5xx)."""


class DownloadError(ChokeholdError):
    """The download failed for a reason other than bad input (network, server)."""

    exit_code = 4


def release_name(revision: str, release: str) -> str:
    """``BACI_HS17_V202501.zip``; refuses names CEPII does not use."""
    if revision not in REVISIONS:
        raise ChokeholdError(f"--revision {revision!r} is not a BACI HS revision; valid: "
                             f"{', '.join(REVISIONS)}")
    if not RELEASE.match(release):
        raise ChokeholdError(f"--release {release!r} is not a BACI release (like V202501 or "
                             "V202401b)")
    return f"BACI_{revision}_{release}.zip"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _check_archive(path: Path, url: str) -> None:
    """Every member's CRC-32 (a corrupt or cut download fails here)."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except zipfile.BadZipFile as exc:
        raise DataError(f"downloaded file is not a zip archive: {exc}", source=url) from exc
    if bad is not None:
        raise DataError(f"member {bad} fails its CRC-32 check (corrupt download)", source=url)


def _total(response: httpx.Response, offset: int) -> int | None:
    if response.status_code == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+)", response.headers.get("content-range", ""))
        if match is None or int(match.group(1)) != offset:
            raise DownloadError(f"{response.url}: the server answered the range request for "
                                f"byte {offset} with {response.headers.get('content-range')!r}")
        return int(match.group(2))
    length = response.headers.get("content-length")
    return int(length) if length is not None else None


def _attempt(client: httpx.Client, url: str, part: Path, progress: object | None) -> int | None:
    """One GET from where ``part`` ends; returns the total size the server announced."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 416 and offset:  # asked beyond the end: start again
            part.unlink()
            return _attempt(client, url, part, progress)
        if response.status_code == 404:
            raise ChokeholdError(f"{url}: no such release (404); the releases are listed at "
                                 f"{RELEASES_PAGE}")
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise DownloadError(f"{url}: HTTP {response.status_code}")
        if response.status_code == 200:
            offset = 0  # the server ignored the Range header: the whole file again
        total = _total(response, offset)
        task = progress.add_task(part.name.removesuffix(".part"), total=total,
                                 completed=offset) if progress is not None else None
        with part.open("ab" if offset else "wb") as out:
            for block in response.iter_bytes():
                out.write(block)
                if task is not None:
                    progress.update(task, advance=len(block))
        return total


def download(url: str, target: Path, *, sha256: str | None = None, timeout_s: float = 60.0,
             max_retries: int = 6, show_progress: bool = False) -> Path:
    """Fetch ``url`` to ``target`` (resuming a ``.part``), checked; return ``target``."""
    sidecar = target.with_name(target.name + ".meta.json")
    if target.exists() and sidecar.exists():
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if meta.get("size") == target.stat().st_size and sha256 in (None, meta.get("sha256")):
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with (Progress(*columns, console=Console(stderr=True), disable=not show_progress,
                   transient=True) as progress,
          httpx.Client(timeout=timeout_s, follow_redirects=True) as client):
        total = None
        for attempt in range(max_retries + 1):
            try:
                total = _attempt(client, url, part, progress)
                size = part.stat().st_size
                if total is None or size == total:
                    break
                error = f"received {size:,} of {total:,} bytes"
            except (httpx.TransportError, _Retry) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt == max_retries:
                raise DownloadError(f"{url}: {error} after {max_retries + 1} attempts; run the "
                                    f"command again to resume from {part}")
            time.sleep(min(0.5 * 2 ** attempt, 30))
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{url}: received {size:,} of {total:,} bytes")
    digest = _sha256(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise DataError(f"SHA-256 {digest} differs from the expected {sha256}", source=url)
    _check_archive(part, url)
    part.replace(target)
    sidecar.write_text(json.dumps({
        "url": url, "size": size, "sha256": digest,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "publisher": "CEPII", "licence": "Etalab Open Licence 2.0"}, indent=2) + "\n",
        encoding="utf-8")
    return target


def extract_years(archive: Path, years: list[int], folder: Path) -> list[Path]:
    """The chosen year files (and the code files) of a release zip, extracted into ``folder``;
    refuses years the release does not hold."""
    from chokehold.pipelines.baci import BULK_FILE, COUNTRY_FILE, PRODUCT_FILE

    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        by_year = {int(m.group(2)): n for n in names if (m := BULK_FILE.search(n))}
        missing = sorted(set(years) - set(by_year))
        if missing:
            raise ChokeholdError(f"{archive.name} holds no year {', '.join(map(str, missing))}; "
                                 f"it has {min(by_year)}-{max(by_year)}")
        wanted = [by_year[y] for y in sorted(years)]
        codes = [n for n in names if COUNTRY_FILE.search(n) or PRODUCT_FILE.search(n)]
        out = []
        for name in wanted + codes:
            target = folder / Path(name).name
            with zf.open(name) as src, target.open("wb") as dst:
                while block := src.read(CHUNK):
                    dst.write(block)
            out.append(target)
    return out[:len(wanted)]
