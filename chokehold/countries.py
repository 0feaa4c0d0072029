"""Country reference data: ISO3 as the key, with the codes each source uses.

Names and ISO/M49 codes come from country_converter; Comtrade/BACI numeric codes (842 USA,
251 France, 699 India, 757 Switzerland, 490 Taiwan) come from BACI's own country_codes file.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from chokehold._lazy import polars as pl
from chokehold.errors import UnknownValueError

if TYPE_CHECKING:
    import country_converter as coco


@cache
def _converter() -> coco.CountryConverter:
    """country_converter loads pandas and its tables (~2 s): only when a command needs it."""
    import country_converter as coco

    return coco.CountryConverter()


def reference_countries() -> pl.DataFrame:
    """ISO3, ISO2, M49 and short name for every country country_converter knows."""
    data = _converter().data[["ISO3", "ISO2", "UNcode", "name_short"]]
    frame = pl.from_pandas(data.astype({"UNcode": "Int64"}))
    return frame.rename({"ISO3": "iso3", "ISO2": "iso2", "UNcode": "m49", "name_short": "name"})


def m49_codes(countries: pl.DataFrame) -> pl.DataFrame:
    """The ``country_codes`` rows of scheme m49."""
    return countries.filter(pl.col("m49").is_not_null()).select(
        pl.lit("m49").alias("scheme"), pl.col("m49").cast(pl.String).alias("code"),
        "iso3", "name",
    )


def resolve_iso3(value: str, known: set[str]) -> str:
    """An ISO3 code from ISO3, ISO2 or a country name; unknown values list the valid codes."""
    candidate = value.strip().upper()
    if candidate in known:
        return candidate
    converted = _converter().convert(value, to="ISO3", not_found=None)
    if isinstance(converted, str) and converted in known:
        return converted
    raise UnknownValueError("country", value, known)
