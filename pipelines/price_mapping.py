"""Vendor price files as data: a YAML mapping per price source says how to read its files.

A mapping (``data/prices/<id>.yaml``) names the files (a glob), the sheet, the header rows, the
date column and its formats, and one entry per price series: which column holds the price (a
number or a range such as ``230000-240000``, or separate low and high columns), and the
series' commodity, market, currency, unit and VAT basis. Reading a file gives one row per
series and date, with the published low, high and mid, the cell as published, and the file row.

Shapes handled: CSV (UTF-8 with or without BOM, GB18030) and XLSX; title rows above the header
(``skip_rows``); several header rows, joined with a space after filling merged cells to the
right (``锑锭 1#`` over ``低`` gives ``锑锭 1# 低``); thousands separators; blank rows; footnote
rows (no date and no price in the mapped columns); long layouts (``where`` picks one series'
rows by a key column).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from chokehold._lazy import polars as pl
from chokehold.errors import DataError, UnknownValueError
from chokehold.pipelines.price_units import (
    PriceUnit,
    normalise_unit,
    parse_price_unit,
    scaled_currency,
)
from chokehold.yamlfiles import Strict, load_yaml_model

DEFAULT_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%d-%b-%y", "%d-%b-%Y", "%d %b %Y",
    "%Y-%m-%d %H:%M:%S",
)
"""Tried in order. Day-first and month-first numeric dates (07/05/2025) are ambiguous, so they
are never guessed: a mapping that needs them lists them in ``date_formats``."""

MISSING_MARKERS: tuple[str, ...] = ("", "-", "--", "—", "–", "n/a", "na", "n.a.", "nan", "null")
RANGE_SEPARATORS = r"(?:-|–|—|~|～|至|to)"
NUMBER = r"\d+(?:\.\d+)?"
PRICE = re.compile(rf"\s*({NUMBER})\s*(?:{RANGE_SEPARATORS}\s*({NUMBER}))?\s*", re.IGNORECASE)
DATE_LIKE = re.compile(r"\d{4}[-/.年][\d\-/.月日 ]*")
"""A date cell that is only digits and date separators was meant as a date (``2025-05-0``, a
truncated last line): it is refused, never skipped as a footnote."""
Frequency = Literal["daily", "weekly", "monthly", "irregular"]


class SourceSpec(Strict):
    """Who publishes the prices and on what terms (loaded into the ``sources`` table)."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    publisher: str
    title: str
    licence: str
    url: str
    citation: str | None = None


class SeriesSpec(Strict):
    """One price series in the file: where its price is, and what it measures."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", description="Stable series id (prices.series_id).")
    commodity: str
    market: str = Field(pattern=r"^[a-z0-9_]+$",
                        description="china_domestic, rotterdam, fob_china, cif_japan, ...")
    value: str | None = Field(default=None, description="Column with a price or a low-high range.")
    low: str | None = Field(default=None, description="Column with the low end (with high).")
    high: str | None = Field(default=None, description="Column with the high end (with low).")
    currency: str | None = None
    unit: str | None = None
    currency_column: str | None = None
    unit_column: str | None = None
    price_unit_column: str | None = Field(default=None, description='Column like "CNY/t".')
    price_unit: str | None = Field(default=None, description='Fixed price unit, e.g. "万元/吨", '
                                   '"10k CNY/t", "USD/lb" (data/units.yaml spells them).')
    scale: float = Field(default=1.0, gt=0, description="Multiplier from the published figure "
                         "to currency per unit (e.g. 10000 for prices quoted in 10k CNY/t).")
    vat_included: bool
    frequency: Frequency = "daily"
    grade: str | None = None
    grade_column: str | None = None
    basis: str | None = Field(default=None, description="Delivery basis, e.g. FOB China.")
    basis_column: str | None = None
    where: dict[str, str] = Field(default_factory=dict,
                                  description="Keep only rows whose column has this text.")

    @model_validator(mode="after")
    def _one_way_each(self) -> SeriesSpec:
        if (self.value is None) == (self.low is None and self.high is None):
            raise ValueError("give either `value` or both `low` and `high`")
        if self.value is None and (self.low is None or self.high is None):
            raise ValueError("`low` and `high` go together")
        ways = [self.currency is not None and self.unit is not None,
                self.currency_column is not None or self.unit_column is not None,
                self.price_unit_column is not None, self.price_unit is not None]
        if sum(ways) != 1:
            raise ValueError("give `currency` and `unit`, or `currency_column` and `unit_column`,"
                             " or `price_unit_column`, or `price_unit`")
        if ways[1] and (self.currency_column is None or self.unit_column is None):
            raise ValueError("`currency_column` and `unit_column` go together")
        try:
            if self.currency is not None:
                scaled_currency(self.currency)
            if self.unit is not None:
                normalise_unit(self.unit)
            if self.price_unit is not None:
                parse_price_unit(self.price_unit)
        except UnknownValueError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def columns(self) -> list[str]:
        """Every file column this series reads."""
        named = [self.value, self.low, self.high, self.currency_column, self.unit_column,
                 self.price_unit_column, self.grade_column, self.basis_column, *self.where]
        return [c for c in named if c is not None]

    def price_columns(self) -> list[str]:
        return [c for c in (self.value, self.low, self.high) if c is not None]


class PriceMapping(Strict):
    """How to read one vendor's price files."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str
    source: SourceSpec
    root: Literal["prices_dir", "bundled"] = Field(
        default="prices_dir", description="Where `files` is resolved: the user's price files "
        "folder (Settings.prices_dir) or the project's data/bundled.")
    files: str = Field(description="Glob relative to the root, e.g. smm/antimony_*.xlsx.")
    vintage: str | None = Field(default=None, description="Release label; default: checksum.")
    sheet: str | int | None = Field(default=None, description="XLSX sheet name or 0-based index.")
    encoding: Literal["auto", "utf-8", "utf-8-sig", "gb18030"] = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    skip_rows: int = Field(default=0, ge=0, description="Rows above the header (titles).")
    header_rows: int = Field(default=1, ge=1, le=5)
    date_column: str
    date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DATE_FORMATS))
    min_date: date = date(1960, 1, 1)
    thousands: str = Field(default=",", max_length=1)
    decimal: str = Field(default=".", min_length=1, max_length=1)
    missing: list[str] = Field(default_factory=lambda: list(MISSING_MARKERS))
    series: list[SeriesSpec] = Field(min_length=1)

    @field_validator("series")
    @classmethod
    def _unique_ids(cls, series: list[SeriesSpec]) -> list[SeriesSpec]:
        ids = [s.id for s in series]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"series ids repeat: {sorted(dup)}")
        return series


