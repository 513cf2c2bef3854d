"""Effective schemas: each $ref target inlined once (memo), all work under one budget.

The work is counted, not timed: a resolver that counts its look-ups (and gives up past a
bound, so a regression fails fast instead of running for minutes) shows whether a chain of
schemas that each refer to their parent twice is inlined once per schema or once per path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from plugway.gts import (
    GtsSchemaError,
    GtsStore,
    GtsValidationError,
    check_compatibility,
    effective_traits,
    validate_type_derivation,
)
from plugway.gts._effective import (
    GtsSchemaBudgetError,
    SchemaBudget,
    SchemaInliner,
    budgeted_json,
    expanded_size,
)

DRAFT7 = "http://json-schema.org/draft-07/schema#"
BASE = "gts.x.test.chain.base.v1~"


def chain(depth: int) -> dict[str, dict[str, Any]]:
    """``depth`` derived types, each ``allOf`` [its parent, a property that is its parent]."""
    docs: dict[str, dict[str, Any]] = {
        BASE: {
            "$id": f"gts://{BASE}",
            "$schema": DRAFT7,
            "type": "object",
            "properties": {"name": {"type": "string"}},
        }
    }
    parent = BASE
    for level in range(1, depth + 1):
        type_id = f"{parent}x.test.chain.l{level}.v1~"
        docs[type_id] = {
            "$id": f"gts://{type_id}",
            "$schema": DRAFT7,
            "allOf": [
                {"$ref": f"gts://{parent}"},
                {"type": "object", "properties": {f"p{level}": {"$ref": f"gts://{parent}"}}},
            ],
        }
        parent = type_id
    return docs


class CountingResolver:
    """Looks schemas up and counts it; past ``limit`` look-ups it stops the caller."""

    def __init__(self, docs: Mapping[str, Mapping[str, Any]], limit: int) -> None:
        self._docs = docs
        self.limit = limit
        self.calls = 0

    def __call__(self, type_id: str) -> Mapping[str, Any] | None:
        self.calls += 1
        if self.calls > self.limit:
            raise AssertionError(
                f"more than {self.limit} schema look-ups: inlining is not memoised"
            )
        return self._docs.get(type_id)


def test_a_19_deep_self_referring_chain_is_inlined_once_per_schema() -> None:
    docs = chain(19)
    leaf = list(docs)[-1]
    # Linear: a few look-ups per schema and per check; a per-path inliner needs 2**19.
    resolver = CountingResolver(docs, limit=20_000)
    validate_type_derivation(leaf, resolver)
    budget = SchemaBudget(leaf)
    inlined = SchemaInliner(docs.get, budget).inline(docs[leaf], docs[leaf], leaf)
    assert budget.spent < 200, budget.spent
    # The result is shared, not copied: written out it would be exponentially larger.
    assert expanded_size(inlined, SchemaBudget(leaf, limit=10**9)) > 2**19


def test_the_chain_registers_through_the_store() -> None:
    store = GtsStore()
    for doc in chain(19).values():
        store.register(doc, validate=True)
    assert len(store) == 20


def test_restating_a_shared_exploding_property_compares_each_part_once() -> None:
    # Ten properties at each of 30 levels point at the next level: 10**30 paths.
    docs: dict[str, Any] = {}
    for level in range(30):
        nxt = {"$ref": f"gts://gts.x.boom.l{level + 1}.t.v1~"} if level < 29 else {"type": "string"}
        docs[f"gts.x.boom.l{level}.t.v1~"] = {
            "$id": f"gts://gts.x.boom.l{level}.t.v1~",
            "type": "object",
            "properties": {f"p{i}": nxt for i in range(10)},
        }
    boom = {"$ref": "gts://gts.x.boom.l0.t.v1~"}
    base, child = "gts.x.test.boom.base.v1~", "gts.x.test.boom.base.v1~x.test.boom.child.v1~"
    docs[base] = {"$id": f"gts://{base}", "type": "object", "properties": {"x": boom}}
    docs[child] = {
        "$id": f"gts://{child}",
        "allOf": [{"$ref": f"gts://{base}"}, {"type": "object", "properties": {"x": boom}}],
    }
    validate_type_derivation(child, CountingResolver(docs, limit=5_000))


def test_an_over_budget_schema_is_refused_naming_it() -> None:
    docs = chain(19)
    leaf = list(docs)[-1]
    with pytest.raises(GtsSchemaBudgetError, match=r"gts\.x\.test\.chain\.base\.v1~.*more than 50"):
        SchemaInliner(docs.get, SchemaBudget(leaf, limit=50)).inline(docs[leaf], docs[leaf], leaf)
    # A schema that really is too big (more distinct subschemas than the budget) is refused
    # at registration with the same error, its id named, instead of being walked.
    big_id = f"{BASE}x.test.chain.big.v1~"
    big = {
        "$id": f"gts://{big_id}",
        "$schema": DRAFT7,
        "allOf": [
            {"$ref": f"gts://{BASE}"},
            {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(60_000)}},
        ],
    }
    store = GtsStore()
    store.register(docs[BASE], validate=True)
    with pytest.raises(GtsValidationError, match=r"x\.test\.chain\.big\.v1~.*expands to more than"):
        store.register(big, validate=True)
    assert big_id not in store


def test_writing_out_a_shared_part_is_paid_per_occurrence() -> None:
    shared: dict[str, Any] = {"type": "string"}
    for _ in range(40):
        shared = {"allOf": [shared, shared]}
    with pytest.raises(GtsSchemaBudgetError, match="owner"):
        budgeted_json(shared, SchemaBudget("owner", limit=1000))
    assert budgeted_json({"a": [1, 2]}, SchemaBudget("owner")) == '{"a":[1,2]}'


def test_recursive_refs_are_marked_or_refused() -> None:
    tree = "gts.x.test.tree.node.v1~"
    doc = {
        "$id": f"gts://{tree}",
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
    }
    marked = SchemaInliner({tree: doc}.get, SchemaBudget(tree), on_cycle="mark").inline(
        doc, doc, tree
    )
    inner = marked["properties"]["children"]["items"]
    assert inner["properties"]["children"]["items"] == {"$ref": f"{tree}#"}
    with pytest.raises(GtsSchemaError, match="cyclic"):
        SchemaInliner({tree: doc}.get, SchemaBudget(tree)).inline(doc, doc, tree)


def test_compatibility_and_traits_use_the_memoised_inliner() -> None:
    docs = chain(19)
    leaf = list(docs)[-1]
    minor = leaf.replace("l19.v1~", "l19.v1.1~")
    docs[minor] = {**docs[leaf], "$id": f"gts://{minor}"}
    report = check_compatibility(leaf, minor, CountingResolver(docs, limit=2_000))
    assert report.is_fully_compatible, report
    traits = effective_traits(leaf, CountingResolver(docs, limit=2_000))
    assert traits.schemas == ()
