"""The fleet in the admin API: ``GET /plugins/v1/fleet``, the check of a routing change against
the plugins every live replica has, and admin writes refused with 503 while the database is
unreachable (gateways keep serving; only changes need the database)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, params

from plugway.plugins import GatewayManager, GatewayModule, PluginError
from plugway.plugins._pg_revisions import DatabaseUnavailableError
from plugway.plugins._revisions import RevisionStoreError
from plugway.registry import RegistryStorageError
from plugway.server import ProblemError, problem_from_plugin_error

__all__ = ["WRITE_ERRORS", "add_fleet_routes", "check_fleet", "write_problem"]

RETRY_AFTER = {"Retry-After": "2"}
WRITE_ERRORS = (PluginError, RegistryStorageError)
"""What an admin write may raise: its own refusals, or a database that is gone."""


def database_problem(exc: Exception) -> ProblemError:
    """503 naming the database (its URL without password, as the store's message does)."""
    return ProblemError(
        503,
        "plugins.database_unavailable",
        f"{exc} (the running routing keeps serving; retry when the database is back)",
        headers=RETRY_AFTER,
    )


def write_problem(exc: PluginError | RegistryStorageError) -> ProblemError:
    """The problem for a failed admin write: 503 when the database is unreachable."""
    if isinstance(exc, DatabaseUnavailableError | RegistryStorageError):
        return database_problem(exc)
    return problem_from_plugin_error(exc)


def check_fleet(
    manager: GatewayManager, gw: GatewayModule, doc: dict[str, Any], *, allow_missing: bool
) -> list[str]:
    """Refuse (422 naming the replicas) a routing that routes to a plugin some live replicas
    lack, unless ``allow_missing``; then the warnings to return. Nothing without a fleet."""
    try:
        missing = manager.missing_in_fleet(gw, doc)
    except PluginError as exc:
        raise write_problem(exc) from None
    if not missing:
        return []
    named = "; ".join(f"replica {r} lacks {', '.join(ids)}" for r, ids in sorted(missing.items()))
    if not allow_missing:
        raise ProblemError(
            422,
            "plugins.missing_on_replicas",
            f"gateway {gw.gateway_name!r}: the routing names plugins that live replicas do not "
            f"have ({named}); install them there, or pass allow_missing=true to accept (those "
            "replicas then serve the rules' fallbacks)",
        )
    return [f"{named}: those replicas serve the rules' fallbacks instead"]


def add_fleet_routes(
    router: APIRouter,
    manager: Callable[[], GatewayManager],
    read: Sequence[params.Depends],
) -> None:
    """Add ``GET /fleet`` to the admin ``router``."""

    @router.get(
        "/fleet",
        dependencies=list(read),
        summary="The live replicas sharing this server's database: what each serves and has",
    )
    def fleet() -> dict[str, Any]:
        fl = manager().fleet
        if fl is None:
            return {"database": None, "replica_id": None, "connected": None, "replicas": []}
        try:
            replicas = fl.directory.live()
        except RevisionStoreError as exc:
            raise database_problem(exc) from None
        return {
            **fl.status(),
            "ttl": fl.directory.ttl,
            "replicas": [r.to_dict() for r in replicas],
        }
