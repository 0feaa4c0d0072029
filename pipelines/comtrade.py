"""UN Comtrade API v1: goods trade by reporter, partner, HS six-digit line, flow and period.

With a subscription key (``COMTRADE_API_KEY``) the connector calls
``/data/v1/get/C/{A|M}/HS`` (up to 100,000 rows per call); without one, the keyless
``/public/v1/preview/C/{A|M}/HS`` (up to 500 rows). Requests are split so that none can exceed
the cap (estimated rows = reporters x partners x lines x flows x periods), and a response that
still comes back full is split again: a capped answer is never taken as complete.

Comtrade returns totals beside their breakdowns. Only the totals are kept, so nothing is counted
twice: partner 0 (World) is dropped (it is the sum of the partners stored beside it), and only
partner2Code 0 (World), customsCode C00 (all procedures) and motCode 0 (all modes) rows are
kept. A row flagged isAggregate is dropped where a reported (non-aggregate) row has the same key.
Values are primaryValue in USD (CIF for imports, FOB for exports); quantities are net weight in
tonnes where given, else the reported quantity in its own unit.

Before a scheduled refresh fetches anything, ``fingerprint`` asks Comtrade's data-availability
endpoint (``getDA``, one request per twelve periods) what it holds for the requested reporters
and periods: each dataset's checksum and release date. While they and the request stay the same,
the refresh skips Comtrade instead of spending the daily call quota on data it already has.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import duckdb
from pydantic import Field, field_validator

from chokehold._lazy import polars as pl
from chokehold.config import Settings
from chokehold.countries import reference_countries
from chokehold.errors import ChokeholdError, DataError, UnknownValueError, fail_where
from chokehold.pipelines._http import Fetcher, FetchError, RawResponse
from chokehold.warehouse import LoadResult, load_frame, read_query
from chokehold.yamlfiles import Strict

SOURCE_ID = "comtrade"
FLOWS = {"M": "import", "X": "export", "RX": "re_export"}
CLASSIFICATIONS = {"H0": "HS92", "H1": "HS96", "H2": "HS02", "H3": "HS07", "H4": "HS12",
                   "H5": "HS17", "H6": "HS22"}
ROW_CAPS = {"preview": 500, "data": 100_000}
ALL_PARTNERS_ESTIMATE = 250  # Comtrade lists ~250 partner areas; an 'all partners' call is sized so
ALL_REPORTERS_ESTIMATE = 200
WORLD = 0
TOTALS = {"partner2Code": 0, "customsCode": "C00", "motCode": 0}
KEY_HEADER = "Ocp-Apim-Subscription-Key"
AVAILABILITY_PERIODS = 12  # periods per getDA request, as the data endpoints allow per call
AVAILABILITY_FIELDS = ("reporterISO", "period", "classificationCode", "datasetChecksum",
                       "lastReleased")
REQUIRED_FIELDS = ("reporterCode", "partnerCode", "cmdCode", "flowCode", "period",
                   "classificationCode", "primaryValue", "netWgt", "qty", "qtyUnitAbbr")
NO_UNIT = {None, "", "N/A", "-1"}
# Comtrade partner areas that are not countries (BACI's code table has no row for them):
# stored under user-assigned ISO 3166 alpha-3 codes (X..), never mixed into a real country.
SPECIAL_PARTNERS = {
    "837": ("XBK", "Bunkers"),
    "838": ("XFZ", "Free zones"),
    "839": ("XSC", "Special categories"),
    "899": ("XNS", "Areas, nes"),
    "568": ("XEU", "Other Europe, nes"),
    "577": ("XAF", "Other Africa, nes"),
    "636": ("XAM", "Rest of America, nes"),
    "527": ("XOC", "Oceania, nes"),
    "473": ("XLA", "LAIA, nes"),
}


@dataclass(frozen=True)
class Query:
    """One request: every tuple is a dimension that can be split; ``None`` means all."""

    freq: str
    reporters: tuple[int, ...] | None
    partners: tuple[int, ...] | None
    hs: tuple[str, ...]
    flows: tuple[str, ...]
    periods: tuple[str, ...]

    def estimate(self) -> int:
        reporters = len(self.reporters) if self.reporters else ALL_REPORTERS_ESTIMATE
        partners = len(self.partners) if self.partners else ALL_PARTNERS_ESTIMATE
        return reporters * partners * len(self.hs) * len(self.flows) * len(self.periods)

    def split(self) -> list[Query]:
        """Halve the largest splittable dimension; [] when every dimension is down to one."""
        dims = [(len(v), name) for name in ("periods", "hs", "reporters", "flows", "partners")
                if (v := getattr(self, name)) is not None and len(v) > 1]
        if not dims:
            return []
        _, name = max(dims)
        values = getattr(self, name)
        half = math.ceil(len(values) / 2)
        return [replace(self, **{name: values[:half]}), replace(self, **{name: values[half:]})]

    def params(self, cap: int) -> dict[str, str]:
        params = {"cmdCode": ",".join(self.hs), "flowCode": ",".join(self.flows),
                  "period": ",".join(self.periods), "partner2Code": "0",
                  "customsCode": "C00", "motCode": "0", "maxRecords": str(cap),
                  "format": "JSON", "breakdownMode": "classic", "includeDesc": "true"}
        if self.reporters:
            params["reporterCode"] = ",".join(map(str, self.reporters))
        if self.partners:
            params["partnerCode"] = ",".join(map(str, self.partners))
        return params

    def name(self) -> str:
        def part(label: str, values: Sequence | None) -> str:
            if values is None:
                return f"{label}all"
            shown = "+".join(map(str, values))
            return f"{label}{shown if len(shown) <= 40 else f'{values[0]}..{values[-1]}n{len(values)}'}"
        return "_".join([self.freq, part("r", self.reporters), part("p", self.partners),
                         part("hs", self.hs), part("f", self.flows), part("t", self.periods)])


def plan(query: Query, cap: int) -> list[Query]:
    """Split ``query`` until each part's estimated rows fit under ``cap``."""
    if query.estimate() <= cap:
        return [query]
    parts = query.split()
    if not parts:
        return [query]  # one cell can't be split; a full answer is caught when it arrives
    return [q for part in parts for q in plan(part, cap)]


