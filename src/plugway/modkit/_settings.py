"""Settings: one YAML file, a section per module, environment overrides, validated up front.

Every section refuses unknown keys and every problem is reported with its dotted path
(``modules.doc_search.config.max_results``), all at once, before any module runs. YAML
duplicate keys are refused too (PyYAML would keep the last one silently).

Environment overrides: ``PLUGWAY__<A>__<B>__...=value`` sets ``a.b...`` (segments are
lowercased), e.g. ``PLUGWAY__SERVER__PORT=9000`` or
``PLUGWAY__MODULES__DOC_SEARCH__CONFIG__MAX_RESULTS=20``. A value is read as a YAML scalar
(``20`` is an int, ``true`` a bool, ``null`` None); anything that is not a scalar in YAML
(``[::1]``, ``a: b``) is kept as the literal string.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from plugway.modkit._errors import ConfigError, ConfigProblem
from plugway.modkit._field_path import field_path
from plugway.modkit._yaml import kind_of, read_yaml_mapping

ENV_PREFIX = "PLUGWAY__"
DATA_DIR_ENV = "PLUGWAY_DATA_DIR"
DEFAULT_DATA_DIR = ".plugway"
_MODULE_NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    """Where the HTTP server listens, who may change state, and what one client may use.

    ``admin_token`` None means the server chooses (the embedded default generates one; with a
    config file, changes are refused unless ``allow_unauthenticated_writes``). ``host_token``
    is for plugin hosts started by hand: it may only register plugin instances (None: no such
    token; supervised hosts get a token per launch instead, limited to their own plugins).
    ``allowed_hosts``
    None means ``localhost``, ``127.0.0.1``, ``::1`` and ``host``; ``*`` allows any ``Host``.
    Sizes are bytes, timeouts seconds.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8087, ge=0, le=65535)
    admin_token: str | None = None
    host_token: str | None = None
    allow_unauthenticated_writes: bool = False
    allowed_hosts: tuple[str, ...] | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    keep_alive_timeout: int = Field(default=5, ge=1)
    max_connections: int = Field(default=512, ge=1)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``PLUGWAY__SERVER__ALLOWED_HOSTS=a.example,b.example``: a list from one variable."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _host_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("give at least one host name, or '*' for any")
        for name in value:
            if not name or any(c.isspace() or c in "/@" for c in name):
                raise ValueError(f"{name!r} is not a host name")
        return tuple(name.lower() for name in value)


class RegistrySettings(_Section):
    """The Types Registry backend; ``path`` (sqlite) is relative to ``data_dir``; ``url``
    (postgresql, ``postgresql://user:password@host:port/db``) alone selects postgresql. The URL
    is checked when the registry opens, so that no message here can echo its password."""

    backend: Literal["memory", "sqlite", "postgresql"] = "sqlite"
    path: Path | None = None
    url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _url_selects_postgresql(cls, value: Any) -> Any:
        """``PLUGWAY__REGISTRY__URL=postgresql://…`` is enough: no backend key needed."""
        if isinstance(value, Mapping) and value.get("url") is not None and "backend" not in value:
            return {**value, "backend": "postgresql"}
        return value


class LifecycleSettings(_Section):
    """Time limits, in seconds, of the lifecycle phases of each module.

    ``phase_timeout`` bounds each module's init, post_init and start; ``grace_period`` is how
    long a background task has to end by itself once its cancellation event is set;
    ``cancel_timeout`` how long it then has to honour task cancellation; ``stop_timeout``
    bounds the module's ``stop``.
    """

    phase_timeout: float = Field(default=30.0, gt=0)
    grace_period: float = Field(default=10.0, ge=0)
    cancel_timeout: float = Field(default=5.0, gt=0)
    stop_timeout: float = Field(default=10.0, gt=0)


