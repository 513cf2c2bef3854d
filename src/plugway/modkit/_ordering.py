"""Deterministic dependency order.

HyperSpot sorts modules with Kahn's algorithm over a hash map, so two modules with no edge
between them come up in a different order from run to run. Here the queue of modules whose
dependencies are all placed is a heap keyed by name: the result is the lexicographically
smallest topological order, the same on every run whatever the input order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from plugway.modkit._errors import DependencyCycleError, UnknownDependencyError


def topological_order(graph: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """Order ``graph`` (module name -> names it depends on) so every module follows its deps.

    Ties are broken by name. Raises UnknownDependencyError for a dependency that is not a key
    of ``graph`` (the first one by module name, then dependency name) and DependencyCycleError
    with the cycle's path for a cycle.
    """
    deps: dict[str, tuple[str, ...]] = {
        name: tuple(sorted(set(graph[name]))) for name in sorted(graph)
    }
    for name, needed in deps.items():
        for dep in needed:
            if dep not in deps:
                raise UnknownDependencyError(name, dep)

    remaining = {name: len(needed) for name, needed in deps.items()}
    dependents: dict[str, list[str]] = {name: [] for name in deps}
    for name, needed in deps.items():
        for dep in needed:
            dependents[dep].append(name)

    ready = [name for name, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for dependent in dependents[name]:
            remaining[dependent] -= 1
            if remaining[dependent] == 0:
                heapq.heappush(ready, dependent)

    if len(order) != len(deps):
        placed = set(order)
        raise DependencyCycleError(_find_cycle({n: d for n, d in deps.items() if n not in placed}))
    return tuple(order)


def _find_cycle(deps: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Return one cycle as a path ``[a, b, ..., a]``, found deterministically.

    ``deps`` holds only the modules Kahn's algorithm could not place; every one of them
    depends on at least one other of them, so following the smallest such dependency from
    the smallest name must come back to a node already on the path.
    """
    start = min(deps)
    path = [start]
    seen = {start: 0}
    node = start
    while True:
        node = min(d for d in deps[node] if d in deps)
        if node in seen:
            cycle = path[seen[node] :]
            # Rotate so the cycle starts at its smallest name: the message is stable.
            pivot = cycle.index(min(cycle))
            cycle = cycle[pivot:] + cycle[:pivot]
            return [*cycle, cycle[0]]
        seen[node] = len(path)
        path.append(node)
