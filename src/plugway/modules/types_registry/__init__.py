"""The ``types_registry`` system module: the REST face of the Types Registry.

Routes live under ``/types-registry/v1/`` (list with filters and a cursor, bulk register with a
result per item, get by id). Every route answers ``503 registry.not_ready`` until the registry has
switched to ready, so a client never sees the half-validated configuration phase. Unlike
HyperSpot, unknown query parameters and malformed patterns are refused, never ignored.
"""

from __future__ import annotations

from ._answers import entity_to_dict
from ._module import TypesRegistryConfig, TypesRegistryModule
from ._routes import build_router

__all__ = [
    "TypesRegistryConfig",
    "TypesRegistryModule",
    "build_router",
    "entity_to_dict",
]
