"""The answers of the admin API, as response models: OpenAPI shows them, FastAPI checks them.

Each model lists exactly the members the route returns (no defaults), so validating the answer
changes nothing on the wire; a route that drifted from its model fails loudly (a 500 the API fuzz
test reports) instead of documenting one shape and sending another.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from plugway.server import problem_responses

__all__ = [
    "BulkExplanation",
    "Discovery",
    "ExplanationOut",
    "GatewayDetail",
    "GatewayList",
    "PluginRemoved",
    "Rescan",
    "Revisions",
    "RolledBack",
    "RoutingApplied",
    "gateway_problems",
]


class PluginSummary(BaseModel):
    id: str
    vendor: str
    priority: int
    version: str


class PluginDetail(PluginSummary):
    defaulted: list[str] = Field(description="methods served by the contract's default")
    health: str
    circuit: str
    failures: int
    entry_point: str | None
    distribution: str | None


class PluginFailure(BaseModel):
    """A plugin left out, the stage at which it failed and why."""

    name: str
    value: str
    distribution: str | None
    stage: Literal["import", "declaration", "setup", "contract", "registration"]
    error: str
    plugin_id: str | None
    gateway: str | None


class GatewaySummary(BaseModel):
    name: str
    contract_id: str
    contract_version: str
    revision: int
    plugins: list[PluginSummary]


class GatewayList(BaseModel):
    gateways: list[GatewaySummary]
    discovery_failures: list[PluginFailure]


class GatewayDetail(BaseModel):
    name: str
    contract_id: str
    contract_version: str
    revision: int
    plugins: list[PluginDetail]
    routing: dict[str, Any] = Field(description="the routing document now serving")
    warnings: list[str]
    registered_without_implementation: list[str]
    failures: list[PluginFailure]
    config_error: str | None


class DiscoveredPlugin(BaseModel):
    name: str
    value: str
    distribution: str | None
    plugin_id: str
    contract_id: str


class Discovery(BaseModel):
    plugins: list[DiscoveredPlugin]
    failures: list[PluginFailure]


class RescannedPlugin(BaseModel):
    name: str
    plugin_id: str
    gateway: str
    host: str | None = Field(
        default=None,
        description="the supervised plugin host that serves it (`out_of_process`); "
        "null: in process",
    )


class Rescan(BaseModel):
    found: list[str] = Field(description="entry points new since the last scan")
    gone: list[str] = Field(description="entry points whose package is gone")
    added: list[RescannedPlugin]
    removed: list[RescannedPlugin]
    failures: list[PluginFailure]


class RoutingApplied(BaseModel):
    revision: int
    routing: dict[str, Any]
    warnings: list[str] = Field(
        default_factory=list, description="live replicas without a plugin routed to"
    )


class Revision(BaseModel):
    revision: int
    created_at: str = Field(description="ISO 8601, UTC")
    who: str
    what: str
    routing: dict[str, Any]


class Revisions(BaseModel):
    current: int
    revisions: list[Revision] = Field(description="newest first")


class RolledBack(BaseModel):
    revision: int = Field(description="the new revision, now serving")
    restored: int = Field(description="the revision whose routing it restores")
    routing: dict[str, Any]


class PluginRemoved(BaseModel):
    removed: str
    revision: int


class ExplanationOut(BaseModel):
    """Why a context goes to a plugin: the rule that chose it, each rule's verdict, the rest."""

    gateway: str
    plugin: str | None
    rule: str | None
    rule_index: int | None
    reason: str
    steps: list[str]
    fallbacks: list[str]
    shadow: str | None
    circuit: str | None
    revision: int


class BulkExplanation(BaseModel):
    """The plugin serving each value: ``assignments[i]`` indexes ``plugins`` for ``values[i]``."""

    revision: int
    plugins: list[str | None]
    assignments: list[int]
    counts: dict[str, int]


_GATEWAY_PROBLEMS: tuple[tuple[int, str], ...] = (
    (404, "`plugins.gateway_not_found`: no gateway has this name"),
    (503, "`plugins.not_ready`: the plugins runtime or this gateway is not started"),
)


def gateway_problems(*more: tuple[int, str], one_gateway: bool = True) -> dict[int | str, Any]:
    """The problem responses of a route (on one gateway unless ``one_gateway`` is False), and
    ``more`` of its own; reasons given for the same status are joined."""
    reasons: dict[int, list[str]] = {}
    for status, why in (_GATEWAY_PROBLEMS if one_gateway else _GATEWAY_PROBLEMS[1:]) + more:
        reasons.setdefault(status, []).append(why)
    return problem_responses(*((s, "; or ".join(w)) for s, w in sorted(reasons.items())))
