"""Property tests: compatibility and casting answer (or raise GtsError) for any JSON schema."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.gts import GtsError
from plugway.gts._cast import cast_instance
from plugway.gts._compat import check_compatibility
from plugway.gts._subschema import is_subschema

OLD = "gts.x.prop.any.thing.v1.0~"
NEW = "gts.x.prop.any.thing.v1.1~"

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
_keywords = st.sampled_from(
    [
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "pattern",
        "allOf",
        "anyOf",
        "oneOf",
        "$ref",
        "default",
    ]
)


def _schemas() -> st.SearchStrategy[Any]:
    leaf = st.booleans() | st.fixed_dictionaries({"type": st.sampled_from(["string", "integer"])})
    return st.recursive(
        leaf,
        lambda inner: (
            st.dictionaries(_keywords, inner | _json, max_size=4)
            | st.fixed_dictionaries(
                {"properties": st.dictionaries(st.text(max_size=3), inner, max_size=3)}
            )
        ),
        max_leaves=10,
    )


@settings(max_examples=200, deadline=None)
@given(old=_schemas(), new=_schemas())
def test_compatibility_never_raises(old: Any, new: Any) -> None:
    docs = {
        OLD: {"$id": f"gts://{OLD}", "allOf": [old]}
        if not isinstance(old, dict)
        else {**old, "$id": f"gts://{OLD}"},
        NEW: {"$id": f"gts://{NEW}", "allOf": [new]}
        if not isinstance(new, dict)
        else {**new, "$id": f"gts://{NEW}"},
    }
    report = check_compatibility(OLD, NEW, docs.get)
    assert isinstance(report.is_backward_compatible, bool)
    if report.error == "":
        assert report.is_fully_compatible == (
            not report.backward_errors and not report.forward_errors
        )


@settings(max_examples=200, deadline=None)
@given(schema=_schemas())
def test_every_schema_includes_itself(schema: Any) -> None:
    with contextlib.suppress(GtsError):
        assert is_subschema(schema, schema) == [] or _has_composition(schema)


def _has_composition(schema: Any) -> bool:
    if isinstance(schema, dict):
        if {"anyOf", "oneOf", "allOf", "$ref"} & schema.keys():
            return True
        return any(_has_composition(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_composition(v) for v in schema)
    return False


@settings(max_examples=200, deadline=None)
@given(schema=_schemas(), instance=st.dictionaries(st.text(max_size=5), _json, max_size=4))
def test_cast_never_raises_anything_but_gts_errors(schema: Any, instance: dict[str, Any]) -> None:
    target = schema if isinstance(schema, dict) else {"allOf": [schema]}
    docs = {NEW: {**target, "$id": f"gts://{NEW}"}}
    try:
        result = cast_instance("i", instance, OLD, NEW, docs.get)
    except GtsError:
        return
    assert isinstance(result.casted_entity, dict)
