"""Real-time as-of: which data an analyst could have seen on a date (release calendars).

Default is "latest": every loaded row. In "real-time" mode a row counts only if its release was
on or before the date:

* CEPII BACI is updated once a year, in January, adding one year (the FAQ: "2018 trade flows
  will appear in the January 2020 version"): trade year Y first appears in release
  V{Y+2}01. The day is not published, so the end of January is taken, except where CEPII states
  it (V202401b: "Last update: April 9, 2024", the BACI page). A batch whose own release is later
  than the date is a later revision of the year: its values are used (the earlier release is
  not loaded) and the result is flagged ``later_release``.
* World Mining Data edition E (Austrian BMF) reports up to year E - 2 and appears in spring:
  year Y is taken as seen from 1 June of Y + 2 (an assumption: the day is not published).
* USGS Mineral Commodity Summaries edition E appears at the end of January of E (verify the
  day per edition): its salient statistics (to year E - 1, estimated) count from 31 January.

The scenario model reads no Comtrade rows (BACI only) and no prices (unit values are BACI's), so
Comtrade fetch times and price-file loads do not enter it.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Literal

DataMode = Literal["latest", "real-time"]
DATA_MODES: tuple[str, ...] = ("latest", "real-time")

STATED_RELEASES = {"V202401b": date(2024, 4, 9)}
"""Release days CEPII states (the BACI page); other releases: end of their month."""
RELEASE = re.compile(r"V(\d{4})(\d{2})([a-z]?)")


def release_date(release: str) -> date | None:
    """The day a BACI release (``V202401b-HS92 ...``) was published, or None if unnamed."""
    found = RELEASE.search(release)
    if found is None:
        return None
    code = "V" + "".join(found.groups())
    if code in STATED_RELEASES:
        return STATED_RELEASES[code]
    year, month = int(found.group(1)), int(found.group(2))
    return date(year, month, calendar.monthrange(year, month)[1])


def baci_year_released(year: int) -> date:
    """When trade year ``year`` first appeared in BACI (the January release two years on)."""
    return date(year + 2, 1, 31)


def wmd_year_released(year: int) -> date:
    return date(year + 2, 6, 1)


def mcs_edition_released(edition: int) -> date:
    return date(edition, 1, 31)


def mode_line(mode: str, as_of: date | None) -> str:
    """How a report names the data mode."""
    if mode == "real-time" and as_of is not None:
        return (f"Data mode: real-time as of {as_of.isoformat()} (only trade years, production "
                "and published consumption released by then).")
    return "Data mode: latest loaded data (not real-time)."
