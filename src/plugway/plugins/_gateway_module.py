"""Transitional: the names ``plugway.plugins`` imported from here before the split.

The module glue now lives in ``_module`` (GatewayModule, PluginView), the process-wide owner in
``_manager`` (GatewayManager), the settings in ``_settings`` (PluginsSettings, GatewaySettings,
PluginOptions). Delete this file once ``plugway/plugins/__init__.py`` imports from those.
"""

from __future__ import annotations

from ._breaker import BreakerSettings as BreakerConfig
from ._manager import GatewayManager
from ._module import GatewayModule, PluginView
from ._settings import GatewaySettings, PluginsSettings, parse_plugins_settings
from ._settings import PluginOptions as PluginSettings

__all__ = [
    "BreakerConfig",
    "GatewayManager",
    "GatewayModule",
    "GatewaySettings",
    "PluginSettings",
    "PluginView",
    "PluginsSettings",
    "parse_plugins_settings",
]
