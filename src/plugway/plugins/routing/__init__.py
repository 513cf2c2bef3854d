"""plugway.plugins.routing: the routing document a gateway serves, and how it decides.

Write routing as a mapping (YAML, JSON) or with these models; ``parse_routing`` validates it
whole and names each bad field by path. ``Router`` is a document compiled against a plugin set:
``decide`` and ``explain`` are one interpretation of the rules (explain adds a trace).
"""

from __future__ import annotations

from ._decision import Decision, Explanation
from ._hashing import N_BUCKETS, key_hash, rendezvous_choice, rollout_bucket, salt_state
from ._models import (
    BASIS_POINTS,
    MAX_RULES,
    Match,
    Rollout,
    RoutingConfig,
    RoutingRule,
    Split,
    Target,
    Variant,
    parse_routing,
)
from ._router import Router

__all__ = [
    "BASIS_POINTS",
    "MAX_RULES",
    "N_BUCKETS",
    "Decision",
    "Explanation",
    "Match",
    "Rollout",
    "Router",
    "RoutingConfig",
    "RoutingRule",
    "Split",
    "Target",
    "Variant",
    "key_hash",
    "parse_routing",
    "rendezvous_choice",
    "rollout_bucket",
    "salt_state",
]
