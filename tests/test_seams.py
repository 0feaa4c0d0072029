"""The small seams have one implementation each: the file-and-row error, the strict model
base, the YAML model loaders, the code revision and the redaction marker."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from chokehold import commodities, registry, vintages
from chokehold.errors import DataError, fail_where
from chokehold.pipelines import _runlog, comtrade, price_mapping
from chokehold.provenance import REDACTED, code_revision
from chokehold.render import data
from chokehold.render.matrix import load_matrix
from chokehold.yamlfiles import Strict, load_yaml_mapping


def test_fail_where_names_the_first_bad_row() -> None:
    frame = pl.DataFrame({"qty": [1.0, -2.0, -3.0], "_source_row": [7, 9, 3]})
    with pytest.raises(DataError) as err:
        fail_where(frame, pl.col("qty") < 0, source="f.csv", field="qty",
                   message=lambda v: f"value {v!r} is negative")
    assert str(err.value) == "file f.csv, row 3, field qty: value -3.0 is negative"
    fail_where(frame, pl.col("qty") > 5, source="f.csv", field="qty", message="never")


def test_one_strict_base_for_project_models() -> None:
    for model in (commodities.Commodity, commodities.ProductionSource, registry.Citation,
                  registry.StatusPeriod, price_mapping.SourceSpec, comtrade.Options):
        assert issubclass(model, Strict), model
        assert model.model_config["extra"] == "forbid" and model.model_config["frozen"]


def test_yaml_loaders_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "commodities.yaml"
    bad.write_text("antimony: {name: Sb, hs: {HS92: {'261710': ore}}, concordance: x, "
                   "production: {source: usgs, unit: t}}\n")
    with pytest.raises(DataError, match=r"commodities.yaml, field antimony.production.basis"):
        load_yaml_mapping(bad, commodities.Commodity)
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text("as_of: 2025-01-01\ndocuments: []\n")
    with pytest.raises(DataError, match=r"matrix.yaml, field documents"):
        load_matrix(matrix)


def test_one_code_revision_everywhere() -> None:
    revision = code_revision()
    if revision is None:
        pytest.skip("not a git checkout: there is no revision to compare")
    assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", revision)
    assert vintages.code_revision() == revision == data.git_revision()


def test_one_redaction_marker(monkeypatch) -> None:
    assert _runlog.REDACTED == REDACTED
    from chokehold.config import load_settings

    monkeypatch.setenv("COMTRADE_API_KEY", "SENTINEL-7781")
    redact = _runlog.Redactor(load_settings())
    assert redact("GET https://x/?subscription-key=SENTINEL-7781") == \
        f"GET https://x/?subscription-key={REDACTED}"
