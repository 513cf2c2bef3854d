"""OP#11: the attribute selector ``<id>@<path>`` and path resolution."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from plugway.gts import (
    AttrResult,
    GtsAttrSelector,
    GtsQueryError,
    parse_attr_path,
    resolve_attr,
    resolve_path,
)

CONFIG_ID = "gts.acme.infra.config.settings.v1~acme.infra._.main.v1"
ORDER_ID = "gts.acme.shop.orders.order.v1~acme.shop._.o_42.v1.0"

STORE: dict[str, dict[str, Any]] = {
    CONFIG_ID: {"enabled": True, "retries": 5, "timeout": 30.5, "note": None, "name": ""},
    ORDER_ID: {
        "orderId": "o-42",
        "lines": [
            {"sku": "SKU-A", "qty": 1},
            {"sku": "SKU-B", "name": "Second line", "qty": 2},
        ],
        "customer": {"contact": {"email": "ann@example.com"}},
        "audit": [{"entries": [{"meta": {"who": {"name": "Bob", "tags": ["x", "review"]}}}]}],
        "deep": {"a": {"b": {"c": {"d": {"e": {"f": "bottom"}}}}}},
        "dotted.key": "no",
    },
}


def _lookup(gts_id: str) -> Mapping[str, Any] | None:
    return STORE.get(gts_id)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("orderId", "o-42"),
        ("customer.contact.email", "ann@example.com"),
        ("lines[0].sku", "SKU-A"),
        ("lines[1].name", "Second line"),
        ("lines[1]", {"sku": "SKU-B", "name": "Second line", "qty": 2}),
        ("audit[0].entries[0].meta.who.name", "Bob"),
        ("audit[0].entries[0].meta.who.tags[1]", "review"),
        ("deep.a.b.c.d.e.f", "bottom"),
    ],
)
def test_resolved_values(path: str, value: Any) -> None:
    result = resolve_attr(f"{ORDER_ID}@{path}", _lookup)
    assert result == AttrResult(ORDER_ID, path, True, value, None)


@pytest.mark.parametrize(
    ("path", "value"),
    [("enabled", True), ("retries", 5), ("timeout", 30.5), ("note", None), ("name", "")],
)
def test_scalar_values_keep_their_json_type(path: str, value: Any) -> None:
    result = resolve_attr(f"{CONFIG_ID}@{path}", _lookup)
    assert result.resolved is True
    assert result.value == value
    assert type(result.value) is type(value)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("missing", "no field 'missing' at the root"),
        ("customer.nope", "no field 'nope' at 'customer'"),
        ("lines[2].sku", "index 2 is out of range at 'lines' (length 2)"),
        ("orderId[0]", "'orderId' is not an array"),
        ("orderId.x", "'orderId' is not an object"),
        ("lines.sku", "'lines' is not an object"),
        ("customer[0]", "'customer' is not an array"),
        ("dotted.key", "no field 'dotted' at the root"),
    ],
)
def test_unresolved_paths_explain_why(path: str, why: str) -> None:
    result = resolve_attr(f"{ORDER_ID}@{path}", _lookup)
    assert result.resolved is False
    assert result.value is None
    assert result.error == why


def test_unknown_entity_is_unresolved() -> None:
    other = "gts.acme.shop.orders.order.v1~acme.shop._.o_0.v1"
    result = resolve_attr(f"{other}@orderId", _lookup)
    assert not result.resolved
    assert result.error is not None and other in result.error


def test_to_dict() -> None:
    d = resolve_attr(f"{CONFIG_ID}@retries", _lookup).to_dict()
    assert d == {
        "gts_id": CONFIG_ID,
        "path": "retries",
        "resolved": True,
        "value": 5,
        "error": None,
    }


@pytest.mark.parametrize(
    ("selector", "fault"),
    [
        (ORDER_ID, "no '@'"),
        (f"{ORDER_ID}@", "empty"),
        (f"{ORDER_ID}@a..b", "empty key"),
        (f"{ORDER_ID}@.a", "empty key"),
        (f"{ORDER_ID}@a.", "ends with '.'"),
        (f"{ORDER_ID}@a[", "not closed"),
        (f"{ORDER_ID}@a[x]", "not a non-negative integer"),
        (f"{ORDER_ID}@a[-1]", "not a non-negative integer"),
        (f"{ORDER_ID}@a]", "unexpected ']'"),
        (f"{ORDER_ID}@a[0]b", "expected '.' or '['"),
        ("gts.acme.shop.*@orderId", "wildcards"),
        ("gts.acme.shop.orders.order.v1@orderId", "Invalid GTS identifier"),
        ("@orderId", "Invalid GTS identifier"),
    ],
)
def test_malformed_selectors(selector: str, fault: str) -> None:
    with pytest.raises(GtsQueryError) as info:
        GtsAttrSelector.parse(selector)
    assert fault in str(info.value)
    with pytest.raises(GtsQueryError):
        resolve_attr(selector, _lookup)


def test_selector_is_parsed_once_and_reusable() -> None:
    sel = GtsAttrSelector.parse(f"{ORDER_ID}@lines[1].qty")
    assert sel.gts_id.text == ORDER_ID
    assert sel.path == ("lines", 1, "qty")
    assert sel.path_text == "lines[1].qty"
    assert resolve_attr(sel, _lookup).value == 2


def test_path_syntax() -> None:
    assert parse_attr_path("a") == ("a",)
    assert parse_attr_path("a.b[0][1].c") == ("a", "b", 0, 1, "c")
    assert parse_attr_path("[3].x") == (3, "x")
    assert parse_attr_path("$weird-key:1.ü") == ("$weird-key:1", "ü")


def test_resolve_path_never_raises_on_odd_documents() -> None:
    assert resolve_path("text", ("a",))[0] is False
    assert resolve_path(["a"], (0,)) == (True, "a", None)
    assert resolve_path("abc", (0,))[0] is False  # strings are not arrays
    assert resolve_path(None, ()) == (True, None, None)


def test_very_deep_documents_do_not_exhaust_the_stack() -> None:
    depth = 5000
    doc: dict[str, Any] = {}
    node = doc
    for _ in range(depth):
        node["n"] = {}
        node = node["n"]
    node["leaf"] = 1
    found, value, _ = resolve_path(doc, ("n",) * depth + ("leaf",))
    assert found and value == 1


def test_selector_length_is_bounded() -> None:
    with pytest.raises(GtsQueryError, match="limit"):
        GtsAttrSelector.parse(f"{ORDER_ID}@" + "a." * 3000 + "a")
