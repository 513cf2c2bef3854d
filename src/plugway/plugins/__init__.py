"""plugway.plugins: typed plugin contracts, per-request routing, gateways with hot swap."""

from __future__ import annotations

from ._breaker import BreakerSettings, BreakerState, CircuitBreaker
from ._context import SecurityContext
from ._contract import (
    PLUGIN_BASE_TYPE_ID,
    ContractMethod,
    ContractVersion,
    EmptyProperties,
    PluginContract,
)
from ._errors import (
    ContractDefinitionError,
    GatewayCallError,
    NoPluginAvailableError,
    PluginContractError,
    PluginError,
    PluginPropertiesError,
    PluginVersionError,
    RevisionNotFoundError,
    RoutingConfigError,
    RoutingProblem,
    UnknownPluginError,
)
from ._gateway import Gateway, PluginStatus
from ._hashing import N_BUCKETS, key_hash, rendezvous_choice, rollout_bucket, salt_state
from ._metrics import CallSeries, GaugeSample, Metrics, render_prometheus
from ._revisions import (
    MemoryRevisionStore,
    RevisionStore,
    RevisionStoreError,
    RoutingRevision,
    SqliteRevisionStore,
)
from ._router import Decision, Explanation, Router
from ._routing import (
    Match,
    Rollout,
    RoutingConfig,
    RoutingRule,
    Split,
    Target,
    Variant,
    parse_routing,
)
from ._spec import PluginInstance, PluginSpec, bind_plugin

__all__ = [
    "N_BUCKETS",
    "PLUGIN_BASE_TYPE_ID",
    "BreakerSettings",
    "BreakerState",
    "CallSeries",
    "CircuitBreaker",
    "ContractDefinitionError",
    "ContractMethod",
    "ContractVersion",
    "Decision",
    "EmptyProperties",
    "Explanation",
    "Gateway",
    "GatewayCallError",
    "GaugeSample",
    "Match",
    "MemoryRevisionStore",
    "Metrics",
    "NoPluginAvailableError",
    "PluginContract",
    "PluginContractError",
    "PluginError",
    "PluginInstance",
    "PluginPropertiesError",
    "PluginSpec",
    "PluginStatus",
    "PluginVersionError",
    "RevisionNotFoundError",
    "RevisionStore",
    "RevisionStoreError",
    "Rollout",
    "Router",
    "RoutingConfig",
    "RoutingConfigError",
    "RoutingProblem",
    "RoutingRevision",
    "RoutingRule",
    "SecurityContext",
    "Split",
    "SqliteRevisionStore",
    "Target",
    "UnknownPluginError",
    "Variant",
    "bind_plugin",
    "key_hash",
    "parse_routing",
    "render_prometheus",
    "rendezvous_choice",
    "rollout_bucket",
    "salt_state",
]
