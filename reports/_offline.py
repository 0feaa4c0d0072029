"""Quarto post-render step: take out the require.js and jQuery that Quarto adds from a CDN.

Quarto's Jupyter engine puts require.js, jQuery and a ``define('jquery', ...)`` shim into the
head of every html document whose notebook has an HTML output (for "JavaScript widgets" that
use them). Nothing in these reports does: plotly.js is inline and great_tables is plain HTML.
Left in, an offline reader's browser logs two failed loads and ``define is not defined``
(and with require.js present plotly.js would register as an AMD module instead of
``window.Plotly``). Standard library only: Quarto runs this with the Python on PATH.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

WIDGET_TAGS = re.compile(
    r"""<script\b[^>]*\bsrc=["']https?://[^"']*(?:require|jquery)[^"']*["'][^>]*>\s*</script>\s*"""
    r"""|<script\b[^>]*>\s*define\(\s*['"]jquery['"][^<]*</script>\s*""",
    re.IGNORECASE)


def strip_widget_scripts(html: str) -> str:
    """The html without Quarto's require.js, jQuery and jQuery-define script tags."""
    return WIDGET_TAGS.sub("", html)


def main(paths: list[str]) -> None:
    for name in paths:
        path = Path(name)
        if path.suffix == ".html" and path.is_file():
            text = path.read_text(encoding="utf-8")
            cleaned = strip_widget_scripts(text)
            if cleaned != text:
                path.write_text(cleaned, encoding="utf-8")


if __name__ == "__main__":
    listed = os.environ.get("QUARTO_PROJECT_OUTPUT_FILES", "")
    main([*filter(None, listed.splitlines()), *sys.argv[1:]])