def load_mapping(path: Path) -> PriceMapping:
    """Parse and validate one mapping file; errors name the file and the field."""
    return load_yaml_model(path, PriceMapping)


def load_mappings(folder: Path) -> list[PriceMapping]:
    """Every mapping in ``folder`` (``*.yaml``), in file-name order."""
    return [load_mapping(p) for p in sorted(folder.glob("*.yaml"))]


# ---- reading a file into a grid of cells -------------------------------------------------------

def _decode(data: bytes, encoding: str) -> str:
    if encoding != "auto":
        return data.decode(encoding)
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_grid(path: Path, mapping: PriceMapping) -> tuple[list[list[Any]], str | None]:
    """The file's cells, row by row (row i is file row i+1), and the sheet name read."""
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return _read_xlsx(path, mapping.sheet)
        text = _decode(path.read_bytes(), mapping.encoding)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read file: {exc}", source=path) from exc
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=mapping.delimiter)], None


def _read_xlsx(path: Path, sheet: str | int | None) -> tuple[list[list[Any]], str]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException ...
        raise DataError(f"cannot open workbook: {exc}", source=path) from exc
    names = book.sheetnames
    if sheet is None:
        name = names[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise UnknownValueError("sheet index", sheet, range(len(names)))
        name = names[sheet]
    elif sheet in names:
        name = sheet
    else:
        raise DataError(f"no sheet {sheet!r}; the workbook has {names}", source=path, sheet=sheet)
    return [list(row) for row in book[name].iter_rows(values_only=True)], name


# ---- header -------------------------------------------------------------------------------------

def _text(cell: Any) -> str:
    if cell is None:
        return ""
    return " ".join(str(cell).replace("\ufeff", "").split())


def header_names(rows: list[list[Any]]) -> list[str]:
    """Column names from one or more header rows: merged (blank) cells of upper rows take the
    label to their left, then each column's labels are joined with a space."""
    width = max((len(r) for r in rows), default=0)
    filled: list[list[str]] = []
    for depth, row in enumerate(rows):
        cells = [_text(row[i]) if i < len(row) else "" for i in range(width)]
        if depth < len(rows) - 1:
            for i in range(1, width):
                if not cells[i] and cells[i - 1]:
                    cells[i] = cells[i - 1]
        filled.append(cells)
    return [" ".join(r[i] for r in filled if r[i]) for i in range(width)]


# ---- cells --------------------------------------------------------------------------------------

def parse_date(cell: Any, formats: list[str]) -> date | None:
    """A date from an XLSX date cell or text in one of ``formats``; None if it does not parse."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_price(cell: Any, thousands: str, decimal: str) -> tuple[float, float] | None:
    """(low, high) from a number or a range such as ``230,000-240,000``; None if unparseable."""
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell), float(cell)
    text = _text(cell).replace("，", ",")
    if thousands:
        text = text.replace(thousands, "")
    if decimal != ".":
        text = text.replace(decimal, ".")
    match = PRICE.fullmatch(text)
    if match is None:
        return None
    low = float(match.group(1))
    return low, float(match.group(2)) if match.group(2) else low


# ---- a whole file ---------------------------------------------------------------------------------

OBSERVATION_SCHEMA: dict[str, type] = {
    "series_id": str, "commodity": str, "market": str, "date": date, "low": float, "high": float,
    "value": float, "original_value": str, "currency": str, "unit": str, "vat_included": bool,
    "frequency": str, "grade": str, "basis": str, "published_unit": str, "scale": float,
    "_source_row": int,
}
"""Columns of a file's observations, as the Python types polars maps to String, Date, Float64,
Boolean and Int64 (no polars dtype here: importing this module does not import polars)."""


class _File:
    """Error context of one file: every error names file, sheet, row and column."""

    def __init__(self, path: Path, sheet: str | None, mapping: PriceMapping) -> None:
        self.path, self.sheet, self.mapping = path, sheet, mapping

    def error(self, message: str, row: int | None = None, column: str | None = None) -> DataError:
        return DataError(f"{message} (mapping {self.mapping.id})", source=self.path,
                         sheet=self.sheet, row=row, field=column)


def read_price_file(path: Path, mapping: PriceMapping, *, today: date | None = None
                    ) -> pl.DataFrame:
    """Every observation of every mapped series in one file (see OBSERVATION_SCHEMA).

    Raises DataError naming file, sheet, row and column for: a mapped column the file lacks, a
    date or price that does not parse, a date outside [min_date, today + 1 day], an unknown
    currency or unit, high below low, and two different prices for one series and date.
    """
    grid, sheet = read_grid(path, mapping)
    where = _File(path, sheet, mapping)
    first_data = mapping.skip_rows + mapping.header_rows
    if len(grid) < first_data:
        raise where.error(f"the file has {len(grid)} rows, fewer than the "
                          f"{first_data} rows of title and header the mapping expects")
    names = header_names(grid[mapping.skip_rows:first_data])
    _refuse_truncated_end(path, grid, len(names), where)
    index = _column_index(names, mapping, where)
    latest = (today or date.today()) + timedelta(days=1)
    observations: list[dict] = []
    for offset, row in enumerate(grid[first_data:]):
        observations += _read_row(row, first_data + offset + 1, index, mapping, where, latest)
    frame = pl.DataFrame(observations, schema=OBSERVATION_SCHEMA)
    return _drop_repeats(frame, where)


def _refuse_truncated_end(path: Path, grid: list[list[Any]], width: int, where: _File) -> None:
    """A CSV whose last line has no line end and fewer cells than the header was cut off."""
    if path.suffix.lower() in (".xlsx", ".xlsm") or not grid or not any(map(_text, grid[-1])):
        return
    tail = path.read_bytes()[-2:]
    if not tail.endswith((b"\n", b"\r")) and len(grid[-1]) < width:
        raise where.error(f"the last line has {len(grid[-1])} of the header's {width} cells and "
                          "no line end: the file is truncated", len(grid))


def _column_index(names: list[str], mapping: PriceMapping, where: _File) -> dict[str, int]:
    wanted = [mapping.date_column, *(c for s in mapping.series for c in s.columns())]
    index: dict[str, int] = {}
    for column in wanted:
        hits = [i for i, name in enumerate(names) if name == _text(column)]
        header_row = mapping.skip_rows + mapping.header_rows
        if not hits:
            raise where.error(f"the mapping names column {column!r}, which the file lacks; its "
                              f"columns are {[n for n in names if n]}", header_row, column)
        if len(hits) > 1:
            raise where.error(f"column {column!r} appears {len(hits)} times in the header; "
                              "use header_rows to tell them apart", header_row, column)
        index[column] = hits[0]
    return index


def _cell(row: list[Any], i: int) -> Any:
    return row[i] if i < len(row) else None


def _read_row(row: list[Any], row_no: int, index: dict[str, int], mapping: PriceMapping,
              where: _File, latest: date) -> list[dict]:
    if all(_text(c) == "" for c in row):
        return []
    missing = {m.lower() for m in mapping.missing}
    has_price = any(_text(_cell(row, index[c])).lower() not in missing
                    for s in mapping.series for c in s.price_columns())
    date_cell = _cell(row, index[mapping.date_column])
    day = parse_date(date_cell, mapping.date_formats)
    if day is None:
        if not has_price and not DATE_LIKE.fullmatch(_text(date_cell)):
            return []  # a footnote, source line or unit line
        raise where.error(f"date {_text(date_cell)!r} does not parse (formats tried: "
                          f"{', '.join(mapping.date_formats)})", row_no, mapping.date_column)
    if not mapping.min_date <= day <= latest:
        raise where.error(f"date {day} is outside the plausible range {mapping.min_date} to "
                          f"{latest}", row_no, mapping.date_column)
    out = []
    for series in mapping.series:
        if any(_text(_cell(row, index[col])) != text for col, text in series.where.items()):
            continue
        record = _observation(row, row_no, index, series, mapping, where, missing)
        if record is not None:
            out.append({**record, "date": day})
    return out


def _observation(row: list[Any], row_no: int, index: dict[str, int], series: SeriesSpec,
                 mapping: PriceMapping, where: _File, missing: set[str]) -> dict | None:
    if series.value is not None:
        cell = _cell(row, index[series.value])
        if _text(cell).lower() in missing:
            return None
        parsed = parse_price(cell, mapping.thousands, mapping.decimal)
        if parsed is None:
            raise where.error(f"price {_text(cell)!r} does not parse as a number or a low-high "
                              "range", row_no, series.value)
        low, high, original = *parsed, _text(cell)
    else:
        cells = [_cell(row, index[series.low]), _cell(row, index[series.high])]
        if all(_text(c).lower() in missing for c in cells):
            return None
        ends = []
        for column, cell in zip((series.low, series.high), cells):
            parsed = parse_price(cell, mapping.thousands, mapping.decimal)
            if parsed is None or parsed[0] != parsed[1]:
                raise where.error(f"price {_text(cell)!r} does not parse as a number", row_no,
                                  column)
            ends.append(parsed[0])
        low, high = ends
        original = f"{_text(cells[0])}-{_text(cells[1])}"
    if high < low:
        raise where.error(f"high {high:g} is below low {low:g}", row_no,
                          series.high or series.value)
    if low <= 0:
        raise where.error(f"price {low:g} is not positive", row_no, series.low or series.value)
    priced, published = _currency_unit(row, row_no, index, series, where)
    scale = priced.scale * series.scale
    low, high = low * scale, high * scale
    return {
        "series_id": series.id, "commodity": series.commodity, "market": series.market,
        "low": low, "high": high, "value": (low + high) / 2, "original_value": original,
        "currency": priced.currency, "unit": priced.unit, "vat_included": series.vat_included,
        "published_unit": published if scale != 1 or published != _plain(priced) else None,
        "scale": scale,
        "frequency": series.frequency,
        "grade": _text(_cell(row, index[series.grade_column])) if series.grade_column
        else series.grade,
        "basis": _text(_cell(row, index[series.basis_column])) if series.basis_column
        else series.basis,
        "_source_row": row_no,
    }


def _plain(priced: PriceUnit) -> str:
    return f"{priced.currency}/{priced.unit}"


def _currency_unit(row: list[Any], row_no: int, index: dict[str, int], series: SeriesSpec,
                   where: _File) -> tuple[PriceUnit, str]:
    """The normalised price unit of a row, and the unit as published (for the record)."""
    column = series.price_unit_column or series.currency_column
    try:
        if series.price_unit is not None:
            return parse_price_unit(series.price_unit), series.price_unit
        if series.currency is not None and series.unit is not None:
            currency, scale = scaled_currency(series.currency)
            return (PriceUnit(currency, normalise_unit(series.unit), scale),
                    f"{series.currency}/{series.unit}")
        if series.price_unit_column is not None:
            text = _text(_cell(row, index[column]))
            return parse_price_unit(text), text
        currency, scale = scaled_currency(_text(_cell(row, index[column])))
        column = series.unit_column
        unit = _text(_cell(row, index[column]))
        published = f"{_text(_cell(row, index[series.currency_column]))}/{unit}"
        return PriceUnit(currency, normalise_unit(unit), scale), published
    except UnknownValueError as exc:
        raise where.error(str(exc), row_no, column) from exc


def _drop_repeats(frame: pl.DataFrame, where: _File) -> pl.DataFrame:
    """One row per series and date: identical repeats collapse, different ones are an error."""
    keys = ["series_id", "date"]
    conflicts = (frame.group_by(keys)
                 .agg(pl.struct("low", "high", "currency", "unit").n_unique().alias("n"),
                      pl.col("_source_row").alias("rows"))
                 .filter(pl.col("n") > 1).sort(keys))
    if conflicts.height:
        first = conflicts.row(0, named=True)
        series = next(s for s in where.mapping.series if s.id == first["series_id"])
        raise where.error(f"two different prices for series {first['series_id']} on "
                          f"{first['date']} (rows {', '.join(map(str, first['rows']))})",
                          first["rows"][-1], series.value or series.low)
    return frame.unique(keys, keep="first", maintain_order=True)
