"""OP#8: minor-version compatibility, one test per row of the spec's change table and more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from plugway.gts._compat import CompatibilityReport, check_compatibility, same_type_family
from plugway.gts._errors import GtsSchemaError
from plugway.gts._subschema import effective_schema, is_subschema

OLD = "gts.x.shop.orders.order.v1.0~"
NEW = "gts.x.shop.orders.order.v1.1~"


def _schema(type_id: str, props: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "$id": f"gts://{type_id}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": dict(props),
        **extra,
    }


def _compare(old: dict[str, Any], new: dict[str, Any]) -> CompatibilityReport:
    docs = {OLD: old, NEW: new}
    return check_compatibility(OLD, NEW, docs.get)


def _flags(report: CompatibilityReport) -> tuple[bool, bool, bool]:
    assert report.error == ""
    return (
        report.is_backward_compatible,
        report.is_forward_compatible,
        report.is_fully_compatible,
    )


BASE = {"order_id": {"type": "string"}}


@pytest.mark.parametrize(
    ("label", "old", "new", "expected"),
    [
        (
            "optional property added to an open model",
            _schema(OLD, BASE, required=["order_id"]),
            _schema(OLD, {**BASE, "note": {"type": "string"}}, required=["order_id"]),
            (True, True, True),
        ),
        (
            "optional property removed from an open model",
            _schema(OLD, {**BASE, "note": {"type": "string"}}, required=["order_id"]),
            _schema(OLD, BASE, required=["order_id"]),
            (True, True, True),
        ),
        (
            "only descriptions and examples edited",
            _schema(OLD, {"order_id": {"type": "string", "description": "a"}}),
            _schema(OLD, {"order_id": {"type": "string", "description": "b", "examples": ["x"]}}),
            (True, True, True),
        ),
        (
            "optional property added to a closed model",
            _schema(OLD, BASE, additionalProperties=False),
            _schema(OLD, {**BASE, "note": {"type": "string"}}, additionalProperties=False),
            (True, False, False),
        ),
        (
            "required property made optional",
            _schema(OLD, BASE, required=["order_id"]),
            _schema(OLD, BASE),
            (True, False, False),
        ),
        (
            "enum value removed (the spec table calls this backward compatible)",
            _schema(OLD, {"state": {"type": "string", "enum": ["new", "paid", "void"]}}),
            _schema(OLD, {"state": {"type": "string", "enum": ["new", "paid"]}}),
            (True, False, False),
        ),
        (
            "number type widened from integer to number",
            _schema(OLD, {"qty": {"type": "integer"}}),
            _schema(OLD, {"qty": {"type": "number"}}),
            (True, False, False),
        ),
        (
            "maximum relaxed",
            _schema(OLD, {"qty": {"type": "integer", "maximum": 10}}),
            _schema(OLD, {"qty": {"type": "integer", "maximum": 100}}),
            (True, False, False),
        ),
        (
            "optional property removed from a closed model",
            _schema(OLD, {**BASE, "note": {"type": "string"}}, additionalProperties=False),
            _schema(OLD, BASE, additionalProperties=False),
            (False, True, False),
        ),
        (
            "optional property made required",
            _schema(OLD, BASE),
            _schema(OLD, BASE, required=["order_id"]),
            (False, True, False),
        ),
        (
            "enum value added (the spec table calls this forward compatible)",
            _schema(OLD, {"state": {"type": "string", "enum": ["new", "paid"]}}),
            _schema(OLD, {"state": {"type": "string", "enum": ["new", "paid", "void"]}}),
            (False, True, False),
        ),
        (
            "number type narrowed to integer",
            _schema(OLD, {"qty": {"type": "number"}}),
            _schema(OLD, {"qty": {"type": "integer"}}),
            (False, True, False),
        ),
        (
            "minLength tightened",
            _schema(OLD, {"code": {"type": "string", "minLength": 1}}),
            _schema(OLD, {"code": {"type": "string", "minLength": 3}}),
            (False, True, False),
        ),
        (
            "required property added to a closed model",
            _schema(OLD, BASE, required=["order_id"], additionalProperties=False),
            _schema(
                OLD,
                {**BASE, "total": {"type": "number"}},
                required=["order_id", "total"],
                additionalProperties=False,
            ),
            (False, False, False),
        ),
        (
            "incompatible type change",
            _schema(OLD, {"total": {"type": "number"}}, required=["total"]),
            _schema(OLD, {"total": {"type": "string"}}, required=["total"]),
            (False, False, False),
        ),
        (
            "property renamed in a closed model",
            _schema(
                OLD, {"total": {"type": "number"}}, required=["total"], additionalProperties=False
            ),
            _schema(
                OLD, {"amount": {"type": "number"}}, required=["amount"], additionalProperties=False
            ),
            (False, False, False),
        ),
    ],
)
def test_change_table(
    label: str, old: dict[str, Any], new: dict[str, Any], expected: tuple[bool, bool, bool]
) -> None:
    assert _flags(_compare(old, new)) == expected, label


def test_new_required_field_in_an_open_model_is_forward_but_not_backward_compatible() -> None:
    old = _schema(OLD, BASE, required=["order_id"])
    new = _schema(OLD, {**BASE, "extra": {"type": "string"}}, required=["order_id", "extra"])
    report = _compare(old, new)
    assert not report.is_backward_compatible
    assert report.is_forward_compatible
    assert any("extra" in e for e in report.backward_errors)


def test_nested_objects_and_array_items_are_compared_recursively() -> None:
    item = {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}
    old = _schema(OLD, {"lines": {"type": "array", "items": item}})
    wider = {**item, "properties": {"sku": {"type": "string"}, "label": {"type": "string"}}}
    assert _flags(_compare(old, _schema(OLD, {"lines": {"type": "array", "items": wider}}))) == (
        True,
        True,
        True,
    )
    stricter = {**item, "required": ["sku", "qty"], "properties": {"sku": {"type": "string"}}}
    report = _compare(old, _schema(OLD, {"lines": {"type": "array", "items": stricter}}))
    assert not report.is_backward_compatible
    assert any("lines[]" in e and "qty" in e for e in report.backward_errors)


def test_self_naming_const_that_only_bumps_the_minor_version_stays_compatible() -> None:
    old = _schema(OLD, {"type": {"const": OLD}})
    new = _schema(OLD, {"type": {"const": NEW}})
    assert _flags(_compare(old, new)) == (True, True, True)
    other = _schema(OLD, {"type": {"const": "gts.x.shop.orders.refund.v1.0~"}})
    assert _flags(_compare(old, other)) == (False, False, False)


def test_effective_schema_follows_gts_refs_and_all_of() -> None:
    base_id = "gts.x.shop.events.event.v1~"
    base = _schema(base_id, {"id": {"type": "string"}}, required=["id"], additionalProperties=False)
    child = {
        "$id": "gts://gts.x.shop.events.event.v1~x.shop.orders.placed.v1.0~",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "allOf": [
            {"$ref": f"gts://{base_id}"},
            {"properties": {"total": {"type": "number", "maximum": 5}}, "required": ["total"]},
        ],
    }
    flat = effective_schema(child, {base_id: base}.get)
    assert flat["additionalProperties"] is False
    assert set(flat["required"]) == {"id", "total"}
    assert flat["properties"]["total"]["maximum"] == 5


def test_cyclic_and_missing_refs_are_reported_not_recursed() -> None:
    a = {"$id": "gts://gts.x.a.b.c.v1~", "allOf": [{"$ref": "gts://gts.x.a.b.c.v1~"}]}
    with pytest.raises(GtsSchemaError, match="cyclic"):
        effective_schema(a, {"gts.x.a.b.c.v1~": a}.get)
    dangling = {"$id": "gts://gts.x.a.b.d.v1~", "allOf": [{"$ref": "gts://gts.x.a.b.zz.v1~"}]}
    with pytest.raises(Exception, match=r"gts\.x\.a\.b\.zz\.v1~"):
        effective_schema(dangling, {}.get)


def test_local_refs_resolve_inside_their_document() -> None:
    doc = {
        "$id": "gts://gts.x.a.b.local.v1~",
        "definitions": {"Money": {"type": "number", "minimum": 0}},
        "properties": {"total": {"$ref": "#/definitions/Money"}},
    }
    flat = effective_schema(doc, {}.get)
    assert flat["properties"]["total"] == {"type": "number", "minimum": 0}


def test_refusals_are_reported_in_the_report() -> None:
    major = check_compatibility(OLD, "gts.x.shop.orders.order.v2.0~", {}.get)
    assert not major.is_fully_compatible and "not registered" in major.error
    docs = {OLD: _schema(OLD, BASE), "gts.x.shop.orders.order.v2.0~": _schema(OLD, BASE)}
    report = check_compatibility(OLD, "gts.x.shop.orders.order.v2.0~", docs.get)
    assert not report.is_backward_compatible and "minor versions" in report.error
    bad = check_compatibility("gts.x.shop", NEW, docs.get)
    assert "Invalid GTS identifier" in bad.error
    instance = check_compatibility("gts.x.shop.orders.order.v1.0~x.a.b.c.v1", NEW, docs.get)
    assert "not a type id" in instance.error


def test_report_dict_has_the_conformance_fields() -> None:
    data = _compare(_schema(OLD, BASE), _schema(OLD, BASE)).to_dict()
    assert data["old"] == OLD and data["new"] == NEW
    assert data["is_backward_compatible"] and data["is_forward_compatible"]
    assert data["is_fully_compatible"]


def test_same_type_family() -> None:
    assert same_type_family(OLD, NEW)
    assert same_type_family("gts.x.a.b.c.v1~", "gts.x.a.b.c.v1.3~")
    assert not same_type_family(OLD, "gts.x.shop.orders.order.v2.0~")
    assert not same_type_family(OLD, "not an id")


def test_union_types_and_boolean_schemas() -> None:
    assert is_subschema({"type": "string"}, {"type": ["string", "null"]}) == []
    assert is_subschema({"type": ["string", "null"]}, {"type": "string"}) != []
    assert is_subschema({"type": "string"}, True) == []
    assert is_subschema(False, {"type": "string"}) == []
    assert is_subschema({"type": "string"}, False) != []
    any_of = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert is_subschema({"type": "integer"}, any_of) == []
    assert is_subschema({"type": "boolean"}, any_of) != []
    assert is_subschema(any_of, {"type": "string"}) != []


def _boom(name: str, leaf: dict[str, Any]) -> dict[str, Any]:
    # Each level refers to the next one from ten properties: 10**30 paths if expanded naively.
    docs: dict[str, Any] = {}
    for level in range(30):
        nxt = {"$ref": f"gts://gts.x.{name}.l{level + 1}.t.v1~"} if level < 29 else leaf
        docs[f"gts.x.{name}.l{level}.t.v1~"] = {
            "$id": f"gts://gts.x.{name}.l{level}.t.v1~",
            "properties": {f"p{i}": nxt for i in range(10)},
        }
    return docs


def test_exploding_schemas_are_compared_once_per_shared_part() -> None:
    docs = _boom("boom", {"type": "string"})
    old = {"$id": f"gts://{OLD}", "allOf": [{"$ref": "gts://gts.x.boom.l0.t.v1~"}]}
    new = {"$id": f"gts://{NEW}", "allOf": [{"$ref": "gts://gts.x.boom.l0.t.v1~"}]}
    report = check_compatibility(OLD, NEW, {**docs, OLD: old, NEW: new}.get)
    assert report.is_fully_compatible, report


def test_exploding_schemas_that_differ_everywhere_are_refused_quickly() -> None:
    # 10**29 paths end in an incompatible leaf: reporting each one is over the budget.
    docs = {**_boom("boom", {"type": "string"}), **_boom("bang", {"type": "integer"})}
    old = {"$id": f"gts://{OLD}", "allOf": [{"$ref": "gts://gts.x.boom.l0.t.v1~"}]}
    new = {"$id": f"gts://{NEW}", "allOf": [{"$ref": "gts://gts.x.bang.l0.t.v1~"}]}
    report = check_compatibility(OLD, NEW, {**docs, OLD: old, NEW: new}.get)
    assert not report.is_fully_compatible
    assert "too large" in report.error or any("too large" in e for e in report.backward_errors)


def test_a_shared_incompatible_part_is_reported_at_every_path() -> None:
    leaf = {"$ref": "gts://gts.x.shop.parts.money.v1~"}
    money_old = {"$id": "gts://gts.x.shop.parts.money.v1~", "type": "number"}
    money_new = {"$id": "gts://gts.x.shop.parts.money.v1~", "type": "integer"}
    old = _schema(OLD, {"a": leaf, "b": leaf})
    new = _schema(NEW, {"a": leaf, "b": leaf})
    old_docs = {OLD: old, "gts.x.shop.parts.money.v1~": money_old}
    new_docs = {NEW: new, "gts.x.shop.parts.money.v1~": money_new}
    errors = is_subschema(effective_schema(old, old_docs.get), effective_schema(new, new_docs.get))
    assert [e.split(":")[0] for e in errors] == ["$.a", "$.b"], errors


def test_enum_comparison_matches_values_not_positions() -> None:
    # Long enums are compared as sets of values; 1 and 1.0 are one value, 1 and true are two.
    old = _schema(OLD, {"n": {"enum": [*range(5000), True]}})
    same = _schema(NEW, {"n": {"enum": [True, *[float(i) for i in reversed(range(5000))]]}})
    assert _flags(_compare(old, same)) == (True, True, True)
    grown = _schema(NEW, {"n": {"enum": [*range(5000), True, 1.5, False]}})
    report = _compare(old, grown)
    assert not report.is_backward_compatible and report.is_forward_compatible
    assert "[1.5, False] added" in " ".join(report.backward_errors)
