"""One settings object for the whole toolkit.

Precedence, highest first: explicit arguments (e.g. ``--warehouse``), environment variables
(``CHOKEHOLD_*``, plus ``COMTRADE_API_KEY`` and ``COMTRADE_BASE_URL``), a ``chokehold.toml`` in
the working directory (or the file named by ``CHOKEHOLD_CONFIG``), then the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _config_file() -> Path:
    return Path(os.environ.get("CHOKEHOLD_CONFIG", "chokehold.toml"))


class Settings(BaseSettings):
    """Paths, connector endpoints and limits; every field can be set by env var or TOML."""

    model_config = SettingsConfigDict(env_prefix="CHOKEHOLD_", extra="forbid", frozen=True)

    warehouse: Path = Field(
        default=PROJECT_ROOT / "data" / "warehouse.duckdb",
        description="The DuckDB warehouse file.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Project data: commodities.yaml, controls/, bundled/, prices/, scenarios/.",
    )
    raw_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "raw",
        description="Raw downloads, each with a .meta.json sidecar (sha256, URL, fetch time).",
    )
    prices_dir: Path | None = Field(
        default=None,
        description="Vendor price files (CSV/XLSX) that the mappings in data/prices/*.yaml read; "
        "default: <raw_dir>/prices.",
    )
    comtrade_base_url: str = Field(
        default="https://comtradeapi.un.org",
        validation_alias=AliasChoices("comtrade_base_url", "COMTRADE_BASE_URL"),
        description="UN Comtrade API root; point it at a mirror or a local test server.",
    )
    comtrade_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("comtrade_api_key", "COMTRADE_API_KEY"),
        description="Comtrade subscription key; without it the keyless preview endpoint is used.",
    )
    baci_base_url: str = Field(
        default="https://www.cepii.fr/DATA_DOWNLOAD/baci/data",
        description="Where CEPII publishes the BACI release zips (BACI_<revision>_<release>.zip); "
        "`chokehold fetch baci` downloads from here.",
    )
    duckdb_memory_limit: str = Field(
        default="2GB", pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$",
        description="Memory cap for DuckDB during refreshes; larger jobs spill to disk.",
    )
    http_timeout_s: float = Field(default=60.0, gt=0)
    http_max_retries: int = Field(default=6, ge=0)
    comtrade_min_interval_s: float = Field(
        default=1.0, ge=0, description="Minimum seconds between Comtrade requests (rate limit)."
    )
    # Scheduled refresh (pipelines/refresh.py, chokehold/vintages.py).
    refresh_lock_wait_s: float = Field(
        default=0.0, ge=0,
        description="How long a refresh waits for another running refresh before giving up.",
    )
    refresh_log: Path = Field(
        description="Log file every refresh appends to, secrets redacted "
        "(default: logs/refresh.log beside the warehouse).",
    )
    vintages_dir: Path = Field(
        description="Published vintages, <id>/manifest.json, digest.md and Parquet snapshots "
        "(default: vintages/ beside the warehouse).",
    )
    vintage_keep_last: int = Field(
        default=12, ge=1, description="Retention: keep the last N published vintages ..."
    )
    vintage_keep_quarter_ends: bool = Field(
        default=True, description="... and the last vintage of every calendar quarter."
    )
    refresh_plan: Path = Field(
        description="What `chokehold refresh` runs with no arguments: sources and their options "
        "(default: <data_dir>/refresh.yaml; see pipelines/plan.py).",
    )
    scenarios_dir: Path = Field(
        description="Scenario definitions, NAME.yaml (default: <data_dir>/scenarios).",
    )
    reports_dir: Path = Field(
        default=PROJECT_ROOT / "reports",
        description="The Quarto project: the .qmd documents, _quarto.yml and _brand/.",
    )
    matrix_file: Path = Field(
        description="The standard pack `chokehold render --all` renders "
        "(default: <reports_dir>/matrix.yaml).",
    )
    lake_dir: Path | None = Field(
        default=None,
        description="The lake: bulk tables (BACI) as immutable Parquet partitions, _current.json "
        "and the small-table snapshots vintages share (default: lake/ beside the warehouse).",
    )
    hs_revision: str | None = Field(
        default=None, pattern=r"^HS\d\d$",
        description="HS revision to read when a period holds several (e.g. HS17); default: "
        "the newest revision that covers the period.",
    )
    diff_tolerance: float = Field(
        default=0.001, ge=0,
        description="Relative change below which `chokehold diff` does not call a value revised.",
    )

    @model_validator(mode="before")
    @classmethod
    def _beside_the_warehouse(cls, data: Any) -> Any:
        """Logs and vintages default to folders beside the warehouse they belong to; the plan
        and scenarios to the data folder, the matrix to the reports folder."""
        if isinstance(data, dict):
            folder = Path(data.get("warehouse") or cls.model_fields["warehouse"].default).parent
            data.setdefault("refresh_log", folder / "logs" / "refresh.log")
            data.setdefault("vintages_dir", folder / "vintages")
            data_dir = Path(data.get("data_dir") or cls.model_fields["data_dir"].default)
            data.setdefault("refresh_plan", data_dir / "refresh.yaml")
            data.setdefault("scenarios_dir", data_dir / "scenarios")
            reports = Path(data.get("reports_dir") or cls.model_fields["reports_dir"].default)
            data.setdefault("matrix_file", reports / "matrix.yaml")
        return data

    @property
    def lake_root(self) -> Path:
        return self.lake_dir or self.warehouse.parent / "lake"

    @property
    def controls_dir(self) -> Path:
        return self.data_dir / "controls"

    @property
    def commodities_file(self) -> Path:
        return self.data_dir / "commodities.yaml"

    @property
    def bundled_dir(self) -> Path:
        return self.data_dir / "bundled"

    @property
    def price_files_dir(self) -> Path:
        return self.prices_dir or self.raw_dir / "prices"

    @property
    def price_mappings_dir(self) -> Path:
        return self.data_dir / "prices"

    @property
    def vat_file(self) -> Path:
        return self.data_dir / "vat_rates.yaml"

    @property
    def sources_file(self) -> Path:
        return self.data_dir / "sources.yaml"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


SECRET_ENV = ("COMTRADE_API_KEY", "CHOKEHOLD_COMTRADE_API_KEY")
"""Environment variables that hold secrets: never handed to a child process."""


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` (its alias where it has one)."""
    alias = Settings.model_fields[field].validation_alias
    names = getattr(alias, "choices", None)
    return str(names[-1]) if names else f"CHOKEHOLD_{field.upper()}"


