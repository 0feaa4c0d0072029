"""Option values coerced without pydantic where typer's own helpers suffice.

Typer (0.29) coerces every option through a pydantic ``TypeAdapter``, so any command, even one
left at its defaults, pays for importing pydantic (~0.1 s of ``chokehold status``). A value
that already has its type (a default), an Enum or Literal choice, a path or a string is coerced
here with the same typer helpers those adapters call; anything else (numbers, dates, lists, a
bad choice, whose message typer words) goes to typer's adapter as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer.core
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_choice, coerce_cli_path, lenient_issubclass
from typer._typing import is_literal_type, literal_values


@dataclass(frozen=True)
class LightRuntimeParam(RuntimeParam):
    """typer's coercion of one parameter, without pydantic for the common cases."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        annotation, info = self.annotation, self.parameter_info
        if info.parser is None and not self.descriptor.is_file:
            if lenient_issubclass(annotation, Enum) or is_literal_type(annotation):
                choices = (list(annotation) if lenient_issubclass(annotation, Enum)
                           else literal_values(annotation))
                try:
                    return coerce_cli_choice(value, choices=choices,
                                             case_sensitive=info.case_sensitive, ctx=ctx)
                except ValueError:
                    pass  # typer's adapter words the error
            elif annotation is str and isinstance(value, str):
                return value
            elif self.descriptor.is_path and isinstance(value, (str, Path)):
                path_type = info.path_type or (annotation if lenient_issubclass(annotation, Path)
                                               else None)
                if path_type is not None and lenient_issubclass(path_type, Path):
                    value = path_type(value)
                if path_type is None or isinstance(value, Path):
                    return coerce_cli_path(value, info, path_type=path_type, param=param,
                                           ctx=ctx)
        return build_runtime_param(self.descriptor)._coerce_value(value, param, ctx)


def lighten(command: Any, ctx: Any) -> Any:
    """``command`` (a click command or group, recursively) with light coercion on its params,
    its help option included (``ctx`` names the help options)."""
    for param in command.get_params(ctx):
        if isinstance(param, typer.core._TyperParameter) and param._runtime_param is None:
            d = param.type_descriptor
            param._runtime_param = LightRuntimeParam(d.parameter_info, d.annotation, d)
    for sub in getattr(command, "commands", {}).values():
        lighten(sub, ctx)
    return command