def parse_years(years: str | None) -> list[int]:
    """'2022-2024', '2023' or '2021,2023' -> years."""
    if not years:
        raise ChokeholdError("give --years, e.g. --years 2022-2024")
    out: list[int] = []
    for chunk in str(years).split(","):
        lo, _, hi = chunk.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ChokeholdError(f"--years {years!r}: use YYYY, YYYY-YYYY or a comma list")
        if hi and int(hi) < int(lo):
            raise ChokeholdError(f"--years {years!r}: the range {chunk.strip()} runs backwards; "
                                 f"write {hi}-{lo}")
        out += range(int(lo), int(hi or lo) + 1)
    return sorted(set(out))


def periods_of(years: list[int], freq: str) -> tuple[str, ...]:
    if freq == "A":
        return tuple(str(y) for y in years)
    return tuple(f"{y}{m:02d}" for y in years for m in range(1, 13))


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def comtrade_codes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Comtrade numeric code -> ISO3 (country_codes scheme 'comtrade')."""
    return read_query(con, "SELECT code, iso3, name FROM country_codes WHERE scheme = 'comtrade'")


def iso3_to_code(con: duckdb.DuckDBPyConnection, iso3s: list[str], what: str) -> tuple[int, ...]:
    """ISO3 -> Comtrade code; where a country has several (DEU 276/280), the one equal to its
    M49 code, else the highest."""
    rows = read_query(con, """
        SELECT c.iso3, c.code FROM country_codes c
        LEFT JOIN country_codes m ON m.scheme = 'm49' AND m.iso3 = c.iso3
        WHERE c.scheme = 'comtrade'
        QUALIFY row_number() OVER (PARTITION BY c.iso3 ORDER BY (c.code = m.code) DESC NULLS LAST,
                                   TRY_CAST(c.code AS INTEGER) DESC) = 1""")
    mapping = dict(zip(rows["iso3"], rows["code"]))
    out = []
    for iso3 in iso3s:
        if iso3.upper() not in mapping:
            raise UnknownValueError(what, iso3, mapping)
        out.append(int(mapping[iso3.upper()]))
    return tuple(out)


def check_payload(payload: object, url: str) -> list[dict]:
    """The ``data`` rows of a v1 answer; an error payload becomes a message naming the URL."""
    if not isinstance(payload, dict):
        raise DataError(f"Comtrade answered {type(payload).__name__}, not a JSON object",
                        source=url)
    message = payload.get("error") or (payload.get("message") if "data" not in payload else None)
    if message:
        raise DataError(f"Comtrade error: {message}", source=url)
    data = payload.get("data")
    if not isinstance(data, list):
        raise DataError("Comtrade answer has no 'data' list", source=url, field="data")
    return data


def error_text(exc: FetchError) -> str:
    """The message inside a Comtrade (or API gateway) error body, if it has one."""
    try:
        body = json.loads(exc.body)
    except ValueError:
        return exc.body[:200].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:300]
    return str(body)[:300]


def to_trade_flows(rows: list[dict], codes: pl.DataFrame, *, url: str, freq: str,
                   hs: Sequence[str], vintage: str) -> pl.DataFrame:
    """v1 rows -> trade_flows rows (totals only, World dropped); errors name URL, row, field."""
    if not rows:
        return _empty()
    for field in REQUIRED_FIELDS:
        if field not in rows[0]:
            raise DataError(f"missing field; the answer has {sorted(rows[0])}", source=url,
                            row=1, field=field)
    frame = pl.DataFrame(rows, infer_schema_length=None).with_row_index("_source_row", offset=1)
    for field, total in TOTALS.items():
        if field in frame.columns:
            frame = frame.filter(pl.col(field).is_null()
                                 | (pl.col(field).cast(pl.String) == str(total)))
    frame = frame.with_columns(pl.col("partnerCode").cast(pl.String).alias("_partner"),
                               pl.col("reporterCode").cast(pl.String).alias("_reporter"),
                               pl.col("cmdCode").cast(pl.String).alias("_cmd"))
    frame = frame.filter(pl.col("_partner") != str(WORLD))
    _fail_where(frame, ~pl.col("_cmd").is_in(list(hs)), url, "cmdCode",
                lambda v: f"HS code {v!r} was not requested ({', '.join(hs)})")
    _fail_where(frame, ~pl.col("flowCode").is_in(list(FLOWS)), url, "flowCode",
                lambda v: f"unexpected flow {v!r}; expected one of {', '.join(FLOWS)}")
    _fail_where(frame, ~pl.col("classificationCode").is_in(list(CLASSIFICATIONS)), url,
                "classificationCode", lambda v: f"classification {v!r} is not an HS revision")
    value = pl.col("primaryValue").cast(pl.Float64, strict=False)
    _fail_where(frame, value.is_null() & pl.col("primaryValue").is_not_null(), url,
                "primaryValue", lambda v: f"value {v!r} is not a number")
    _fail_where(frame, value < 0, url, "primaryValue", lambda v: f"negative value {v}")
    qty = pl.col("qty").cast(pl.Float64, strict=False)
    weight = pl.col("netWgt").cast(pl.Float64, strict=False)
    _fail_where(frame, (qty < 0) | (weight < 0), url, "qty", lambda v: "negative quantity")
    no_unit = pl.col("qtyUnitAbbr").is_null() | pl.col("qtyUnitAbbr").cast(pl.String).is_in(
        [u for u in NO_UNIT if u is not None])
    _fail_where(frame, weight.is_null() & (qty > 0) & no_unit, url, "qtyUnitAbbr",
                lambda v: "quantity given without a unit")
    mapping = dict(zip(codes["code"], codes["iso3"]))
    frame = frame.with_columns(
        pl.col("_reporter").replace_strict(mapping, default=None).alias("reporter_iso3"),
        pl.col("_partner").replace_strict(mapping, default=None).alias("partner_iso3"))
    for code_col, iso_col, field in (("_reporter", "reporter_iso3", "reporterCode"),
                                     ("_partner", "partner_iso3", "partnerCode")):
        _fail_where(frame, pl.col(iso_col).is_null(), url, field,
                    lambda v: f"unknown Comtrade country code {v}", show=code_col)
    period = pl.col("period").cast(pl.String)
    out = frame.select(
        "reporter_iso3", "partner_iso3",
        pl.col("flowCode").replace_strict(FLOWS).alias("flow"),
        (pl.date(period.str.slice(0, 4).cast(pl.Int32), 1, 1) if freq == "A" else
         pl.date(period.str.slice(0, 4).cast(pl.Int32), period.str.slice(4, 2).cast(pl.Int32), 1)
         ).alias("period"),
        pl.lit(freq).alias("freq"),
        pl.col("_cmd").alias("hs_code"),
        pl.col("classificationCode").replace_strict(CLASSIFICATIONS).alias("hs_revision"),
        value.alias("value_usd"),
        pl.when(weight.is_not_null()).then(weight / 1000.0)
        .when(qty > 0).then(qty).alias("qty"),
        pl.when(weight.is_not_null()).then(pl.lit("t"))
        .when(qty > 0).then(pl.col("qtyUnitAbbr").cast(pl.String)).alias("qty_unit"),
        pl.lit(SOURCE_ID).alias("source"),
        pl.lit(vintage).alias("vintage"),
        pl.col("isAggregate").fill_null(False).alias("_aggregate")
        if "isAggregate" in frame.columns else pl.lit(False).alias("_aggregate"),
        "_source_row",
    )
    return _prefer_reported(out)


KEY = ["reporter_iso3", "partner_iso3", "flow", "period", "freq", "hs_code", "hs_revision"]


def _prefer_reported(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop isAggregate rows whose key also has a reported row; sum codes sharing an ISO3."""
    has_reported = (~pl.col("_aggregate")).any().over(KEY)
    frame = frame.filter(~pl.col("_aggregate") | ~has_reported)
    return frame.group_by([*KEY, "qty_unit", "source", "vintage"], maintain_order=True).agg(
        *(pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).alias(c)
          for c in ("value_usd", "qty")),
        pl.col("_source_row").min(),
    ).select(*KEY, "value_usd", "qty", "qty_unit", "source", "vintage", "_source_row")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={
        "reporter_iso3": pl.String, "partner_iso3": pl.String, "flow": pl.String,
        "period": pl.Date, "freq": pl.String, "hs_code": pl.String, "hs_revision": pl.String,
        "value_usd": pl.Float64, "qty": pl.Float64, "qty_unit": pl.String, "source": pl.String,
        "vintage": pl.String, "_source_row": pl.UInt32})


