"""data/commodities.yaml: the seven groups of docs/domain.md section 4, every HS revision listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from chokehold.commodities import HS_REVISIONS, load_commodities
from chokehold.config import PROJECT_ROOT
from chokehold.errors import DataError

FILE = PROJECT_ROOT / "data" / "commodities.yaml"


def test_the_seven_commodities_with_every_revision() -> None:
    commodities = load_commodities(FILE)
    assert set(commodities) == {"rare_earths", "permanent_magnets", "antimony", "gallium",
                                "germanium", "tungsten", "graphite"}
    for commodity in commodities.values():
        assert set(commodity.hs) == set(HS_REVISIONS), commodity.id
    assert commodities["rare_earths"].lines("HS17") == ["280530", "284610", "284690"]
    assert "811000" in commodities["antimony"].lines("HS92")
    assert "811010" in commodities["antimony"].lines("HS17")


def test_a_bad_hs_code_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "commodities.yaml"
    bad.write_text(FILE.read_text(encoding="utf-8").replace('"850511":', '"85051":', 1),
                   encoding="utf-8")
    with pytest.raises(DataError, match="not six digits") as caught:
        load_commodities(bad)
    assert caught.value.field.startswith("permanent_magnets.hs")
