"""Property tests: whatever a client sends, the store answers or raises GtsError."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugway.gts import GtsError, GtsStore

BASE = "gts.x.prop.events.event.v1~"
_ids = st.sampled_from(
    [BASE, BASE + "x.prop._.leaf.v1~", BASE + "x.prop._.item.v1", "gts.x.prop", "plain", ""]
)
_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | _ids
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "type", "$ref", "x-gts-ref", "allOf", "properties", "p", "q"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "$id",
        "$schema",
        "id",
        "type",
        "gtsId",
        "allOf",
        "properties",
        "required",
        "x-gts-final",
        "x-gts-abstract",
        "x-gts-traits",
        "x-gts-traits-schema",
        "additionalProperties",
        "payload",
    ]
)
_docs = st.dictionaries(_keys, _json | _ids.map(lambda i: f"gts://{i}"), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(st.tuples(_docs, st.booleans()), max_size=6), probe=_ids)
def test_store_operations_raise_only_gts_errors(
    docs: list[tuple[dict[str, Any], bool]], probe: str
) -> None:
    store = GtsStore()
    store.register(
        {
            "$id": f"gts://{BASE}",
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
        }
    )
    for doc, validate in docs:
        with contextlib.suppress(GtsError):
            store.register(doc, validate=validate)
    for gts_id in [*store.ids(), probe]:
        outcome = store.validate_entity(gts_id)
        assert isinstance(outcome.ok, bool)
        calls: list[Callable[[str], object]] = [
            store.validate_instance,
            store.validate_type_schema,
            store.resolve_relationships,
            lambda i: store.cast(i, BASE),
            lambda i: store.attr(i + "@id"),
            lambda i: store.compatibility(i, BASE),
            store.query,
        ]
        for call in calls:
            with contextlib.suppress(GtsError):
                call(gts_id)