def _fail_where(frame: pl.DataFrame, condition: pl.Expr, url: str, field: str, message,
                show: str | None = None) -> None:
    fail_where(frame, condition, source=url, field=field, message=message, show=show)


class Client:
    """Comtrade v1 over the shared fetch layer: chooses endpoint and cap by the key."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None, *,
                 max_retries: int | None = None) -> None:
        key = settings.comtrade_api_key.get_secret_value() if settings.comtrade_api_key else None
        self.endpoint = "data" if key else "preview"
        self.cap = ROW_CAPS[self.endpoint]
        self.base = settings.comtrade_base_url.rstrip("/")
        self._headers = {KEY_HEADER: key} if key else {}
        self.fetcher = fetcher or Fetcher(
            SOURCE_ID, settings.raw_dir, timeout_s=settings.http_timeout_s,
            max_retries=settings.http_max_retries if max_retries is None else max_retries,
            min_interval_s=settings.comtrade_min_interval_s,
            secret_headers=frozenset({KEY_HEADER.lower()}),
            secret_params=frozenset({"subscription-key"}))

    def url(self, freq: str) -> str:
        path = "data/v1/get" if self.endpoint == "data" else "public/v1/preview"
        return f"{self.base}/{path}/C/{freq}/HS"

    def availability(self, freq: str, periods: Sequence[str]) -> list[dict]:
        """Comtrade's getDA answer for these periods (every reporter): one dataset per reporter
        and period, with datasetChecksum and lastReleased."""
        path = "data/v1/getDA" if self.endpoint == "data" else "public/v1/getDA"
        datasets = []
        for start in range(0, len(periods), AVAILABILITY_PERIODS):
            chunk = periods[start:start + AVAILABILITY_PERIODS]
            raw = self.fetcher.get(f"{self.base}/{path}/C/{freq}/HS",
                                   name=f"availability/{freq}-{chunk[0]}-{chunk[-1]}.json",
                                   params={"period": ",".join(chunk)}, headers=self._headers)
            datasets += check_payload(raw.json(), raw.url)
        return datasets

    def fetch(self, query: Query) -> Iterator[tuple[RawResponse, list[dict], Query]]:
        """Every answer for ``query``, split as the cap requires."""
        pending = plan(query, self.cap)
        while pending:
            part = pending.pop(0)
            try:
                raw = self.fetcher.get(self.url(part.freq), name=f"{self.endpoint}/{part.name()}.json",
                                       params=part.params(self.cap), headers=self._headers)
            except FetchError as exc:
                if exc.status is None or exc.status >= 500:  # network or server, not the input
                    raise
                what = (f"Comtrade answered HTTP {exc.status}: {error_text(exc)}"
                        if exc.status and exc.status >= 400 else
                        exc.reason + (f"; the answer began {error_text(exc)[:80]!r}"
                                      if exc.body else ""))
                kept = f" (raw response kept at {exc.raw_path})" if exc.raw_path else ""
                raise DataError(what + kept, source=exc.url) from None
            payload = raw.json()
            data = check_payload(payload, raw.url)
            count = payload.get("count", len(data))
            if max(len(data), count if isinstance(count, int) else 0) >= self.cap:
                parts = part.split()
                if not parts:
                    raise DataError(f"answer reached the {self.endpoint} cap of {self.cap} rows "
                                    "for a single reporter/partner/line/flow/period; it may be "
                                    "incomplete", source=raw.url)
                pending = parts + pending
                continue
            yield raw, data, part


def _comma_list(value: object) -> object:
    """A YAML list or a comma-separated string, as one comma-separated string."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v).strip() for v in value)
    return value


