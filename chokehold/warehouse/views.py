"""Every view of the warehouse, as code (like dbt models): recreated whenever the warehouse
is opened for writing and at every publish, so an upgraded warehouse and a fresh one read the
same definitions. Migrations create tables only.

``baci_flows`` is a view too: one branch per lake partition file the catalog (``lake_files``)
lists, each with its batch as a constant (a filter on batch reads one file); so is
``reported_flows``, over the files the catalog lists for it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from chokehold.errors import ChokeholdError
from chokehold.warehouse import lake
from chokehold.warehouse.schema import TableSpec, merged_lake_tables

VIEWS_KEY = "views_sha256"

BACI_COUNTRIES = """
CREATE OR REPLACE VIEW baci_countries AS
SELECT TRY_CAST(code AS USMALLINT) AS code, iso3, name FROM country_codes
WHERE scheme = 'baci' AND TRY_CAST(code AS USMALLINT) IS NOT NULL
"""
"""BACI's numeric country codes (country_codes, scheme baci) typed as baci_flows shows them."""

TRADE_FLOWS = """
CREATE OR REPLACE VIEW trade_flows AS
SELECT reporter_iso3, partner_iso3, flow, period, freq, hs_code, hs_revision, value_usd, qty,
       qty_unit, source, vintage
FROM reported_flows
UNION ALL
SELECT m.iso3, x.iso3, 'import', make_date(b.year, 1, 1), 'A', lpad(CAST(f.hs6 AS VARCHAR), 6, '0'),
       b.hs_revision, f.value_usd, f.qty, CASE WHEN f.qty IS NOT NULL THEN 't' END, 'baci',
       b.release
FROM baci_flows f
JOIN baci_batches b USING (batch)
LEFT JOIN baci_countries m ON m.code = f.importer_code
LEFT JOIN baci_countries x ON x.code = f.exporter_code
"""
"""Every trade row in one shape: reported rows as stored, BACI rows named and dated."""

EMPTY_BACI = ("SELECT NULL::USMALLINT AS batch, NULL::USMALLINT AS importer_code, "
              "NULL::USMALLINT AS exporter_code, NULL::UINTEGER AS hs6, NULL::DOUBLE AS value_usd, "
              "NULL::DOUBLE AS qty WHERE FALSE")


def baci_flows_view(files: list[tuple[int, Path]]) -> str:
    """The baci_flows view over ``(batch, file)`` pairs, in baci_flows' spec types."""
    branches = [
        f"SELECT CAST({batch} AS USMALLINT) AS batch, CAST(importer_code AS USMALLINT) AS "
        "importer_code, CAST(exporter_code AS USMALLINT) AS exporter_code, "
        "CAST(hs6 AS UINTEGER) AS hs6, value_usd, qty FROM read_parquet("
        + "'" + str(path).replace("'", "''") + "', hive_partitioning = false)"
        for batch, path in files]
    return "CREATE OR REPLACE VIEW baci_flows AS\n" + ("\nUNION ALL ".join(branches) or EMPTY_BACI)