class ModuleSettings(_Section):
    """A module's section: whether it runs and its raw config (validated by its own model)."""

    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("config", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


def _default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


class PlugwaySettings(_Section):
    """The whole validated configuration. Modules not listed in ``modules`` are enabled with
    an empty config; ``plugins`` is owned and validated by the plugins layer."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    data_dir: Path = Field(default_factory=_default_data_dir)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    modules: dict[str, ModuleSettings] = Field(default_factory=dict)
    plugins: dict[str, Any] = Field(default_factory=dict)
    config_path: Path | None = Field(default=None, exclude=True)
    """The file these settings were read from (set by ``load_settings``, never by the file
    itself): the plugins layer watches it for routing edits."""

    _env_origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def env_origins(self) -> Mapping[str, str]:
        """Dotted key -> the ``PLUGWAY__...`` variable that set it, so a problem found later
        (a module's own config model) can name the variable too."""
        return MappingProxyType(self._env_origins)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Relative to the working directory at load time, so a later chdir changes nothing."""
        return value.expanduser().absolute()

    @field_validator("modules", mode="before")
    @classmethod
    def _null_sections(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("modules", mode="after")
    @classmethod
    def _module_names(cls, value: dict[str, ModuleSettings]) -> dict[str, ModuleSettings]:
        for name in value:
            if _MODULE_NAME_RE.fullmatch(name) is None:
                raise ValueError(f"invalid module name {name!r}: use lowercase snake_case")
        return value

    @field_validator("plugins", mode="before")
    @classmethod
    def _null_plugins(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def registry_path(self) -> Path | None:
        """The SQLite file of the registry (None for the memory backend)."""
        if self.registry.backend != "sqlite":
            return None
        path = self.registry.path or Path("registry.sqlite3")
        return path if path.is_absolute() else self.data_dir / path

    def module(self, name: str) -> ModuleSettings:
        """The section of module ``name``; the default (enabled, empty config) if absent."""
        return self.modules.get(name) or ModuleSettings()


def load_settings(
    path: Path | str | None = None, env: Mapping[str, str] | None = None
) -> PlugwaySettings:
    """Read ``path`` (YAML; None means the embedded default: no file, all defaults), apply
    ``PLUGWAY__...`` overrides from ``env`` (default: ``os.environ``) and validate.

    Raises ConfigError listing every problem with its dotted path.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    source = None if path is None else str(path)
    raw: Any = {}
    if path is not None:
        raw = read_yaml_mapping(Path(path))
    if "config_path" in raw:
        raise ConfigError(
            [ConfigProblem("config_path", "is set by plugway from --config, not by the file")],
            source,
        )
    settings = parse_settings(raw, env=environ, source=source)
    if path is None:
        return settings
    return settings.model_copy(update={"config_path": Path(path).expanduser().absolute()})


def parse_settings(
    data: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    source: str | None = None,
) -> PlugwaySettings:
    """Validate an already-read config mapping (with ``env`` overrides applied if given)."""
    raw: dict[str, Any] = _deep_copy(data)
    origins: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    if env is not None:
        _apply_env(raw, env, origins, problems)
        if "data_dir" not in raw:
            # The default comes from the env given, never from os.environ behind its back.
            raw["data_dir"] = env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    if problems:
        raise ConfigError(problems, source)
    try:
        settings = PlugwaySettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, origins=origins), source) from None
    settings._env_origins.update(origins)
    return settings


def validation_problems(
    exc: ValidationError, *, prefix: str = "", origins: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """Turn a pydantic ValidationError into problems with dotted paths under ``prefix``."""
    problems = []
    for err in exc.errors():
        path = field_path((prefix, *err["loc"]) if prefix else err["loc"])
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = f"{err['msg']} (got {_short(err.get('input'))})"
        origin = _origin_of(path, origins or {})
        if origin:
            message += f" (set by {origin})"
        problems.append(ConfigProblem(path, message))
    return problems


def _apply_env(
    raw: dict[str, Any],
    env: Mapping[str, str],
    origins: dict[str, str],
    problems: list[ConfigProblem],
) -> None:
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in var[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            problems.append(ConfigProblem(var, "empty key segment in environment variable"))
            continue
        node: dict[str, Any] = raw
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                problems.append(
                    ConfigProblem(
                        where, f"is {kind_of(child)}, so {var} cannot set a key inside it"
                    )
                )
                break
            node = child
        else:
            node[keys[-1]] = _env_value(env[var])
            origins[".".join(keys)] = var


def _env_value(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None and text.strip() not in ("", "~", "null", "Null", "NULL"):
        return text
    if isinstance(value, (datetime.date, list, dict)) or not isinstance(
        value, (str, int, float, bool, type(None))
    ):
        return text
    return value


def _origin_of(path: str, origins: Mapping[str, str]) -> str | None:
    for key, var in origins.items():
        if path == key or path.startswith(key + ".") or path.startswith(key + "["):
            return var
    return None


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
