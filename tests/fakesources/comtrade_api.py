"""A Comtrade v1 look-alike for FaultServer: /data/v1/get/C/{A|M}/HS and /public/v1/preview,
and their data-availability twins /data/v1/getDA and /public/v1/getDA.

Answers every (reporter, partner, cmdCode, flow, period) a request names with one record in the
real v1 shape, for a fixed set of partners (plus the World total, which the connector must
drop). Values are a deterministic function of the key, so two servers give identical data.
``maxRecords`` is honoured the way Comtrade does: a full answer says so only by its size.
"""

from __future__ import annotations

import hashlib
import json

PARTNERS = (156, 704, 842, 276, 392)  # China, Viet Nam, USA, Germany, Japan (Comtrade codes)
REPORTERS = (392, 410, 842, 276, 251, 380, 826, 124, 36, 76, 699, 360, 458, 484, 528, 554, 579,
             608, 616, 620, 643, 702, 710, 724, 752, 757, 764, 792, 784, 56)
"""Thirty reporter codes (Japan, Korea, USA, ...), all in BACI's country table."""
REPORTER_ISO = dict(zip(REPORTERS, (
    "JPN", "KOR", "USA", "DEU", "FRA", "ITA", "GBR", "CAN", "AUS", "BRA", "IND", "IDN", "MYS",
    "MEX", "NLD", "NZL", "NOR", "PHL", "POL", "PRT", "RUS", "SGP", "ZAF", "ESP", "SWE", "CHE",
    "THA", "TUR", "ARE", "BEL"), strict=True))


def value(*key: object) -> float:
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return round(1000 + int.from_bytes(digest[:4], "big") % 1_000_000 / 10, 1)


def record(freq: str, reporter: int, partner: int, cmd: str, flow: str, period: str) -> dict:
    year = int(period[:4])
    month = int(period[4:]) if freq == "M" else 52
    primary = value(reporter, partner, cmd, flow, period)
    return {
        "typeCode": "C", "freqCode": freq, "refPeriodId": int(f"{year}{month:02d}01"),
        "refYear": year, "refMonth": month, "period": period, "reporterCode": reporter,
        "flowCode": flow, "partnerCode": partner, "partner2Code": 0,
        "classificationCode": "H6", "cmdCode": cmd, "customsCode": "C00", "motCode": 0,
        "qtyUnitCode": 8, "qtyUnitAbbr": "kg", "qty": primary * 10, "netWgt": primary * 10,
        "primaryValue": primary, "cifvalue": primary, "fobvalue": None,
        "isReported": True, "isAggregate": False,
    }


def dataset(freq: str, reporter: int, period: str) -> dict:
    """One getDA row: what Comtrade holds for a reporter and period, in the real v1 shape."""
    return {
        "datasetCode": int(f"{reporter}{period}"), "typeCode": "C", "freqCode": freq,
        "period": int(period), "reporterCode": reporter, "reporterISO": REPORTER_ISO[reporter],
        "reporterDesc": REPORTER_ISO[reporter], "classificationCode": "H6",
        "classificationSearchCode": "HS", "isOriginalClassification": True,
        "isExtendedFlowCode": True, "isExtendedPartnerCode": True,
        "isExtendedPartner2Code": True, "isExtendedCmdCode": True,
        "isExtendedCustomsCode": True, "isExtendedMotCode": True,
        "totalRecords": 1000 + reporter, "datasetChecksum": int(value(reporter, period) * 10),
        "firstReleased": f"{period[:4]}-12-15T00:00:00", "lastReleased": "2025-03-01T00:00:00",
    }


def app(path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
    parts = path.strip("/").split("/")
    if parts[:3] in (["data", "v1", "getDA"], ["public", "v1", "getDA"]) and len(parts) == 6:
        rows = [dataset(parts[4], r, t) for r in REPORTERS
                for t in query.get("period", "").split(",") if t]
        body = {"elapsedTime": "0.01 secs", "count": len(rows), "data": rows, "error": ""}
        return 200, "application/json", json.dumps(body).encode()
    if parts[:3] not in (["data", "v1", "get"], ["public", "v1", "preview"]) or len(parts) != 6:
        return 404, "application/json", b'{"error": "not found"}'
    freq = parts[4]

    def listed(name: str, default: tuple) -> list[str]:
        return query[name].split(",") if query.get(name) else [str(v) for v in default]

    rows = [record(freq, int(r), int(p), c, f, t)
            for r in listed("reporterCode", REPORTERS)
            for p in listed("partnerCode", (0, *PARTNERS))
            for c in listed("cmdCode", ())
            for f in listed("flowCode", ("M", "X"))
            for t in listed("period", ())]
    for row in rows:
        if row["partnerCode"] == 0:  # World: the sum the connector must not store twice
            row["primaryValue"] = 10 * row["primaryValue"]
    cap = int(query.get("maxRecords", 100_000))
    body = {"elapsedTime": "0.01 secs", "count": min(len(rows), cap), "data": rows[:cap],
            "error": ""}
    return 200, "application/json", json.dumps(body).encode()
