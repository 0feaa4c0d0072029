"""Citations a reader can open: each measure's own document by issuer, number, date and URL.

A URL either opens the document itself (``url_kind: document``: an address with a path, found
for that document in two independent public sources) or is labelled as the issuer's index page
(``url_kind: index``), in the registry and in what the reports print.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from chokehold.commodities import load_commodities
from chokehold.errors import DataError
from chokehold.registry import Citation, load_registry
from chokehold.render.engine import Job, Renderer

URL = re.compile(r"https?://\S+")


def _registry():
    return load_registry(Path("data/controls").resolve(),
                         load_commodities(Path("data/commodities.yaml").resolve()))


def _specific(url: str) -> bool:
    return urlparse(url).path not in ("", "/")


def test_every_measure_cites_its_own_document_fully() -> None:
    registry = _registry()
    kinds = set()
    for measure in registry.values():
        primary = [c for c in measure.citations if c.primary]
        assert len(primary) == 1, measure.id
        c = primary[0]
        assert c.issuer and c.number and c.published and c.url, measure.id
        assert c.number in c.source, measure.id
        kinds.add(c.url_kind)
        if c.url_kind == "document":
            assert _specific(c.url) and c.url.endswith(".html"), measure.id
        else:
            assert c.url_kind == "index" and not _specific(c.url), measure.id
        for period in measure.status:  # each status period's URL: the document's, or labelled
            for url in URL.findall(period.source):
                assert _specific(url) or period.source.endswith(f"{url} (index page)"), \
                    (measure.id, period.source)
    assert kinds == {"document", "index"}


def test_a_url_without_its_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="url_kind"):
        Citation(source="X Announcement 1", states="s", url="https://example.org")
    with pytest.raises(ValueError, match="needs number"):
        Citation(source="X", states="s", primary=True, issuer="X", published="2025-01-01",
                 url="https://example.org", url_kind="index")


def test_registry_file_without_url_kind_names_the_file(tmp_path: Path) -> None:
    source = Path("data/controls/cn-2023-39-graphite.yaml")
    entry = yaml.safe_load(source.read_text(encoding="utf-8"))
    del entry["citations"][0]["url_kind"]
    folder = tmp_path / "controls"
    folder.mkdir()
    (folder / source.name).write_text(yaml.safe_dump(entry), encoding="utf-8")
    with pytest.raises(DataError, match=r"cn-2023-39-graphite\.yaml.*url_kind"):
        load_registry(folder, load_commodities(Path("data/commodities.yaml").resolve()))


class _Rows(HTMLParser):
    """The body rows of the great_tables table whose title is ``title``."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title, self.inside = title, False
        self.rows: list[list[str]] = []
        self.cell: str | None = None

    def handle_starttag(self, tag, attrs):
        if self.inside and tag in ("td", "th"):
            self.cell = ""
        if self.inside and tag == "tr":
            self.rows.append([])

    def handle_endtag(self, tag):
        if self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        if tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.title in data:
            self.inside = True
        if self.cell is not None:
            self.cell += data


@pytest.mark.slow
@pytest.mark.parametrize("control", ["cn-2025-18-medium-heavy-rare-earths",
                                     "cn-2025-61-extraterritorial-rare-earths"])
def test_rendered_report_prints_issuer_number_date_and_what_the_url_opens(
        renderer: Renderer, control: str) -> None:
    m = _registry()[control]
    job = Job("control-exposure", params={"control": control}, formats=["html"])
    html = renderer.render(renderer.prepare(job)).outputs[0].read_text(encoding="utf-8")
    parser = _Rows("Where the registry entry comes from")
    parser.feed(html)
    rows = [r for r in parser.rows if r]
    header = next(r for r in rows if "document" in r and "url" in r)
    body = [dict(zip(header, r)) for r in rows[rows.index(header) + 1:] if len(r) == len(header)]
    primary = [r for r in body if r["kind"] == "primary"]
    assert len(primary) == 1 and len(body) == len(m.citations)
    row, own = primary[0], m.citations[0]
    assert row["issuer"] == own.issuer and row["number"] == own.number
    assert row["date"] == own.published.isoformat()
    if own.url_kind == "document":
        assert row["url"] == own.url and _specific(row["url"])
    else:
        assert row["url"] == f"{own.url} (index page)"
