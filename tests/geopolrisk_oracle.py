"""Run geopolrisk-py (GPL-3.0) as an oracle in a subprocess; used by tests and benchmarks only.

The package reads its data and writes logs to ``~/Documents/geopolrisk`` when imported, so the
caller runs this file with HOME pointing at a temporary folder:
``python geopolrisk_oracle.py OUT.json --years 2018 2022 --importers Japan EU --materials all``.
It calls the package's own functions once per (year, importer, raw material) and writes one
record per combination (score, import risk, CF, HHI, price; null where the package fails) and
the seconds the package took for the whole set (mapping BACI included), as JSON. Each
importer's trade is the package's own mapped frame cut to the importer's reporters (the rows its
query selects), which speeds the package up without changing what it computes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--years", type=int, nargs="+", required=True)
    parser.add_argument("--importers", nargs="+", required=True)
    parser.add_argument("--materials", nargs="+", required=True)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    from geopolrisk.assessment import core, utils
    from geopolrisk.assessment.database import databases

    started = time.perf_counter()
    data = utils.mapped_baci()
    materials = utils.default_rmlist() if args.materials == ["all"] else args.materials
    importers = ([c for c in databases.production["Country_ISO"]["Country"].tolist()]
                 if args.importers == ["all"] else args.importers)
    records = []
    by_importer = {}
    for importer in importers:
        members = databases.regionslist[utils.cvtcountry(importer, type="Name")]
        codes = [int(utils.cvtcountry(m, type="ISO")) for m in members]
        # The rows the package's own query would select, so each query scans only those.
        by_importer[importer] = members, data[data["reporterCode"].isin(codes)]
    for year in args.years:
        for importer in importers:
            members, rows = by_importer[importer]
            for material in materials:
                rec = {"year": year, "importer": importer, "material": material}
                try:
                    num, total, price = utils.aggregateTrade(year, members, material, rows)
                    prod = 0.0
                    for m in members:
                        qty, hhi = core.HHI(material, year, utils.cvtcountry(m, type="Name"))
                        prod += qty
                    score, cf, ir = core.GeoPolRisk(num, total, price, prod, hhi)
                    rec.update(score=score, cf=cf, import_risk=ir, hhi=hhi, price=price,
                               imports=total, production=prod)
                except Exception as exc:  # the package raises bare ValueErrors; record them
                    rec["error"] = repr(exc)
                records.append({k: (None if isinstance(v, float) and math.isnan(v) else v)
                                for k, v in rec.items()})
    seconds = time.perf_counter() - started
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"seconds": seconds, "records": records}, fh)


if __name__ == "__main__":
    main()