class Options(Strict):
    """What one Comtrade refresh asks for (``--set comtrade.<field>=value``)."""

    reporters: str = Field(description="Reporters, ISO3 comma list, or 'all'.")
    partners: str = Field(default="all", description="Partners, ISO3 comma list, or 'all'.")
    hs: str = Field(description="HS six-digit codes, comma list.")
    years: str = Field(description="Years: YYYY, YYYY-YYYY or a comma list.")
    freq: Literal["A", "M"] = Field(default="A", description="A (annual) or M (monthly).")
    flows: str = Field(default="M,X,RX", description="Flows: M, X, RX (comma list).")

    _lists = field_validator("reporters", "partners", "hs", "years", "flows",
                             mode="before")(_comma_list)

    @field_validator("freq", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("hs")
    @classmethod
    def _six_digits(cls, value: str) -> str:
        codes = split_list(value)
        bad = [c for c in codes if not (len(c) == 6 and c.isdigit())]
        if not codes or bad:
            raise ValueError(f"{', '.join(bad) or repr(value)}: HS codes have six digits "
                             "(e.g. 280530,284690)")
        return ",".join(codes)

    @field_validator("years")
    @classmethod
    def _years(cls, value: str) -> str:
        try:
            parse_years(value)
        except ChokeholdError:
            raise ValueError(f"{value!r}: use YYYY, YYYY-YYYY or a comma list") from None
        return value

    @field_validator("flows")
    @classmethod
    def _flows(cls, value: str) -> str:
        bad = [f for f in split_list(value) if f.upper() not in FLOWS]
        if bad:
            raise ValueError(f"unknown flow {bad[0]!r}; valid: {', '.join(FLOWS)}")
        return value.upper()

    @field_validator("reporters", "partners")
    @classmethod
    def _countries(cls, value: str) -> str:
        codes = [c.upper() for c in split_list(value)]
        if codes == ["ALL"]:
            return "all"
        known = set(reference_countries()["iso3"].to_list())
        bad = [c for c in codes if c not in known]
        if not codes or bad:
            raise ValueError(f"unknown country {(bad or [value])[0]!r} (ISO3, e.g. JPN,USA; "
                             "or 'all')")
        return ",".join(codes)


def fingerprint(settings: Settings, *, reporters: str | None = None, years: str | None = None,
                freq: str | None = "A", **_: object) -> str:
    """Checksum of what Comtrade holds for the request's reporters and periods (their datasets'
    checksums and release dates, from getDA). One attempt per request: when Comtrade does not
    answer it raises, and the refresh runs the source (which retries as configured)."""
    freq = (freq or "A").upper()
    wanted = {r.upper() for r in split_list(reporters)}
    client = Client(settings, max_retries=0)
    try:
        datasets = client.availability(freq, periods_of(parse_years(years), freq))
    finally:
        client.fetcher.close()
    held = sorted(tuple(str(d.get(f)) for f in AVAILABILITY_FIELDS) for d in datasets
                  if "ALL" in wanted or str(d.get("reporterISO")).upper() in wanted)
    return hashlib.sha256(json.dumps(held).encode()).hexdigest()


def refresh(con: duckdb.DuckDBPyConnection, settings: Settings, *, reporters: str | None = None,
            partners: str | None = "all", hs: str | None = None, years: str | None = None,
            freq: str | None = "A", flows: str | None = "M,X,RX", **_: object
            ) -> list[LoadResult]:
    """Fetch, validate every answer, then load all of them in one transaction."""
    freq = (freq or "A").upper()
    if freq not in ("A", "M"):
        raise UnknownValueError("frequency", freq, ["A", "M"])
    hs_codes = tuple(split_list(hs))
    if not hs_codes:
        raise ChokeholdError("give --hs, e.g. --hs 280530,284610,284690")
    bad_hs = [c for c in hs_codes if not (len(c) == 6 and c.isdigit())]
    if bad_hs:
        raise ChokeholdError(f"HS codes must have six digits: {', '.join(bad_hs)}")
    flow_codes = tuple(f.upper() for f in split_list(flows))
    for flow in flow_codes:
        if flow not in FLOWS:
            raise UnknownValueError("flow", flow, FLOWS)
    reporter_list = split_list(reporters)
    if not reporter_list:
        raise ChokeholdError("give --reporters, e.g. --reporters JPN (or 'all')")
    partner_list = split_list(partners or "all")
    _ensure_special_partners(con)
    query = Query(
        freq=freq,
        reporters=None if reporter_list == ["all"] else iso3_to_code(con, reporter_list,
                                                                     "reporter"),
        partners=None if partner_list == ["all"] else iso3_to_code(con, partner_list, "partner"),
        hs=hs_codes, flows=flow_codes, periods=periods_of(parse_years(years), freq))
    codes = comtrade_codes(con)
    vintage = f"api-v1 fetched {datetime.now(UTC).date().isoformat()}"
    client = Client(settings)
    frames = []
    try:
        for raw, data, part in client.fetch(query):
            frames.append(to_trade_flows(data, codes, url=raw.url, freq=freq, hs=part.hs,
                                         vintage=vintage))
    finally:
        client.fetcher.close()
    flows_frame = pl.concat(frames) if frames else _empty()
    _check_unique(flows_frame)
    return [load_frame(con, "reported_flows", flows_frame, source_id=SOURCE_ID, vintage=vintage,
                       origin=client.url(freq))]


def _check_unique(frame: pl.DataFrame) -> None:
    dup = frame.filter(pl.struct(KEY).is_duplicated())
    if dup.height:
        raise DataError(f"two answers hold the same flow {dup.select(KEY).row(0, named=True)}",
                        source=SOURCE_ID)


def _ensure_special_partners(con: duckdb.DuckDBPyConnection) -> None:
    """Comtrade's non-country partner areas, in countries and country_codes (scheme comtrade)."""
    have = {r[0] for r in con.execute(
        "SELECT code FROM country_codes WHERE scheme = 'comtrade'").fetchall()}
    missing = {c: v for c, v in SPECIAL_PARTNERS.items() if c not in have}
    if not missing:
        return
    rows = [(code, iso3, name) for code, (iso3, name) in missing.items()]
    countries = pl.DataFrame([(iso3, None, None, name) for _, iso3, name in rows],
                             schema={"iso3": pl.String, "iso2": pl.String, "m49": pl.Int64,
                                     "name": pl.String}, orient="row")
    codes = pl.DataFrame([("comtrade", code, iso3, name) for code, iso3, name in rows],
                         schema=["scheme", "code", "iso3", "name"], orient="row")
    load_frame(con, "countries", countries, source_id=SOURCE_ID, origin="comtrade partner areas")
    load_frame(con, "country_codes", codes, source_id=SOURCE_ID, origin="comtrade partner areas")

