"""What a scenario result cannot claim: the flags every result carries, and their thresholds.

A flag is a fact about the inputs or the draws that limits how a figure may be read. Reports
print them next to the headline; the matrix keeps them in its ``flags`` column; none of them
stops the model running (a flagged figure is a bound or a caveat, not a finding).
"""

from __future__ import annotations

SATURATION_SHARE = 0.10
"""``saturated`` when more than this share of draws hit the demand cap (the measure's reach is
at least the whole consumption, so the shortfall is set by the cap, not by the data)."""
THIN_TRADE_USD = 10_000_000.0
"""``thin_trade`` under this value of imports from the issuer in the trade year (USD)."""
CREDIBLE_NET_SHARE = 0.10
"""An apparent consumption below this share of gross trade (imports + exports), or negative,
is a small difference of two large gross flows: ``non_credible_balance``, import-only basis."""

FLAGS: dict[str, str] = {
    "saturated": f"in more than {SATURATION_SHARE:.0%} of draws the volume the measure reaches "
                 "exceeds the whole consumption, so the figures are set by that cap: read "
                 "them as a bound, not a finding",
    "thin_trade": f"imports from the issuer were under USD {THIN_TRADE_USD / 1e6:,.0f} million "
                  "in the trade year: immaterial, shown for completeness",
    "gross_weight_basis": "some HS lines have no content factor (data/commodities.yaml "
                          "content_factors), so their tonnes are gross product weight",
    "no_production_data": "no production series is loaded for the commodity, so consumption "
                          "counts no domestic production",
    "non_credible_balance": "production + imports - exports was negative or under "
                            f"{CREDIBLE_NET_SHARE:.0%} of gross trade (a re-exporter's small net "
                            "of two large flows): consumption is taken as imports",
    "later_release": "real-time as-of: the values shown come from a release later than the "
                     "as-of date (the earlier release is not loaded); only the years are cut",
}


def describe(flags: list[str] | tuple[str, ...]) -> str:
    """One sentence per flag, for reports."""
    return " ".join(f"**{f}**: {FLAGS.get(f, f)}." for f in flags)
