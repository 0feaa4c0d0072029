"""Project YAML files validated by a pydantic model: errors name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chokehold.errors import DataError

Model = TypeVar("Model", bound=BaseModel)


def load_yaml_model(path: Path, model: type[Model], *, id_is_stem: bool = True) -> Model:
    """Parse ``path`` as one ``model`` whose ``id`` must equal the file name's stem (unless
    ``id_is_stem`` is False: a file that is not one of a folder of named records)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot parse YAML: {exc}", source=path) from exc
    if not isinstance(raw, dict):
        raise DataError("expected a mapping of fields", source=path)
    try:
        parsed = model(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(file)"
        raise DataError(err["msg"], source=path, field=field) from exc
    if id_is_stem and parsed.id != path.stem:
        raise DataError(f"id {parsed.id!r} differs from the file name {path.stem!r}",
                        source=path, field="id")
    return parsed
