from ._breaker import BreakerSettings
from ._context import SecurityContext
from ._contract import PLUGIN_BASE_TYPE_ID, ContractVersion, EmptyProperties, PluginContract
from ._discovery import PLUGINS_GROUP, PluginDeclaration, PluginSetup
from ._errors import (
    ContractDefinitionError,
    GatewayCallError,
    InvalidContextError,
    NoPluginAvailableError,
    PluginContractError,
    PluginError,
    PluginPropertiesError,
    PluginVersionError,
    RevisionNotFoundError,
    RoutingConfigError,
    UnknownPluginError,
)
from ._gateway import DEFAULT_TIMEOUT, Gateway
from ._manager import GatewayManager
from ._module import GatewayModule
from ._outcome import Attempt, CallOutcome
from ._plugin_view import PluginView
from ._remote import RemoteHost, RemotePlugin
from ._revisions import RoutingRevision
from ._spec import PluginSpec
from ._wire import RemotePluginError

__all__ = [
    "DEFAULT_TIMEOUT",
    "PLUGINS_GROUP",
    "PLUGIN_BASE_TYPE_ID",
    "Attempt",
    "BreakerSettings",
    "CallOutcome",
    "ContractDefinitionError",
    "ContractVersion",
    "EmptyProperties",
    "Gateway",
    "GatewayCallError",
    "GatewayManager",
    "GatewayModule",
    "InvalidContextError",
    "NoPluginAvailableError",
    "PluginContract",
    "PluginContractError",
    "PluginDeclaration",
    "PluginError",
    "PluginPropertiesError",
    "PluginSetup",
    "PluginSpec",
    "PluginVersionError",
    "PluginView",
    "RemoteHost",
    "RemotePlugin",
    "RemotePluginError",
    "RevisionNotFoundError",
    "RoutingConfigError",
    "RoutingRevision",
    "SecurityContext",
    "UnknownPluginError",
]
