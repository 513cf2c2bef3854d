"""The ``plugins`` section of the settings: gateways, their plugins' options, breaker, watching.

The section is owned by this layer (``PlugwaySettings.plugins`` holds it raw); it is validated
here, at start-up and on every reload of the config file, so each problem is named by its full
path (``plugins.gateways.doc_search.breaker.threshold``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._breaker import BreakerSettings
from ._errors import RoutingConfigError, RoutingProblem, error_path
from ._gateway import DEFAULT_TIMEOUT
from ._lag import DEFAULT_LAG_THRESHOLD

__all__ = [
    "GatewaySettings",
    "PluginOptions",
    "PluginsSettings",
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


class GatewaySettings(_Section):
    """``plugins.gateways.<gateway>``: routing document, plugin options, breaker, deadline.

    ``routing`` None means the gateway module's ``default_routing``; ``default_timeout`` is the
    deadline of a call (seconds) when the routing sets no ``timeout``.
    """

    routing: dict[str, Any] | None = None
    plugins: dict[str, PluginOptions] = Field(default_factory=dict)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    default_timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)


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
        problems = [
            RoutingProblem("plugins." + error_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()
        ]
        raise RoutingConfigError(problems) from None
