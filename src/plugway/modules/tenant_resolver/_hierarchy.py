"""The tenant tree kept in memory by the static plugin: lookups and barrier-aware traversal.

Semantics follow HyperSpot's static tenant resolver: ancestors are ordered from the direct
parent to the root and stop at (after including) a self-managed tenant; a self-managed start
tenant sees no ancestors; descendants are pre-order and a self-managed child or one filtered out
by status is skipped together with its subtree; a tenant is never its own ancestor; parent
cycles in the data are cut, never followed forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from plugway.modules.tenant_resolver._models import (
    BarrierMode,
    TenantInfo,
    TenantNotFoundError,
    TenantRef,
    TenantStatus,
    matches_status,
)

__all__ = ["TenantTree"]


class TenantTree:
    """Immutable tenant map plus a children index."""

    __slots__ = ("_children", "_tenants")

    def __init__(self, tenants: Iterable[TenantInfo]) -> None:
        self._tenants: dict[str, TenantInfo] = {}
        for t in tenants:
            self._tenants[t.id] = t
        children: dict[str, list[str]] = {}
        for t in self._tenants.values():
            if t.parent_id is not None:
                children.setdefault(t.parent_id, []).append(t.id)
        self._children = {k: tuple(v) for k, v in children.items()}

    def __len__(self) -> int:
        return len(self._tenants)

    def get(self, tenant_id: str) -> TenantInfo:
        try:
            return self._tenants[tenant_id]
        except KeyError:
            raise TenantNotFoundError(tenant_id) from None

    def get_many(self, ids: Iterable[str], statuses: frozenset[TenantStatus]) -> list[TenantInfo]:
        """Known ids only, first occurrence kept, in request order."""
        seen: set[str] = set()
        out: list[TenantInfo] = []
        for tid in ids:
            if tid in seen:
                continue
            seen.add(tid)
            t = self._tenants.get(tid)
            if t is not None and matches_status(t.status, statuses):
                out.append(t)
        return out

    def ancestors(self, tenant_id: str, barrier: BarrierMode) -> list[TenantRef]:
        return [parent.ref() for parent in self._above(self.get(tenant_id), barrier)]

    def _above(self, start: TenantInfo, barrier: BarrierMode) -> Iterator[TenantInfo]:
        """The tenants above ``start``, nearest first: a self-managed tenant sees none when the
        barrier is respected, and the walk stops at (and includes) a self-managed ancestor; a
        missing parent or a cycle in the config ends it."""
        if barrier is BarrierMode.RESPECT and start.self_managed:
            return
        visited = {start.id}
        parent_id = start.parent_id
        while parent_id is not None and parent_id not in visited:
            visited.add(parent_id)
            parent = self._tenants.get(parent_id)
            if parent is None:
                return
            yield parent
            if barrier is BarrierMode.RESPECT and parent.self_managed:
                return
            parent_id = parent.parent_id

    def descendants(
        self,
        tenant_id: str,
        statuses: frozenset[TenantStatus],
        barrier: BarrierMode,
        max_depth: int | None,
    ) -> list[TenantRef]:
        self.get(tenant_id)
        return self._preorder(tenant_id, statuses, barrier, max_depth)

    def _preorder(
        self,
        tenant_id: str,
        statuses: frozenset[TenantStatus],
        barrier: BarrierMode,
        max_depth: int | None,
    ) -> list[TenantRef]:
        out: list[TenantRef] = []
        visited = {tenant_id}

        def walk(parent_id: str, depth: int) -> None:
            if max_depth is not None and depth > max_depth:
                return
            for child_id in self._children.get(parent_id, ()):
                if child_id in visited:
                    continue
                visited.add(child_id)
                child = self._tenants[child_id]
                if barrier is BarrierMode.RESPECT and child.self_managed:
                    continue
                if not matches_status(child.status, statuses):
                    continue
                out.append(child.ref())
                walk(child_id, depth + 1)

        walk(tenant_id, 1)
        return out

    def is_ancestor(self, ancestor_id: str, descendant_id: str, barrier: BarrierMode) -> bool:
        self.get(ancestor_id)
        descendant = self.get(descendant_id)
        if ancestor_id == descendant_id:
            return False
        return any(parent.id == ancestor_id for parent in self._above(descendant, barrier))
