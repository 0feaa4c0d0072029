"""Dependence indicators: import shares, concentration, reliance, mirror gaps, rerouting, screen.

Pure functions from Polars frames to frames (``global_screen`` reads a whole trade year, ~11
million BACI rows, and sums it with NumPy over a dense countries x lines grid). Conventions:

* shares ``s_p = M_p / sum_q M_q`` per importer and period, on value (USD) or quantity (t);
  HHI ``= sum_p s_p^2`` on the 0-1 scale (1 = a single supplier).
* A commodity group is the set of its HS lines *within one HS revision* (commodity_hs); national
  codes (Japan's nine digits) belong to the line of their first six digits. A period whose rows
  come from more than one revision is refused rather than summed (that would double count the
  same trade reported twice, e.g. BACI HS92 and HS17 for one year).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Literal

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from chokehold.analysis.shares import Basis, partner_shares
from chokehold.errors import ChokeholdError

Freq = Literal["annual", "monthly", "rolling12"]
GROUP = ("source", "reporter_iso3", "period")

# Mirror flows: importers report CIF, exporters FOB. IMF Direction of Trade Statistics converts
# with a uniform CIF/FOB factor of 1.10 where no better estimate exists; we use the same margin.
CIF_FOB_MARGIN = 0.10
MIRROR_GAP_TOLERANCE = 0.25  # |M / (X * 1.10) - 1| above this is a gap
MIRROR_PERSISTENT_PERIODS = 3  # gaps in this many consecutive periods are "persistent"

# European Commission, "Strategic dependencies and capacities", SWD(2021) 352 final (5 May 2021),
# section 2 / annex: an HS6 product is a dependency when (1) its imports are concentrated,
# HHI > 0.4; (2) imports exceed 50% of demand (the EC proxies demand by total EU imports); and
# (3) they are hard to substitute with own production, proxied by imports / own exports > 1.
# We add, for context, the top supplier's share of world exports of the line.
EC_HHI_THRESHOLD = 0.4
EC_IMPORT_DEPENDENCE_THRESHOLD = 0.5
EC_IMPORTS_TO_EXPORTS_THRESHOLD = 1.0


def revision_year(revision: str) -> int:
    """The year an HS revision took effect: HS92 -> 1992, HS17 -> 2017."""
    two = int(revision[2:4])
    return 1900 + two if two >= 88 else 2000 + two


def choose_revision(revisions: Iterable[str], prefer: str | None = None) -> str:
    """The revision to read among those covering a period: ``prefer`` if it is one of them,
    else the newest (HS17 before HS12 before HS92)."""
    found = sorted(set(revisions), key=revision_year)
    return prefer if prefer in found else found[-1]


def commodity_flows(flows: pl.DataFrame, commodity_hs: pl.DataFrame, commodity_id: str,
                    hs_revision: str | None = None, prefer: str | None = None) -> pl.DataFrame:
    """The flows of one commodity group, each matched to the group's lines of its own revision.

    Rows of several revisions are never summed: ``hs_revision`` keeps only that revision;
    otherwise each source, importer and period keeps one revision, ``prefer`` where it covers
    the period, else the newest (``choose_revision``). The rows keep their ``hs_revision``.
    """
    lines = commodity_hs.filter(pl.col("commodity_id") == commodity_id).select(
        "hs_revision", pl.col("hs_code").alias("_line"))
    if hs_revision is not None:
        lines = lines.filter(pl.col("hs_revision") == hs_revision)
    matched = flows.with_columns(pl.col("hs_code").str.slice(0, 6).alias("_line")).join(
        lines, on=["hs_revision", "_line"], how="inner").drop("_line")
    if matched.is_empty():
        return matched
    chosen = matched.group_by(list(GROUP)).agg(pl.col("hs_revision").unique().alias("_revs"))
    chosen = chosen.with_columns(pl.col("_revs").map_elements(
        lambda revs: choose_revision(revs, prefer), return_dtype=pl.String).alias("hs_revision"))
    return matched.join(chosen.drop("_revs"), on=[*GROUP, "hs_revision"], how="semi")


def _periodise(flows: pl.DataFrame, freq: Freq) -> pl.DataFrame:
    """Flows re-dated to the reporting period; rolling12 ends each window at a month."""
    flows = flows.with_columns(pl.col("period").alias("_month"))
    if freq == "monthly":
        if (flows["freq"] != "M").any():
            raise ChokeholdError("monthly shares need monthly data (this source is annual)")
        return flows
    if freq == "annual":
        return flows.with_columns(pl.col("period").dt.truncate("1y"))
    if (flows["freq"] != "M").any():
        raise ChokeholdError("rolling 12-month shares need monthly data (this source is annual)")
    ends = flows.select("period").unique()
    windows = pl.concat([ends.with_columns(pl.col("period").dt.offset_by(f"-{k}mo")
                                           .alias("month"), pl.col("period").alias("end"))
                         for k in range(12)])
    return (flows.join(windows, left_on="period", right_on="month", how="inner")
            .drop("period").rename({"end": "period"}))


def import_shares(flows: pl.DataFrame, basis: Basis = "value", freq: Freq = "annual"
                  ) -> pl.DataFrame:
    """Shares of each partner in an importer's imports per period, with the period's HHI.

    ``flows``: trade_flows rows (imports) of one commodity group. Quantities are summed only in
    tonnes. Columns: source, reporter_iso3, period, partner_iso3, value_usd, qty, share, hhi,
    months (months of data behind the period; 12 for a complete year or rolling window).
    """
    data = _periodise(flows.filter(pl.col("flow") == "import"), freq)
    months = data.group_by(list(GROUP)).agg(
        pl.col("_month").filter(pl.col("freq") == "M").n_unique().alias("_mm"),
        (pl.col("freq") == "A").any().alias("_annual"))
    out = partner_shares(data, basis, GROUP).join(months, on=list(GROUP)).with_columns(
        pl.when(pl.col("_annual")).then(12).otherwise(pl.col("_mm")).cast(pl.Int32)
        .alias("months"),
        (pl.col("share") ** 2).sum().over(list(GROUP)).alias("hhi"))
    return out.select(*GROUP, "partner_iso3", "value_usd", "qty", "share", "hhi", "months").sort(
        [*GROUP, "share"], descending=[False, False, False, True], nulls_last=True)


def concentration(shares: pl.DataFrame, top_n: int = 3, supplier: str = "CHN") -> pl.DataFrame:
    """Per source, importer and period: HHI, number of partners, top supplier and its share,
    the top-N share, and one supplier's (default China's) share."""
    ranked = shares.with_columns(
        pl.col("share").rank("ordinal", descending=True).over(list(GROUP)).alias("_rank"))
    return ranked.group_by(list(GROUP)).agg(
        pl.col("hhi").first(),
        (pl.col("share") > 0).sum().alias("partners"),
        pl.col("partner_iso3").filter(pl.col("_rank") == 1).first().alias("top_partner"),
        pl.col("share").filter(pl.col("_rank") == 1).first().alias("top_share"),
        pl.col("share").filter(pl.col("_rank") <= top_n).sum().alias(f"top{top_n}_share"),
        pl.col("share").filter(pl.col("partner_iso3") == supplier).sum()
        .alias(f"{supplier.lower()}_share"),
        pl.col("value_usd").sum().alias("total_value_usd"),
    ).sort(list(GROUP))


def net_import_reliance(balance: pl.DataFrame) -> pl.DataFrame:
    """Apparent consumption and net import reliance (USGS definition).

    ``balance`` columns: year, production, imports, exports and optionally stock_change (all in
    one unit). Apparent consumption = production + imports - exports - stock_change; net import
    reliance = (imports - exports - stock_change) / apparent consumption (negative: net exporter).
    """
    stock = pl.col("stock_change") if "stock_change" in balance.columns else pl.lit(0.0)
    return balance.with_columns(
        (pl.col("production") + pl.col("imports") - pl.col("exports") - stock)
        .alias("apparent_consumption"),
    ).with_columns(
        pl.when(pl.col("apparent_consumption") > 0)
        .then((pl.col("imports") - pl.col("exports") - stock) / pl.col("apparent_consumption"))
        .alias("net_import_reliance"))


def mirror(imports: pl.DataFrame, exports: pl.DataFrame, margin: float = CIF_FOB_MARGIN,
           tolerance: float = MIRROR_GAP_TOLERANCE,
           persistent: int = MIRROR_PERSISTENT_PERIODS) -> pl.DataFrame:
    """Importer-reported (CIF) vs exporter-reported (FOB) values for the same pair and period.

    ``imports``: rows with reporter = importer, partner = exporter; ``exports``: reporter =
    exporter, partner = importer (both trade_flows shapes, summed over lines). ``gap`` =
    M / (X * (1 + margin)) - 1; ``flag`` when |gap| > tolerance or one side is missing;
    ``persistent`` when flagged in ``persistent`` consecutive periods up to this one.
    """
    keys = ["importer_iso3", "exporter_iso3", "period"]
    m = imports.group_by(pl.col("reporter_iso3").alias("importer_iso3"),
                         pl.col("partner_iso3").alias("exporter_iso3"), "period").agg(
        pl.col("value_usd").sum().alias("import_reported_usd"))
    x = exports.group_by(pl.col("partner_iso3").alias("importer_iso3"),
                         pl.col("reporter_iso3").alias("exporter_iso3"), "period").agg(
        pl.col("value_usd").sum().alias("export_reported_usd"))
    both = m.join(x, on=keys, how="full", coalesce=True).with_columns(
        pl.lit(margin).alias("cif_fob_margin"),
        (pl.col("import_reported_usd") / (pl.col("export_reported_usd") * (1 + margin)) - 1)
        .alias("gap"))
    both = both.with_columns(
        (pl.col("gap").abs() > tolerance).fill_null(True).alias("flag")).sort(keys)
    run = pl.col("flag").cast(pl.Int32).rolling_sum(persistent, min_samples=persistent) \
        .over(["importer_iso3", "exporter_iso3"])
    return both.with_columns((run == persistent).fill_null(False).alias("persistent"))


def reroute_signal(shares: pl.DataFrame, control_date: date, supplier: str = "CHN",
                   third: tuple[str, ...] = ("VNM", "MYS", "THA", "KOR"), months: int = 12,
                   supplier_exports: pl.DataFrame | None = None) -> pl.DataFrame:
    """Mean monthly shares in the ``months`` before and after a control date.

    ``shares``: monthly import_shares of one importer. Returns one row per partner in
    {supplier, *third}: share_before, share_after, change; with ``supplier_exports`` (the
    supplier's export rows to the third countries), its exports before/after alongside. A
    rerouting signal is the supplier's direct share falling while third countries' rise and the
    supplier's exports to them grow.
    """
    start = control_date.replace(day=1)
    before = (pl.col("period") < start) & (pl.col("period") >= pl.lit(start).dt.offset_by(
        f"-{months}mo"))
    after = (pl.col("period") >= start) & (pl.col("period") < pl.lit(start).dt.offset_by(
        f"{months}mo"))
    partners = [supplier, *third]
    periods = shares.select("period").unique()
    grid = periods.join(pl.DataFrame({"partner_iso3": partners}), how="cross")
    full = grid.join(shares.select("period", "partner_iso3", "share"),
                     on=["period", "partner_iso3"], how="left").with_columns(
        pl.col("share").fill_null(0.0))
    out = full.group_by("partner_iso3").agg(
        pl.col("share").filter(before).mean().alias("share_before"),
        pl.col("share").filter(after).mean().alias("share_after"),
    ).with_columns((pl.col("share_after") - pl.col("share_before")).alias("change"),
                   pl.col("partner_iso3").is_in(list(third)).alias("third_country"))
    if supplier_exports is not None:
        ex = supplier_exports.filter(pl.col("flow") == "export").group_by(
            pl.col("partner_iso3")).agg(
            pl.col("value_usd").filter(before).sum().alias("supplier_exports_before_usd"),
            pl.col("value_usd").filter(after).sum().alias("supplier_exports_after_usd"))
        out = out.join(ex, on="partner_iso3", how="left")
    return out.sort("third_country", "partner_iso3")


def _screen_revision(con: duckdb.DuckDBPyConnection, source: str, year: int,
                     hs_revision: str | None, prefer: str | None = None) -> str:
    """The HS revision to screen: the one given, else ``choose_revision`` of the year's."""
    from chokehold.analysis import read

    revisions = read.screen_revisions(con, source, year)
    if not revisions:
        raise ChokeholdError(f"no {source} trade for {year} in the warehouse")
    return hs_revision or choose_revision(revisions, prefer)


def screen_revision(con: duckdb.DuckDBPyConnection, year: int, *, source: str = "baci",
                    prefer: str | None = None) -> str:
    """The revision ``global_screen`` reads for a year without an explicit one: ``prefer``
    (e.g. ``Settings.hs_revision``) where the year has it, else the newest the year has."""
    return _screen_revision(con, source, year, None, prefer)


def _screen_rows(con: duckdb.DuckDBPyConnection, source: str, year: int, revision: str
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The year's flows (importer, exporter, hs, v), one row per importer, exporter and HS6
    line, countries as small integer codes; and the codes' names (code, iso3)."""
    from chokehold.analysis import read

    if source == "baci":
        return read.baci_screen_rows(con, revision, year)
    rows = read.reported_screen_rows(con, source, revision, year)
    names = pl.concat([rows["importer"], rows["exporter"]]).unique().sort()
    codes = pl.Series(range(len(names)), dtype=pl.UInt16)
    rows = rows.with_columns(pl.col(side).replace_strict(names, codes)
                             for side in ("importer", "exporter"))
    return rows, pl.DataFrame({"code": codes, "iso3": names})


def _distinct(*arrays: np.ndarray) -> np.ndarray:
    """The sorted distinct values of non-negative integer arrays (a bitmap the size of the
    largest value, not a sort: the arrays are ~11 million rows, the values a few thousand)."""
    seen = np.zeros(max(int(a.max()) for a in arrays) + 1, bool)
    for array in arrays:
        seen[array] = True
    return np.flatnonzero(seen)


def _lookup(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """An array mapping each of ``keys`` (distinct non-negative integers) to its value."""
    table = np.zeros(int(keys[-1]) + 1, np.int64)
    table[keys] = values
    return table


def supplier_cells(importer: np.ndarray, exporter: np.ndarray, hs: np.ndarray,
                   value: np.ndarray) -> pl.DataFrame:
    """Per importer and line with imports: imports_usd, sum_sq (of supplier values),
    suppliers, top_supplier and top_usd (ties go to the higher code), own_exports_usd (the
    importer's exports of the line), top_supplier_exports_usd and world_exports_usd.

    Input: one row per importer, exporter and line; countries and lines as non-negative integer
    codes. Every sum runs over a dense countries x lines grid (np.bincount), the perfect-hash
    form of the grouping: a trade year is ~11 million rows on ~230 countries x ~5,600 lines.
    """
    countries, lines = _distinct(importer, exporter), _distinct(hs)
    n_lines = len(lines)
    size = len(countries) * n_lines
    first_cell = _lookup(countries, np.arange(len(countries)) * n_lines)  # a country's row
    line = _lookup(lines, np.arange(n_lines))[hs]
    cell = first_cell[importer] + line
    exports = np.bincount(first_cell[exporter] + line, weights=value, minlength=size)
    imports = np.bincount(cell, weights=value, minlength=size)
    sum_sq = np.bincount(cell, weights=value * value, minlength=size)
    suppliers = np.bincount(cell, minlength=size)
    top_usd = np.zeros(size)
    np.maximum.at(top_usd, cell, value)
    at_top = value == top_usd[cell]
    top = np.zeros(size, np.int64)
    np.maximum.at(top, cell[at_top], exporter[at_top])
    occupied = np.flatnonzero(imports > 0)
    row, row_line = np.divmod(occupied, n_lines)
    top_of_row = top[occupied]
    world = imports.reshape(len(countries), n_lines).sum(axis=0)
    return pl.DataFrame({
        "importer": countries[row], "hs": lines[row_line],
        "imports_usd": imports[occupied], "sum_sq": sum_sq[occupied],
        "suppliers": suppliers[occupied], "top_supplier": top_of_row,
        "top_usd": top_usd[occupied],
        "own_exports_usd": exports[occupied],  # the importer's row of the export grid
        "top_supplier_exports_usd": exports[first_cell[top_of_row] + row_line],
        "world_exports_usd": world[row_line]})


SCREEN_INPUT = ("importer_code", "exporter_code", "hs6", "value_usd")
"""The kernel's input columns: one row per importer, exporter and HS6 line of one HS revision
and year (the lake's baci_flows columns); countries and lines as non-negative integer codes."""
SCREEN_SCHEMA = pa.schema([
    ("year", pa.int32()), ("hs_revision", pa.string()), ("importer_iso3", pa.string()),
    ("hs_code", pa.string()), ("imports_usd", pa.float64()), ("hhi", pa.float64()),
    ("suppliers", pa.int64()), ("top_supplier", pa.string()), ("top_share", pa.float64()),
    ("own_exports_usd", pa.float64()), ("top_supplier_world_export_share", pa.float64()),
    ("import_dependence", pa.float64()), ("imports_to_exports", pa.float64()),
    ("flag_concentration", pa.bool_()), ("flag_import_dependence", pa.bool_()),
    ("flag_low_substitutability", pa.bool_()), ("dependent", pa.bool_())])
"""The screen's rows, exactly typed (Spark's Arrow UDFs refuse large_string or untyped nulls)."""


def dependency_flags(cells: pl.DataFrame) -> pl.DataFrame:
    """HHI, top share, the EC 2021 criteria and flags for supplier_cells rows (named: importer_iso3,
    hs_code). The import-dependence criterion needs demand (``with_demand``); here it is null
    and not applied."""
    to_exports = pl.col("imports_usd") / pl.col("own_exports_usd").replace(0, None)
    out = cells.with_columns(
        (pl.col("sum_sq") / pl.col("imports_usd") ** 2).alias("hhi"),
        (pl.col("top_usd") / pl.col("imports_usd")).alias("top_share"),
        (pl.col("top_supplier_exports_usd") / pl.col("world_exports_usd"))
        .alias("top_supplier_world_export_share"),
        pl.lit(None, pl.Float64).alias("import_dependence"),
        to_exports.alias("imports_to_exports"),
    ).with_columns(
        (pl.col("hhi") > EC_HHI_THRESHOLD).alias("flag_concentration"),
        pl.lit(None, pl.Boolean).alias("flag_import_dependence"),
        (pl.col("imports_to_exports") > EC_IMPORTS_TO_EXPORTS_THRESHOLD)
        .fill_null(pl.col("own_exports_usd") == 0).alias("flag_low_substitutability"),
    )
    return out.with_columns(
        (pl.col("flag_concentration") & pl.col("flag_low_substitutability")).alias("dependent"))


def screen_kernel(flows: pa.Table, countries: pa.Table, *, year: int, hs_revision: str
                  ) -> pa.Table:
    """The screen of one HS revision and year, Arrow in, Arrow out (``SCREEN_SCHEMA``).

    ``flows`` has the ``SCREEN_INPUT`` columns (others are ignored); ``countries`` (code, iso3)
    names the codes. Every sum stays inside one HS6 line, so any split of a year by line (Spark
    runs this per revision, year and ``hs6 % N``) gives the same rows. Rows come in no
    particular order; demand, sorting and limits are applied after the kernel.
    """
    if flows.num_rows == 0:
        return SCREEN_SCHEMA.empty_table()
    cells = supplier_cells(*(flows.column(c).to_numpy() for c in SCREEN_INPUT))
    iso3 = dict(zip(countries.column("code").to_pylist(), countries.column("iso3").to_pylist()))
    cells = cells.with_columns(
        pl.col("importer").replace_strict(iso3, default=None, return_dtype=pl.String)
        .alias("importer_iso3"),
        pl.col("hs").cast(pl.String).str.zfill(6).alias("hs_code"),
        pl.col("top_supplier").replace_strict(iso3, default=None, return_dtype=pl.String))
    screen = dependency_flags(cells).with_columns(
        pl.lit(year, pl.Int32).alias("year"), pl.lit(hs_revision).alias("hs_revision"))
    return screen.select(SCREEN_SCHEMA.names).to_arrow().cast(SCREEN_SCHEMA)


def with_demand(screen: pl.DataFrame, demand: pl.DataFrame) -> pl.DataFrame:
    """Screen rows with the import-dependence criterion where demand is known: ``demand``
    (importer_iso3, hs_code, demand_usd); imports / demand > 0.5 flags the line."""
    joined = screen.join(demand.select("importer_iso3", "hs_code", "demand_usd"),
                         on=["importer_iso3", "hs_code"], how="left")
    return joined.with_columns(
        (pl.col("imports_usd") / pl.col("demand_usd").replace(0, None)).alias("import_dependence")
    ).with_columns(
        (pl.col("import_dependence") > EC_IMPORT_DEPENDENCE_THRESHOLD)
        .alias("flag_import_dependence"),
    ).with_columns(
        (pl.col("flag_concentration") & pl.col("flag_low_substitutability")
         & pl.col("flag_import_dependence").fill_null(True)).alias("dependent")
    ).select(screen.columns)


def with_descriptions(screen: pl.DataFrame, descriptions: pl.DataFrame) -> pl.DataFrame:
    """``screen`` with each line's ``description`` after ``hs_code``, from ``descriptions``
    (hs_revision, hs_code, description) of the same HS revision; null where that revision's
    list lacks the line (a code's meaning can change between revisions)."""
    joined = screen.join(descriptions.select("hs_revision", "hs_code", "description"),
                         on=["hs_revision", "hs_code"], how="left")
    at = screen.columns.index("hs_code") + 1
    return joined.select([*screen.columns[:at], "description", *screen.columns[at:]])


def global_screen(con: duckdb.DuckDBPyConnection, year: int, *, source: str = "baci",
                  hs_revision: str | None = None, demand: pl.DataFrame | None = None,
                  limit: int | None = None) -> pl.DataFrame:
    """Every importer x HS6 line of one year: HHI, top supplier and share, EC 2021 flags.

    ``demand`` (importer_iso3, hs_code, demand_usd), where known, gives the import-dependence
    criterion. Rows come largest imports first (ties by importer and line); ``limit`` keeps
    only the first rows.
    """
    revision = _screen_revision(con, source, year, hs_revision)
    rows, names = _screen_rows(con, source, year, revision)
    if rows.is_empty():
        raise ChokeholdError(f"no {source} {revision} trade for {year} in the warehouse")
    flows = rows.select("importer", "exporter", "hs", "v").to_arrow().rename_columns(
        list(SCREEN_INPUT))
    screen = pl.from_arrow(screen_kernel(flows, names.to_arrow(), year=year,
                                         hs_revision=revision))
    if demand is not None:
        screen = with_demand(screen, demand)
    screen = screen.sort(["imports_usd", "importer_iso3", "hs_code"],
                         descending=[True, False, False])
    return screen.head(limit) if limit else screen
