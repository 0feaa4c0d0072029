"""Import shares by partner and concentration (docs/domain.md section 5).

s_p = M_p / sum_q M_q for each importer, period and basis; HHI = sum_p s_p^2 (0-1).
"""

from __future__ import annotations

from typing import Literal

import polars as pl
import pyarrow as pa

Basis = Literal["value", "qty"]
BASIS_COLUMN = {"value": "value_usd", "qty": "qty"}


def tonnes(qty: pl.Expr = pl.col("qty"), unit: pl.Expr = pl.col("qty_unit")) -> pl.Expr:
    """Summed quantity in tonnes: rows in other units are left out, and a group with no
    quantity in tonnes sums to null (unknown), not 0."""
    in_tonnes = pl.when(unit == "t").then(qty)
    return pl.when(in_tonnes.is_not_null().any()).then(in_tonnes.sum())


def partner_shares(flows: pl.DataFrame, basis: Basis = "value",
                   by: tuple[str, ...] = ("reporter_iso3", "period")) -> pl.DataFrame:
    """One row per group and partner: summed value (USD) and quantity (t), and the partner's
    share of the group on ``basis``.

    ``flows`` has trade_flows columns; rows for several HS lines of one commodity group are
    summed per partner first. Quantities count only in tonnes (``tonnes``). A group whose basis
    total is zero or missing gets null shares.
    """
    column = BASIS_COLUMN[basis]
    summed = flows.group_by([*by, "partner_iso3"]).agg(
        pl.col("value_usd").sum().alias("value_usd"), tonnes().alias("qty"))
    total = pl.col(column).sum().over(list(by))
    return summed.with_columns(
        pl.when(total > 0).then(pl.col(column) / total).alias("share")
    ).sort([*by, "share"], descending=[False] * len(by) + [True], nulls_last=True)


def hhi(shares: pl.DataFrame, by: tuple[str, ...] = ("reporter_iso3", "period")) -> pl.DataFrame:
    """Herfindahl-Hirschman index per group, on the 0-1 scale, with the number of partners."""
    return shares.group_by(list(by)).agg(
        (pl.col("share") ** 2).sum().alias("hhi"),
        pl.col("partner_iso3").filter(pl.col("share") > 0).n_unique().alias("partners"),
    ).sort(list(by))


def supplier_share(shares: pl.DataFrame, supplier_iso3: str,
                   by: tuple[str, ...] = ("reporter_iso3", "period")) -> pl.DataFrame:
    """The share of one supplier in every group (zero where it supplied nothing)."""
    groups = shares.select(list(by)).unique()
    own = shares.filter(pl.col("partner_iso3") == supplier_iso3).select(
        *by, pl.col("share").alias("supplier_share"), pl.col("value_usd").alias("supplier_value_usd"))
    totals = shares.group_by(list(by)).agg(pl.col("value_usd").sum().alias("total_value_usd"))
    return (groups.join(own, on=list(by), how="left").join(totals, on=list(by), how="left")
            .with_columns(pl.col("supplier_share").fill_null(0.0),
                          pl.col("supplier_value_usd").fill_null(0.0))
            .sort(list(by)))


SHARES_INPUT = ("commodity_id", "importer_code", "exporter_code", "value_usd", "qty")
"""The share kernel's input: lake baci_flows rows (one revision and year) joined to the
commodity groups their HS6 line belongs to (a line may be in several)."""
SHARES_SCHEMA = pa.schema([
    ("year", pa.int32()), ("hs_revision", pa.string()), ("commodity_id", pa.string()),
    ("importer_iso3", pa.string()), ("partner_iso3", pa.string()), ("value_usd", pa.float64()),
    ("qty", pa.float64()), ("share", pa.float64()), ("hhi", pa.float64())])


def shares_kernel(flows: pa.Table, countries: pa.Table, *, year: int, hs_revision: str,
                  basis: Basis = "value") -> pa.Table:
    """Each partner's share (of value or quantity) of an importer's imports of a commodity
    group, with the group's HHI, for one HS revision and year: Arrow in, Arrow out
    (``SHARES_SCHEMA``).

    Countries are named first (``countries``: code, iso3), as the trade_flows view names them,
    then summed per partner like ``partner_shares`` (quantities in tonnes: BACI's q is). Every
    sum stays inside one importer, group and year, so any split by importer gives the same rows.
    """
    iso3 = dict(zip(countries.column("code").to_pylist(), countries.column("iso3").to_pylist()))
    frame = pl.from_arrow(flows.select(list(SHARES_INPUT))).with_columns(
        pl.col("importer_code").replace_strict(iso3, default=None, return_dtype=pl.String)
        .alias("reporter_iso3"),
        pl.col("exporter_code").replace_strict(iso3, default=None, return_dtype=pl.String)
        .alias("partner_iso3"), pl.lit("t").alias("qty_unit"))
    by = ("commodity_id", "reporter_iso3")
    out = partner_shares(frame, basis, by).with_columns(
        (pl.col("share") ** 2).sum().over(list(by)).alias("hhi"),
        pl.lit(year, pl.Int32).alias("year"), pl.lit(hs_revision).alias("hs_revision"))
    return out.rename({"reporter_iso3": "importer_iso3"}).select(SHARES_SCHEMA.names).to_arrow() \
        .cast(SHARES_SCHEMA)
