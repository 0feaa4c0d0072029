"""Dependence indicators: import shares, concentration, reliance, mirror gaps, rerouting, screen.

Pure functions from Polars frames to frames (``global_screen`` runs the same kind of
computation inside DuckDB, because a BACI year is ~11 million rows). Conventions:

* shares ``s_p = M_p / sum_q M_q`` per importer and period, on value (USD) or quantity (t);
  HHI ``= sum_p s_p^2`` on the 0-1 scale (1 = a single supplier).
* A commodity group is the set of its HS lines *within one HS revision* (commodity_hs); national
  codes (Japan's nine digits) belong to the line of their first six digits. A period whose rows
  come from more than one revision is refused rather than summed (that would double count the
  same trade reported twice, e.g. BACI HS92 and HS17 for one year).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import duckdb
import polars as pl
from chokehold.analysis.shares import BASIS_COLUMN, Basis

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


def commodity_flows(flows: pl.DataFrame, commodity_hs: pl.DataFrame, commodity_id: str,
                    hs_revision: str | None = None) -> pl.DataFrame:
    """The flows of one commodity group, each matched to the group's lines of its own revision.

    Raises ChokeholdError when one source, importer and period holds rows of several
    revisions (pick one with ``hs_revision``).
    """
    lines = commodity_hs.filter(pl.col("commodity_id") == commodity_id).select(
        "hs_revision", pl.col("hs_code").alias("_line"))
    if hs_revision is not None:
        lines = lines.filter(pl.col("hs_revision") == hs_revision)
    matched = flows.with_columns(pl.col("hs_code").str.slice(0, 6).alias("_line")).join(
        lines, on=["hs_revision", "_line"], how="inner").drop("_line")
    mixed = matched.group_by(list(GROUP)).agg(pl.col("hs_revision").unique().alias("revs")) \
        .filter(pl.col("revs").list.len() > 1)
    if mixed.height:
        row = mixed.sort("period").row(0, named=True)
        raise ChokeholdError(
            f"{row['source']} rows for {row['reporter_iso3']} in {row['period']} come from "
            f"several HS revisions ({', '.join(sorted(row['revs']))}); summing them would count "
            "the same trade twice: choose one revision")
    return matched


def _sum_or_null(expr: pl.Expr) -> pl.Expr:
    """Sum, but null (not 0) when every value is null: unknown quantities stay unknown."""
    return pl.when(expr.is_not_null().any()).then(expr.sum())


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
    column = BASIS_COLUMN[basis]
    data = _periodise(flows.filter(pl.col("flow") == "import"), freq)
    summed = data.group_by([*GROUP, "partner_iso3"]).agg(
        pl.col("value_usd").sum(),
        _sum_or_null(pl.when(pl.col("qty_unit") == "t").then(pl.col("qty"))).alias("qty"),
    )
    months = data.group_by(list(GROUP)).agg(
        pl.col("_month").filter(pl.col("freq") == "M").n_unique().alias("_mm"),
        (pl.col("freq") == "A").any().alias("_annual"))
    total = pl.col(column).sum().over(list(GROUP))
    out = summed.join(months, on=list(GROUP)).with_columns(
        pl.when(total > 0).then(pl.col(column) / total).alias("share"),
        pl.when(pl.col("_annual")).then(12).otherwise(pl.col("_mm")).cast(pl.Int32)
        .alias("months"))
    out = out.with_columns((pl.col("share") ** 2).sum().over(list(GROUP)).alias("hhi"))
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


BACI_YEAR = """SELECT f.importer_code AS importer, f.exporter_code AS exporter, f.hs6 AS hs,
       f.value_usd AS v