def baci_files(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> list[tuple[int, Path]]:
    """``(batch, absolute file)`` of every baci_flows partition in the catalog."""
    batches = {(rev, year): batch for batch, rev, year in con.execute(
        "SELECT batch, hs_revision, year FROM baci_batches").fetchall()}
    out = []
    for entry in lake.catalog(con, "baci_flows"):
        keys = entry.keys
        batch = batches.get((keys["hs_revision"], keys["year"]))
        if batch is not None:
            out.append((batch, lake_dir / entry.path))
    return sorted(out)


def lake_table_select(table: TableSpec, files: list[Path]) -> str:
    """The rows of a merged lake table's files, in its columns (typed and empty without any)."""
    if not files:
        return "SELECT " + ", ".join(f'CAST(NULL AS {c.type}) AS "{c.name}"'
                                     for c in table.columns) + " WHERE FALSE"
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return ("SELECT " + ", ".join(f'"{c}"' for c in table.column_names)
            + f" FROM read_parquet([{listed}], hive_partitioning = false)")


def lake_table_view(table: TableSpec, files: list[Path]) -> str:
    """The view of a merged lake table over its files."""
    return f"CREATE OR REPLACE VIEW {table.name} AS {lake_table_select(table, files)}"


def lake_table_files(con: duckdb.DuckDBPyConnection, lake_dir: Path, name: str) -> list[Path]:
    """The absolute files the catalog lists for a lake table."""
    return [lake_dir / e.path for e in lake.catalog(con, name)]


DEFAULT_MAX_CARRY_DAYS = 7
"""Default LOCF limit of the ``price_gap`` view: a weekly assessment stays valid for a week."""

FX_MAX_CARRY_DAYS = 4
"""A daily series' FX rate may be up to this many days old (US holidays and weekends)."""

ORDER = "commodity, overseas_series, domestic_series, date"
DOMESTIC_MARKET = "china_domestic"
DOMESTIC_COUNTRY = "CHN"


def units_view() -> str:
    """price_units: the unit factors, which are data (table ``units``, from data/units.yaml)."""
    return ("CREATE OR REPLACE VIEW price_units AS "
            "SELECT unit, units_per_tonne, converted_basis FROM units")


FX_VIEWS = (
    """CREATE OR REPLACE VIEW fx_daily AS
    SELECT r.date, CASE WHEN r.base = 'USD' THEN r.quote ELSE r.base END AS currency,
           CASE WHEN r.base = 'USD' THEN r.rate ELSE 1 / r.rate END AS per_usd, r.source
    FROM fx_rates r JOIN fx_series s USING (source, base, quote)
    WHERE s.freq = 'D' AND 'USD' IN (r.base, r.quote)""",
    """CREATE OR REPLACE VIEW fx_monthly_all AS
    SELECT r.date AS month, CASE WHEN r.base = 'USD' THEN r.quote ELSE r.base END AS currency,
           CASE WHEN r.base = 'USD' THEN r.rate ELSE 1 / r.rate END AS per_usd, r.source,
           s.method, NULL::BIGINT AS n_days, 1 AS priority
    FROM fx_rates r JOIN fx_series s USING (source, base, quote)
    WHERE s.freq = 'M' AND 'USD' IN (r.base, r.quote)
    UNION ALL
    SELECT date_trunc('month', date)::DATE, currency, avg(per_usd), source,
           'mean of ' || count(*) || ' daily rates', count(*), 2
    FROM fx_daily GROUP BY ALL""",
    """CREATE OR REPLACE VIEW fx_monthly AS
    SELECT * EXCLUDE (priority) FROM fx_monthly_all
    QUALIFY row_number() OVER (PARTITION BY month, currency ORDER BY priority, source) = 1""",
)

PRICES_USD_VIEW = f"""CREATE OR REPLACE VIEW prices_usd AS
WITH p AS (
    SELECT p.*, s.frequency, o.low, o.high, o.original_value, o.grade, o.basis
    FROM prices p
    LEFT JOIN price_series s USING (series_id)
    LEFT JOIN price_observations o USING (series_id, date)),
daily AS (
    SELECT p.series_id, p.date, d.date AS fx_date, d.per_usd, d.source
    FROM p ASOF JOIN fx_daily d ON d.currency = p.currency AND p.date >= d.date
    WHERE p.date - d.date <= {FX_MAX_CARRY_DAYS}),
chosen AS (
    SELECT p.*, u.units_per_tonne, u.converted_basis,
        CASE WHEN p.currency = 'USD' THEN 1.0
             WHEN p.frequency = 'daily' AND d.per_usd IS NOT NULL THEN d.per_usd
             ELSE m.per_usd END AS fx_per_usd,
        CASE WHEN p.currency = 'USD' THEN 'none (USD price)'
             WHEN p.frequency = 'daily' AND d.per_usd IS NOT NULL
                THEN 'daily rate of ' || d.fx_date || ' (' || d.source || ')'
             WHEN m.per_usd IS NOT NULL
                THEN m.method || ', ' || strftime(m.month, '%Y-%m') || ' (' || m.source || ')'
        END AS fx_used
    FROM p
    LEFT JOIN price_units u ON u.unit = p.unit
    LEFT JOIN daily d ON d.series_id = p.series_id AND d.date = p.date
    LEFT JOIN fx_monthly m ON m.currency = p.currency
        AND m.month = date_trunc('month', p.date)::DATE)
SELECT series_id, commodity, market, date, frequency, value, low, high, original_value,
       currency, unit, vat_included, grade, basis, source, vintage, fx_per_usd, fx_used,
       units_per_tonne, converted_basis,
       value * units_per_tonne / fx_per_usd AS usd_per_t,
       low * units_per_tonne / fx_per_usd AS low_usd_per_t,
       high * units_per_tonne / fx_per_usd AS high_usd_per_t
FROM chosen"""


def gap_sql(max_carry_days: int = DEFAULT_MAX_CARRY_DAYS) -> str:
    """The price-gap query for a LOCF limit (the ``price_gap`` view uses the default)."""
    if not isinstance(max_carry_days, int) or max_carry_days < 0:
        raise ChokeholdError(f"max_carry_days must be a whole number >= 0, not {max_carry_days!r}")
    n = max_carry_days
    return f"""
WITH dom AS (SELECT * FROM prices_usd WHERE market = '{DOMESTIC_MARKET}'),
ovs AS (SELECT * FROM prices_usd WHERE market <> '{DOMESTIC_MARKET}'),
pairs AS (
    SELECT d.commodity, d.series_id AS dom_id, o.series_id AS ovs_id
    FROM (SELECT DISTINCT commodity, series_id FROM dom) d
    JOIN (SELECT DISTINCT commodity, series_id FROM ovs) o USING (commodity)),
days AS (
    SELECT DISTINCT p.*, x.date FROM pairs p
    JOIN prices_usd x ON x.series_id IN (p.dom_id, p.ovs_id)),
aligned AS (
    SELECT days.commodity, days.date, days.dom_id, days.ovs_id,
           d.date AS domestic_date, o.date AS overseas_date
    FROM days
    ASOF LEFT JOIN dom d ON d.series_id = days.dom_id AND days.date >= d.date
    ASOF LEFT JOIN ovs o ON o.series_id = days.ovs_id AND days.date >= o.date),
joined AS (
    SELECT a.commodity, a.date, a.dom_id, a.ovs_id,
        CASE WHEN a.date - a.domestic_date <= {n} THEN a.domestic_date END AS domestic_date,
        CASE WHEN a.date - a.overseas_date <= {n} THEN a.overseas_date END AS overseas_date
    FROM aligned a),
priced AS (
    SELECT j.commodity, j.date,
        dm.market AS domestic_market, j.dom_id AS domestic_series,
        om.market AS overseas_market, j.ovs_id AS overseas_series,
        j.domestic_date, j.overseas_date,
        j.date - j.domestic_date AS domestic_age_days, j.date - j.overseas_date AS overseas_age_days,
        o.usd_per_t AS overseas_usd_t, o.value AS overseas_value, o.currency AS overseas_currency,
        o.unit AS overseas_unit, o.basis AS overseas_basis, o.fx_used AS overseas_fx_used,
        d.value AS domestic_value, d.currency AS domestic_currency, d.unit AS domestic_unit,
        d.vat_included AS domestic_vat_included, d.basis AS domestic_basis,
        d.fx_per_usd AS fx_domestic_per_usd, d.fx_used AS domestic_fx_used,
        v.rate AS vat_rate,
        CASE WHEN d.vat_included THEN d.usd_per_t / (1 + v.rate) ELSE d.usd_per_t END
            AS domestic_usd_t_ex_vat,
        CASE WHEN d.vat_included THEN d.usd_per_t ELSE d.usd_per_t * (1 + v.rate) END
            AS domestic_usd_t_incl_vat
    FROM joined j
    JOIN (SELECT DISTINCT series_id, market FROM dom) dm ON dm.series_id = j.dom_id
    JOIN (SELECT DISTINCT series_id, market FROM ovs) om ON om.series_id = j.ovs_id
    LEFT JOIN dom d ON d.series_id = j.dom_id AND d.date = j.domestic_date
    LEFT JOIN ovs o ON o.series_id = j.ovs_id AND o.date = j.overseas_date
    LEFT JOIN vat_rates v ON v.country_iso3 = '{DOMESTIC_COUNTRY}'
        AND j.domestic_date BETWEEN v.start_date AND coalesce(v.end_date, DATE '9999-12-31'))
SELECT commodity, date, overseas_market, domestic_market, overseas_series, domestic_series,
    overseas_date, domestic_date, overseas_age_days, domestic_age_days,
    overseas_value, overseas_currency, overseas_unit, overseas_usd_t,
    domestic_value, domestic_currency, domestic_unit, domestic_vat_included, vat_rate,
    CASE WHEN domestic_currency = 'CNY' THEN fx_domestic_per_usd END AS fx_cny_per_usd,
    domestic_fx_used AS fx_used,
    domestic_usd_t_ex_vat, domestic_usd_t_incl_vat,
    overseas_usd_t - domestic_usd_t_ex_vat AS gap_usd_t,
    overseas_usd_t / domestic_usd_t_ex_vat AS ratio,
    overseas_usd_t - domestic_usd_t_incl_vat AS gap_usd_t_incl_vat,
    overseas_usd_t / domestic_usd_t_incl_vat AS ratio_incl_vat,
    CASE
        WHEN domestic_date IS NULL AND overseas_date IS NULL THEN 'no observation within {n} days'
        WHEN domestic_date IS NULL THEN 'no domestic observation within {n} days'
        WHEN overseas_date IS NULL THEN 'no overseas observation within {n} days'
        WHEN domestic_usd_t_ex_vat IS NULL OR overseas_usd_t IS NULL
            THEN 'no exchange rate or VAT rate for the date'
        WHEN domestic_age_days = 0 AND overseas_age_days = 0 THEN 'same day'
        ELSE 'carried forward (max {n} days)' END AS alignment,
    'overseas: ' || coalesce(overseas_basis, overseas_market) || ', no Chinese VAT; domestic: '
        || coalesce(domestic_basis, domestic_market)
        || CASE WHEN domestic_vat_included THEN ', quoted incl. VAT' ELSE ', quoted ex-VAT' END
        || coalesce(', VAT ' || round(vat_rate * 100, 1) || '% removed', '')
        || coalesce('; FX ' || domestic_fx_used, '') AS basis
FROM priced"""


def price_gap_view() -> str:
    return f"CREATE OR REPLACE VIEW price_gap AS {gap_sql()} ORDER BY {ORDER}"


def price_views() -> list[str]:
    """Every view of the price area, in dependency order."""
    return [units_view(), *FX_VIEWS, PRICES_USD_VIEW, price_gap_view()]


def code_views() -> list[str]:
    """The views defined over the tables alone (not over the lake catalog), in order."""
    return [BACI_COUNTRIES, TRADE_FLOWS, *price_views()]


def statements(con: duckdb.DuckDBPyConnection, lake_dir: Path | None = None) -> list[str]:
    """Every view's CREATE statement, in dependency order."""
    lake_dir = lake_dir or lake.root(con)
    merged = [lake_table_view(t, lake_table_files(con, lake_dir, t.name))
              for t in merged_lake_tables()]
    return [baci_flows_view(baci_files(con, lake_dir)), *merged, *code_views()]


def fingerprint(sqls: list[str]) -> str:
    return hashlib.sha256("\n;\n".join(sqls).encode()).hexdigest()


def current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse's views are the ones this code (and its catalog) define."""
    stored = con.execute("SELECT value FROM warehouse_meta WHERE key = ?", [VIEWS_KEY]).fetchall()
    return bool(stored) and stored[0][0] == fingerprint(statements(con))


def create_views(con: duckdb.DuckDBPyConnection, lake_dir: Path | None = None) -> None:
    """(Re)create every view from this code, and record which definitions are live."""
    sqls = statements(con, lake_dir)
    for sql in sqls:
        con.execute(sql)
    con.execute("INSERT OR REPLACE INTO warehouse_meta VALUES (?, ?)", [VIEWS_KEY, fingerprint(sqls)])
