"""The ``plugins_admin`` module: the admin REST API of gateways and plugins, under /plugins/v1/."""

from __future__ import annotations

from plugway.modules.plugins_admin._explain import MAX_BULK_BYTES, MAX_BULK_CHARS, MAX_BULK_VALUES
from plugway.modules.plugins_admin._module import PluginsAdminConfig, PluginsAdminModule

__all__ = [
    "MAX_BULK_BYTES",
    "MAX_BULK_CHARS",
    "MAX_BULK_VALUES",
    "PluginsAdminConfig",
    "PluginsAdminModule",
]
