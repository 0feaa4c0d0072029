"""Project YAML files validated by pydantic models: errors name the file and the field.

``Strict`` is the base of every model read from a project file (unknown fields are errors,
parsed values are frozen); ``load_yaml_model`` reads one model per file (its ``id`` is the
file's stem), ``load_yaml_mapping`` a file of ``id: {fields}`` entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from chokehold.errors import DataError


class Strict(BaseModel):
    """A model of project data: unknown fields are errors, values are frozen once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


def read_yaml(path: Path) -> Any:
    """The parsed YAML of ``path``; unreadable or malformed files name the file and line."""
    try:
        return safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot parse YAML: {yaml_problem(exc)}", source=path) from None


def validation_error(exc: ValidationError, path: Path | str, *prefix: object) -> DataError:
    """The first pydantic error as a DataError naming the file and the dotted field."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in (*prefix, *err["loc"])) or "(file)"
    return DataError(err["msg"], source=path, field=field)


def validate(model: type[Model], raw: Any, path: Path | str, *prefix: object) -> Model:
    """``model`` from ``raw`` (a mapping), errors naming ``path`` and the field."""
    if not isinstance(raw, dict):
        raise DataError("expected a mapping of fields", source=path,
                        field=".".join(map(str, prefix)) or None)
    try:
        return model(**raw)
    except ValidationError as exc:
        raise validation_error(exc, path, *prefix) from exc


def load_yaml_model(path: Path, model: type[Model], *, id_is_stem: bool = True) -> Model:
    """Parse ``path`` as one ``model`` whose ``id`` must equal the file name's stem (unless
    ``id_is_stem`` is False: a file that is not one of a folder of named records)."""
    parsed = validate(model, read_yaml(path), path)
    if id_is_stem and parsed.id != path.stem:
        raise DataError(f"id {parsed.id!r} differs from the file name {path.stem!r}",
                        source=path, field="id")
    return parsed


def load_yaml_mapping(path: Path, model: type[Model]) -> dict[str, Model]:
    """Parse ``path`` as ``id: {fields}`` entries, each a ``model`` given its ``id``."""
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise DataError("expected a mapping of ids to entries", source=path)
    return {key: validate(model, {"id": key, **(body if isinstance(body, dict) else {})},
                          path, key) for key, body in raw.items()}