FROM baci_flows f JOIN baci_batches b USING (batch) WHERE b.hs_revision = $rev AND b.year = $year"""
"""A BACI year straight from its storage table: grouping 11 million rows by BACI's numeric
country codes, then naming the million results, is faster than grouping ISO3 text."""
TOP_SUPPLIER = ("arg_max(exporter, v) AS top_supplier, max(v) AS top_v",
                "top_supplier, top_v")
TOP_SUPPLIER_BACI = ("max((round(v)::BIGINT << 16) | exporter) AS top",
                     "top >> 16 AS top_v, top & 65535 AS top_supplier")
"""(aggregate, columns from it) giving the largest supplier and its value. For BACI, one max
does it: values are whole dollars (v is thousand USD to three decimals) and exporters 16-bit
codes, so (value << 16 | code) orders by value and carries the code; a third cheaper than
arg_max on 11 million rows. Ties go to the higher code."""
YEAR_FLOWS = """FROM trade_flows WHERE source = $source AND hs_revision = $rev AND flow = 'import'
    AND freq = 'A' AND period = make_date($year, 1, 1)"""


def _screen_revision(con: duckdb.DuckDBPyConnection, source: str, year: int,
                     hs_revision: str | None) -> str:
    """The HS revision to screen: the one given, else the only one the year has."""
    revisions = [r[0] for r in con.execute(
        "SELECT hs_revision FROM baci_batches WHERE year = ?" if source == "baci" else
        "SELECT DISTINCT hs_revision FROM trade_flows WHERE source = ? AND flow = 'import' "
        "AND period = make_date(?, 1, 1) AND freq = 'A'",
        [year] if source == "baci" else [source, year]).fetchall()]
    if not revisions:
        raise ChokeholdError(f"no {source} trade for {year} in the warehouse")
    if hs_revision is None and len(revisions) > 1:
        raise ChokeholdError(f"{source} {year} is in several HS revisions "
                             f"({', '.join(sorted(revisions))}); choose one")
    return hs_revision or revisions[0]


def _screen_flows(con: duckdb.DuckDBPyConnection, params: dict) -> str:
    """(importer, exporter, hs, v) rows of the year, one per importer, exporter and HS6 line."""
    if params["source"] == "baci":
        return BACI_YEAR
    national = con.execute(f"SELECT bool_or(length(hs_code) > 6) {YEAR_FLOWS}",
                           params).fetchall()[0][0]
    if national:  # national lines (8-10 digits) are summed to their six digits first
        return (f"SELECT reporter_iso3 AS importer, partner_iso3 AS exporter, "
                f"left(hs_code, 6) AS hs, sum(value_usd) AS v {YEAR_FLOWS} GROUP BY ALL")
    return (f"SELECT reporter_iso3 AS importer, partner_iso3 AS exporter, hs_code AS hs, "
            f"value_usd AS v {YEAR_FLOWS}")


def global_screen(con: duckdb.DuckDBPyConnection, year: int, *, source: str = "baci",
                  hs_revision: str | None = None, demand: pl.DataFrame | None = None,
                  limit: int | None = None) -> pl.DataFrame:
    """Every importer x HS6 line of one year: HHI, top supplier and share, EC 2021 flags.

    Runs in DuckDB over the year's flows (one row per importer, exporter and line).
    ``demand`` (importer_iso3, hs_code, demand_usd), where known, gives the import-dependence
    criterion; without it that criterion is null and not applied to ``dependent``. Rows come
    largest imports first; ``limit`` keeps only the first rows.
    """
    params = {"source": source, "rev": _screen_revision(con, source, year, hs_revision),
              "year": year}
    if demand is not None:
        con.register("_screen_demand", demand)
    demand_join = ("LEFT JOIN _screen_demand d ON d.importer_iso3 = s.importer_iso3 "
                   "AND d.hs_code = s.hs_code" if demand is not None else "")
    demand_col = "s.imports_usd / nullif(d.demand_usd, 0)" if demand is not None else "NULL"
    names = ("LEFT JOIN baci_countries ci ON ci.code = i.importer "
             "LEFT JOIN baci_countries ct ON ct.code = i.top_supplier" if source == "baci" else "")
    importer, top, hs_code = (("ci.iso3", "ct.iso3", "lpad(CAST(i.hs AS VARCHAR), 6, '0')")
                              if source == "baci" else ("i.importer", "i.top_supplier", "i.hs"))
    flows = _screen_flows(con, params)
    used = {k: v for k, v in params.items() if f"${k}" in flows}
    # Each grouping scans the year in its own statement: fed from one scan, the two hash
    # aggregations of 11 million rows ran a third slower.
    top_aggregate, top_columns = TOP_SUPPLIER_BACI if source == "baci" else TOP_SUPPLIER
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _screen_imp AS
        SELECT importer, hs, imports_usd, sq, suppliers, {top_columns} FROM (
            SELECT importer, hs, sum(v) AS imports_usd, sum(v * v) AS sq,
                   count(*) AS suppliers, {top_aggregate}
            FROM ({flows}) GROUP BY ALL)""", used)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _screen_exp AS
        SELECT exporter, hs, sum(v) AS exports_usd FROM ({flows}) GROUP BY ALL""", used)
    sql = f"""
    WITH world AS (
        SELECT hs, sum(exports_usd) AS world_usd FROM _screen_exp GROUP BY ALL
    ), s AS (
        SELECT {importer} AS importer_iso3, {hs_code} AS hs_code, i.imports_usd,
               i.sq / (i.imports_usd * i.imports_usd) AS hhi, i.suppliers,
               {top} AS top_supplier, i.top_v / i.imports_usd AS top_share,
               coalesce(own.exports_usd, 0) AS own_exports_usd,
               ts.exports_usd / w.world_usd AS top_supplier_world_export_share
        FROM _screen_imp i
        LEFT JOIN _screen_exp own ON own.exporter = i.importer AND own.hs = i.hs
        LEFT JOIN _screen_exp ts ON ts.exporter = i.top_supplier AND ts.hs = i.hs
        LEFT JOIN world w ON w.hs = i.hs
        {names}
        WHERE i.imports_usd > 0
    )
    SELECT $year AS year, $rev AS hs_revision, s.*,
           {demand_col} AS import_dependence,
           s.imports_usd / nullif(s.own_exports_usd, 0) AS imports_to_exports,
           s.hhi > {EC_HHI_THRESHOLD} AS flag_concentration,
           {demand_col} > {EC_IMPORT_DEPENDENCE_THRESHOLD} AS flag_import_dependence,
           coalesce(s.imports_usd / nullif(s.own_exports_usd, 0) >
                    {EC_IMPORTS_TO_EXPORTS_THRESHOLD}, s.own_exports_usd = 0)
             AS flag_low_substitutability,
           flag_concentration AND flag_low_substitutability
             AND coalesce(flag_import_dependence, TRUE) AS dependent
    FROM s {demand_join}
    {f"ORDER BY s.imports_usd DESC LIMIT {int(limit)}" if limit else ""}
    """
    screen = con.sql(sql, params={"year": year, "rev": params["rev"]}).pl()
    con.execute("DROP TABLE _screen_imp")
    con.execute("DROP TABLE _screen_exp")
    if demand is not None:
        con.unregister("_screen_demand")
    # A full screen (a million rows a year) sorts faster in Polars than in the query.
    return screen.sort(["imports_usd", "importer_iso3", "hs_code"],
                       descending=[True, False, False])
