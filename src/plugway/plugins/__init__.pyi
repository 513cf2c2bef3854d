from ._breaker import BreakerSettings
from ._context import SecurityContext
from ._contract import PLUGIN_BASE_TYPE_ID, ContractVersion, EmptyProperties, PluginContract
from ._discovery import PLUGINS_GROUP, PluginDeclaration, PluginSetup
from ._gateway import DEFAULT_TIMEOUT, Gateway
from ._manager import GatewayManager
from ._module import GatewayModule
from ._outcome import Attempt, CallOutcome
from ._plugin_view import PluginView
from ._revisions import RoutingRevision
from ._spec import PluginSpec
from .errors import GatewayCallError, NoPluginAvailableError, PluginError

__all__ = [
    "DEFAULT_TIMEOUT",
    "PLUGINS_GROUP",
    "PLUGIN_BASE_TYPE_ID",
    "Attempt",
    "BreakerSettings",
    "CallOutcome",
    "ContractVersion",
    "EmptyProperties",
    "Gateway",
    "GatewayCallError",
    "GatewayManager",
    "GatewayModule",
    "NoPluginAvailableError",
    "PluginContract",
    "PluginDeclaration",
    "PluginError",
    "PluginSetup",
    "PluginSpec",
    "PluginView",
    "RoutingRevision",
    "SecurityContext",
]
