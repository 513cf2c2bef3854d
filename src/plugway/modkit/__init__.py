"""plugway.modkit — modules, their lifecycle, the ClientHub and configuration (layer 3).

Declare a module with ``@module(name=..., deps=..., config=...)`` on a ``Module`` subclass;
a ``Runtime`` orders the enabled modules deterministically, validates their config, and runs
init -> registry ready -> post_init -> start, and stop in reverse with a grace window.
"""

from __future__ import annotations

from plugway.modkit._clienthub import ClientHub
from plugway.modkit._context import ModuleContext
from plugway.modkit._discovery import (
    MODULES_GROUP,
    DiscoveryFailure,
    DiscoveryResult,
    discover_modules,
    scan_modules,
)
from plugway.modkit._errors import (
    ClientAlreadyRegisteredError,
    ClientHubError,
    ClientNotFoundError,
    ConfigError,
    ConfigProblem,
    DependencyCycleError,
    InvalidClientError,
    ModkitError,
    ModuleDeclarationError,
    ModulePhaseError,
    RegistryActivationError,
    RuntimeStateError,
    UnknownDependencyError,
)
from plugway.modkit._module import (
    BackgroundCapable,
    EmptyConfig,
    Module,
    ModuleConfig,
    ModuleSpec,
    RestCapable,
    module,
    module_spec,
)
from plugway.modkit._ordering import topological_order
from plugway.modkit._runtime import ModulePhase, Runtime, StopOutcome
from plugway.modkit._settings import (
    DATA_DIR_ENV,
    ENV_PREFIX,
    LifecycleSettings,
    ModuleSettings,
    PlugwaySettings,
    RegistrySettings,
    ServerSettings,
    load_settings,
    parse_settings,
)

__all__ = [
    "DATA_DIR_ENV",
    "ENV_PREFIX",
    "MODULES_GROUP",
    "BackgroundCapable",
    "ClientAlreadyRegisteredError",
    "ClientHub",
    "ClientHubError",
    "ClientNotFoundError",
    "ConfigError",
    "ConfigProblem",
    "DependencyCycleError",
    "DiscoveryFailure",
    "DiscoveryResult",
    "EmptyConfig",
    "InvalidClientError",
    "LifecycleSettings",
    "ModkitError",
    "Module",
    "ModuleConfig",
    "ModuleContext",
    "ModuleDeclarationError",
    "ModulePhase",
    "ModulePhaseError",
    "ModuleSettings",
    "ModuleSpec",
    "PlugwaySettings",
    "RegistryActivationError",
    "RegistrySettings",
    "RestCapable",
    "Runtime",
    "RuntimeStateError",
    "ServerSettings",
    "StopOutcome",
    "UnknownDependencyError",
    "discover_modules",
    "load_settings",
    "module",
    "module_spec",
    "parse_settings",
    "scan_modules",
    "topological_order",
]
