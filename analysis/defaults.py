"""Named analysis defaults: what the CLI's options default to and what the reports' prose says.

One place, so ``chokehold trade reroute`` and a report's method note cannot disagree on the
supplier, the event window or the carry limit.
"""

from __future__ import annotations

SUPPLIER = "CHN"
"""The supplier whose export controls the toolkit studies (every registry measure's issuer)."""

TRADE_SOURCE = "baci"
"""Shares, HHI and reliance in the reports are of CEPII BACI (annual, reconciled mirror flows)."""

EVENT_WINDOW = (3, "months")
"""Event-study window on each side of a control date: length and unit."""

TOP_PARTNERS = 5
"""Partners named in a partner-shares-over-time chart (the rest are 'other')."""

DEFAULT_IMPORTERS = ("JPN", "USA", "KOR", "DEU", "FRA", "GBR", "ITA", "IND", "TWN", "VNM")
"""Importers of a scenario matrix when none are named."""

REROUTE_THIRD_COUNTRIES = ("VNM", "MYS", "THA", "KOR")
"""Third countries the rerouting signal watches by default."""
