"""Project YAML files validated by a pydantic model: errors name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chokehold.errors import DataError

Model = TypeVar("Model", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that an impossible date (``2023-31-12``) is a YAML error
    with its line, not a bare ValueError from ``datetime.date``."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> object:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a date ({exc}; write YYYY-MM-DD)",
                node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def safe_load(text: str) -> object:
    """``yaml.safe_load`` whose errors are all ``yaml.YAMLError`` (with line and column)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def yaml_problem(exc: Exception) -> str:
    """One line for a YAML error: the line and column, and what is wrong there."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return " ".join(str(exc).split())


def load_yaml_model(path: Path, model: type[Model]) -> Model:
    """Parse ``path`` as one ``model`` whose ``id`` must equal the file name's stem."""
    try:
        raw = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot parse YAML: {yaml_problem(exc)}", source=path) from None
    if not isinstance(raw, dict):
        raise DataError("expected a mapping of fields", source=path)
    try:
        parsed = model(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(file)"
        raise DataError(err["msg"], source=path, field=field) from exc
    if parsed.id != path.stem:
        raise DataError(f"id {parsed.id!r} differs from the file name {path.stem!r}",
                        source=path, field="id")
    return parsed