def settings_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which ``load_settings()`` resolves to ``settings`` (every field, so a
    report kernel or Quarto sees what the CLI saw), secrets left out."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k.upper() not in SECRET_ENV}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None or isinstance(value, SecretStr):
            continue
        env[env_name(name)] = str(value)
    env["CHOKEHOLD_CONFIG"] = str(_config_file().resolve())
    return env


def load_settings(**overrides: Any) -> Settings:
    """Settings with explicit overrides (None values are ignored, so CLI defaults fall through).

    A malformed chokehold.toml, an unknown key or a bad value raises ChokeholdError naming the
    file or environment variable, the key, and what is valid."""
    from chokehold.errors import ChokeholdError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except tomllib.TOMLDecodeError as exc:
        raise ChokeholdError(f"{_config_file()}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ChokeholdError(_settings_problem(exc.errors()[0], overrides)) from None


def _settings_problem(error: Any, overrides: dict[str, Any]) -> str:
    """One line for the first invalid setting: where it was set, the key, what is valid."""
    key = str(error["loc"][0]) if error["loc"] else "?"
    if error["type"] == "extra_forbidden":
        valid = ", ".join(sorted(Settings.model_fields))
        return f"{_config_file()}: unknown key {key!r}; valid keys: {valid}"
    env = [name for name in (f"CHOKEHOLD_{key.upper()}", key.upper()) if name in os.environ]
    where = (f"option --{key.replace('_', '-')}" if overrides.get(key) is not None
             else f"environment variable {env[0]}" if env else f"{_config_file()}: key {key!r}")
    field = Settings.model_fields.get(key)
    hint = f" ({field.description})" if field is not None and field.description else ""
    return f"{where}: {error['msg']} (got {error.get('input')!r}){hint}"
