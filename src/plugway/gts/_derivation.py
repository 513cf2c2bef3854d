"""OP#12: type derivation validation over whole chains ``A~ -> A~B~ -> A~B~C~``.

Rule: a derived type must be no looser than any of its ancestors — every instance of the
child must be an instance of each ancestor. A derived schema is written as
``allOf: [{$ref: parent}, overlay]``; its *own part* is everything except the reference to
the chain. Each own part is compared with the own part of every ancestor (checking against
each ancestor separately is the same as checking against their intersection).

How a child is judged no looser than an ancestor: :mod:`._looser`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugway.gts._chain import check_no_final_ancestor, find_ref_cycle, type_chain
from plugway.gts._effective import SchemaBudget, SchemaInliner
from plugway.gts._errors import GtsError, GtsSchemaError, GtsValidationError
from plugway.gts._looser import ANNOTATIONS, Comparer, merge
from plugway.gts._metaschema import check_metaschema
from plugway.gts._refs import (
    MAX_SCHEMA_DEPTH,
    SchemaResolver,
    check_schema_document,
    gts_ref_target,
)

__all__ = ["validate_type_derivation"]


def _load(type_id: str, resolver: SchemaResolver, role: str) -> Mapping[str, Any]:
    doc = resolver(type_id)
    if doc is None:
        raise GtsValidationError(f"{role} type schema {type_id} is not registered")
    if not isinstance(doc, Mapping):
        raise GtsValidationError(f"{role} type schema {type_id} is not a JSON object")
    return doc


# --- own parts: inlined, merged views of one schema ------------------------------------------


def _keep(key: str) -> bool:
    """Keywords that constrain instances (``x-gts-ref`` is kept, resolved to an id)."""
    return key not in ANNOTATIONS and (key == "x-gts-ref" or not key.startswith("x-gts-"))


def _inliner(resolver: SchemaResolver, budget: SchemaBudget) -> SchemaInliner:
    """Recursive references stay as markers, which compare equal only to the same marker."""
    return SchemaInliner(resolver, budget, on_cycle="mark", keep=_keep, xref=True)


def _own_part(type_id: str, doc: Mapping[str, Any], chain: set[str], inliner: SchemaInliner) -> Any:
    """``doc`` minus its references to types of its own chain, inlined and merged."""
    parts: list[Any] = []

    def collect(node: Mapping[str, Any], depth: int) -> None:
        if depth > MAX_SCHEMA_DEPTH:
            raise GtsValidationError(f"schema {type_id} nests allOf deeper than {MAX_SCHEMA_DEPTH}")
        ref = node.get("$ref")
        if isinstance(ref, str) and gts_ref_target(ref) in chain:
            return
        top = {k: v for k, v in node.items() if k != "allOf"}
        parts.append(inliner.inline(top, doc, type_id))
        entries = node.get("allOf")
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, Mapping):
                    collect(entry, depth + 1)
                else:
                    parts.append(entry)

    collect(doc, 0)
    merged: Any = True
    for part in parts:
        merged = merge(merged, part, inliner.budget)
    return merged


def validate_type_derivation(type_id: str, resolver: SchemaResolver) -> None:
    """OP#12 (+ OP#13): raise ``GtsValidationError`` unless the whole chain is sound.

    Checks, in order: every schema of the chain is registered and well-formed, no ancestor
    is final, no ``gts://`` ``$ref`` cycle, every link no looser than each of its ancestors,
    then the traits of the type (OP#13).
    """
    from plugway.gts._traits import validate_traits

    chain = type_chain(type_id)
    docs = [_load(t, resolver, "ancestor" if t != type_id else "the") for t in chain]
    for t, doc in zip(chain, docs, strict=True):
        try:
            check_schema_document(doc, strict=False)
            check_metaschema(doc, "the schema")
        except GtsSchemaError as exc:
            raise GtsValidationError(f"{t}: {exc}") from exc
    check_no_final_ancestor(type_id, resolver)
    for t in chain:
        cycle = find_ref_cycle(t, resolver)
        if cycle is not None:
            raise GtsValidationError(f"{t}: cyclic $ref: {' -> '.join(cycle)}")
    if len(chain) > 1:
        # One inliner and one budget for the whole chain: every ancestor's parts are inlined
        # once and shared by every comparison.
        budget = SchemaBudget(type_id)
        inliner = _inliner(resolver, budget)
        chain_set = set(chain)
        comparer = Comparer(budget)
        try:
            own = [_own_part(t, d, chain_set, inliner) for t, d in zip(chain, docs, strict=True)]
            found = _first_looser(comparer, own)
        except GtsValidationError:
            raise
        except GtsError as exc:
            raise GtsValidationError(str(exc)) from exc
        if found is not None:
            i, j, where, reason = found
            raise GtsValidationError(
                f"{chain[i]} is looser than its ancestor {chain[j]} at {where or '<root>'}: "
                f"{reason}"
            )
    validate_traits(type_id, resolver)


def _first_looser(comparer: Comparer, own: list[Any]) -> tuple[int, int, str, str] | None:
    """The first (child, ancestor) pair of the chain where the child is looser, or None."""
    for i in range(1, len(own)):
        for j in range(i):
            found = comparer.looser(own[i], own[j], "")
            if found is not None:
                return i, j, *found
    return None
