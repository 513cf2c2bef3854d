"""The ``plugins`` section of the settings: gateways, their plugins' options, breaker, watching.

The section is owned by this layer (``PlugwaySettings.plugins`` holds it raw); it is validated
here, at start-up and on every reload of the config file, so each problem is named by its full
path (``plugins.gateways.doc_search.breaker.threshold``).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._breaker import BreakerSettings
from ._gateway import DEFAULT_TIMEOUT
from ._host_credentials import DEFAULT_MAX_PLUGINS
from ._lag import DEFAULT_LAG_THRESHOLD
from ._problems import validation_problems
from .errors import RoutingConfigError

__all__ = [
    "GatewaySettings",
    "HostSettings",
    "PluginOptions",
    "PluginsSettings",
    "RestartSettings",
    "parse_plugins_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginOptions(_Section):
    """``plugins.gateways.<gateway>.plugins.<entry point name>``: how to run one plugin.

    ``vendor`` and ``priority`` override what the plugin declares; ``config`` is handed to its
    factory (``PluginSetup.config``).
    """

    enabled: bool = True
    vendor: str | None = None
    priority: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    isolation: Literal["inline", "thread"] = "inline"
    """``thread``: the plugin's calls run on an event loop of its own in a worker thread, so a
    plugin that blocks (``time.sleep``, CPU work) cannot stall the server and its calls keep
    their deadlines. True isolation is an out-of-process plugin."""
    out_of_process: bool = False
    """Serve this plugin in a plugin host process that plugway launches and supervises
    (``python -m plugway.cli._host <entry point> --registry <this server>``), under the same
    plugin id, instead of in this process: a switch by configuration only."""


class RestartSettings(_Section):
    """How a supervised host that exits is restarted: exponential backoff, in seconds."""

    backoff_initial: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)


HOST_ARG_PLACEHOLDERS = frozenset({"registry_url", "listen", "heartbeat"})
"""What a host's ``args`` may name in braces (the supervisor fills them in)."""


class HostSettings(_Section):
    """``plugins.gateways.<gateway>.hosts[]``: a plugin host plugway launches and supervises.

    ``entry_point`` (one or several ``plugway.plugins`` entry point names or
    ``module:attribute`` references) runs plugway's own host, ``python -m plugway.cli._host``,
    registered in this server's registry. ``executable`` + ``args`` run any other program that
    speaks the wire protocol; ``{registry_url}``, ``{listen}`` and ``{heartbeat}`` in ``args``
    are replaced. Either way the child gets ``PLUGWAY_PLUGIN_SECRET`` (generated per launch),
    ``PLUGWAY_TOKEN`` and ``PLUGWAY_REGISTRY_URL`` in its environment, never on its command line.
    ``nice`` lowers the host's CPU priority below the server's, so a busy or crash-looping host
    yields the CPU to the server; ``memory_limit_mb`` caps its address space, so a plugin that
    grows without bound fails in its own process; ``core_dumps`` (off) lets a crashing host write
    a core file, one per crash. ``max_plugins`` bounds the plugin ids the host may register,
    so a runaway host cannot fill the registry and the routing.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    executable: str | None = None
    args: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    entry_point: list[str] = Field(default_factory=list)
    listen: str = "127.0.0.1:0"
    heartbeat: float = Field(default=5.0, gt=0)
    start_timeout: float = Field(default=60.0, gt=0)
    stop_grace: float = Field(default=10.0, gt=0)
    restart: RestartSettings = Field(default_factory=RestartSettings)
    nice: int = Field(default=10, ge=0, le=19)
    memory_limit_mb: int | None = Field(default=None, ge=64)
    core_dumps: bool = False
    max_plugins: int = Field(default=DEFAULT_MAX_PLUGINS, ge=1, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _one_entry_point(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("entry_point"), str):
            data = {**data, "entry_point": [data["entry_point"]]}
        return data

    @field_validator("args")
    @classmethod
    def _known_placeholders(cls, args: list[str] | None) -> list[str] | None:
        for i, arg in enumerate(args or ()):
            try:
                names = {
                    name for _, name, _, _ in string.Formatter().parse(arg) if name is not None
                }
            except ValueError as exc:
                raise ValueError(f"args[{i}]: {exc} (write {{{{ and }}}} for braces)") from None
            unknown = sorted(names - HOST_ARG_PLACEHOLDERS)
            if unknown:
                known = ", ".join(f"{{{n}}}" for n in sorted(HOST_ARG_PLACEHOLDERS))
                raise ValueError(
                    f"args[{i}]: unknown placeholder {{{unknown[0]}}}; the known ones are {known}"
                    " (write {{ and }} for braces)"
                )
        return args

    @model_validator(mode="after")
    def _runs_something(self) -> HostSettings:
        if not self.entry_point and self.executable is None:
            raise ValueError("a host needs an entry_point or an executable")
        return self


class GatewaySettings(_Section):
    """``plugins.gateways.<gateway>``: routing document, plugin options, breaker, deadline.

    ``routing`` None means the gateway module's ``default_routing``; ``default_timeout`` is the
    deadline of a call (seconds) when the routing sets no ``timeout``.
    """

    routing: dict[str, Any] | None = None
    plugins: dict[str, PluginOptions] = Field(default_factory=dict)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    default_timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    hosts: list[HostSettings] = Field(default_factory=list)
    """Plugin hosts plugway launches and supervises for this gateway."""
    remote_secrets: dict[str, str] = Field(default_factory=dict)
    """Secrets of plugin hosts plugway does not launch, by endpoint URL or by plugin id."""
    remote_secret: str | None = None
    """The secret of every other such host (else ``$PLUGWAY_PLUGIN_SECRET``)."""


class PluginsSettings(_Section):
    """The ``plugins`` section.

    ``config_file`` names the file whose routing sections are watched (default: the file the
    settings were loaded from); ``watch_interval`` is its poll period in seconds;
    ``revisions_path`` (under the data folder unless absolute) holds the routing history.
    """

    gateways: dict[str, GatewaySettings] = Field(default_factory=dict)
    config_file: Path | None = None
    watch: bool = True
    watch_interval: float = Field(default=1.0, gt=0)
    revisions_path: Path = Path("plugins-routing.sqlite3")
    lag_threshold: float = Field(default=DEFAULT_LAG_THRESHOLD, gt=0)
    """Seconds the event loop may miss its heartbeat before the stall is named (log, /health)."""

    def gateway(self, name: str) -> GatewaySettings:
        """The settings of gateway ``name`` (defaults when the section does not name it)."""
        return self.gateways.get(name) or GatewaySettings()


def parse_plugins_settings(raw: Mapping[str, Any] | None) -> PluginsSettings:
    """Validate the ``plugins`` section; RoutingConfigError names each bad field by path."""
    try:
        return PluginsSettings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise RoutingConfigError(validation_problems(exc, ("plugins",))) from None
