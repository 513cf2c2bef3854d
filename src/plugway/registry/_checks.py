"""The checks of one entity against a GTS store, for the registry's two phases.

The instance's type first (the clearest message), then the store's strict registration, the
parent type and ``gts://`` references (read in from the backend when another writer of a
shared backend, a replica, registered them after this registry loaded), then the whole-entity
checks (OP#6, OP#12/OP#13 traits) over the chain.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from plugway.gts import GtsError, GtsStore, collect_gts_refs

from ._backend import EntityRow, RegistryBackend

__all__ = ["EntityChecks"]

_MAX_PULL_DEPTH = 32  # types read in from a shared backend for one validation


class EntityChecks:
    """Validates entities against a store, pulling in types a shared backend holds."""

    def __init__(self, backend: RegistryBackend, log: logging.Logger) -> None:
        self._backend = backend
        self._log = log

    def validate(self, store: GtsStore, row: EntityRow, content: dict[str, Any]) -> str | None:
        """Every check for one entity against everything in ``store``; None when it passes.

        The instance's type is checked first (the clearest message); then the store's strict
        registration (schema rules, ``$ref`` targets, final/abstract, derivation, OP#6), then
        a safety net on ``gts://`` references, then OP#12/OP#13 (traits) over the chain.
        """
        try:
            if not row.is_type and row.type_id is not None and not self.known(store, row.type_id):
                return f"type {row.type_id} is not registered"
            try:
                store.register(content, validate=True)
            except GtsError as exc:
                return str(exc)
            if row.is_type:
                problem = self._check_references(store, row, content)
                if problem is not None:
                    return problem
            return self._check_entity(store, row.gts_id)
        except Exception as exc:  # a fault in a checker must not escape as a non-registry error
            self._log.exception("validating %s failed unexpectedly", row.gts_id)
            return f"validation failed unexpectedly: {type(exc).__name__}: {exc}"

    def known(self, store: GtsStore, type_id: str) -> bool:
        """Whether ``type_id`` is registered; a type another writer of a shared backend (a
        replica) registered after this registry loaded is read from the backend on first need."""
        return store.schema(type_id) is not None or self._pull(store, type_id, 0)

    def _pull(self, store: GtsStore, gts_id: str, depth: int) -> bool:
        stored = self._backend.get(gts_id) if depth < _MAX_PULL_DEPTH else None
        if stored is None or not stored.row.is_type:
            return False
        doc = json.loads(stored.row.content)
        # its parent types and the schemas it refers to, as a load at ready would have them
        chain = gts_id[:-1].split("~")
        needed = ["~".join(chain[: i + 1]) + "~" for i in range(len(chain) - 1)]
        try:
            refs = collect_gts_refs(doc)
        except GtsError:
            return False  # not a schema this store would take (its register says why)
        for ref in [*needed, *refs]:
            if ref and ref != gts_id and store.schema(ref) is None:
                self._pull(store, ref, depth + 1)
        try:
            store.register(doc)
        except GtsError:
            return False
        return True

    def _check_references(
        self, store: GtsStore, row: EntityRow, doc: Mapping[str, Any]
    ) -> str | None:
        """The parent type and every ``gts://`` $ref must be registered (clear messages first)."""
        if row.type_id is not None and not self.known(store, row.type_id):
            what = "parent type" if row.is_type else "type"
            return f"{what} {row.type_id} is not registered"
        if row.is_type:
            missing = sorted(
                {
                    ref
                    for ref in collect_gts_refs(doc)
                    if ref and ref != row.gts_id and not self.known(store, ref)
                }
            )
            if missing:
                return (
                    "$ref to unregistered entit"
                    + ("y " if len(missing) == 1 else "ies ")
                    + (", ".join(missing))
                )
        return None

    def _check_entity(self, store: GtsStore, gts_id: str) -> str | None:
        """The GTS store's whole-entity checks (OP#6 / OP#12 / OP#13 traits)."""
        try:
            result = store.validate_entity(gts_id)
        except GtsError as exc:
            return str(exc)
        if not result.ok:
            return str(result.error) or "validation failed"
        return None
