"""What every output says about where it came from: the code revision and the redaction marker.

One revision id (``<12-hex sha>`` or ``<sha>-dirty``) in vintage manifests, run records and
report footers alike, and one marker for a secret removed from logs, records and digests.
"""

from __future__ import annotations

import subprocess
from functools import cache

from chokehold.config import PROJECT_ROOT

REDACTED = "[REDACTED]"
"""What a secret (an API key in a URL, a header) is replaced by wherever it would be written."""


@cache
def code_revision() -> str | None:
    """The checkout's commit, ``<sha>`` (12 hex digits) or ``<sha>-dirty``; None outside git."""
    try:
        sha = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "diff", "--quiet", "HEAD", "--"],
                               capture_output=True, timeout=10, check=False).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha
