"""Import shares by partner and concentration (docs/domain.md section 5).

s_p = M_p / sum_q M_q for each importer, period and basis; HHI = sum_p s_p^2 (0-1).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

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
