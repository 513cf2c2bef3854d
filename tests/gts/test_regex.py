"""Schema regexes run by RE2: linear in the input whatever the pattern, ECMA-262 semantics.

No timing: a backtracking engine needs about 2 s for 46 ``a``s against the pattern below and
grows polynomially (degree 8), so the 100,000-character input would never finish under it;
RE2's own semantics (``\\d`` is ASCII only, as in ECMA-262) show which engine ran, fast.
"""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import GtsSchemaError, GtsStore, GtsValidationError
from plugway.gts._regex import install_patterns, restore_patterns, route_patterns

DRAFT7 = "http://json-schema.org/draft-07/schema#"
T = "gts.x.shop.regex.thing.v1~"
POLY = "^a*a*a*a*a*a*a*a*b$"


def store_with(**body: Any) -> GtsStore:
    store = GtsStore()
    doc = {"$id": f"gts://{T}", "$schema": DRAFT7, "type": "object", **body}
    store.register(doc, validate=True)
    return store


def test_a_polynomial_pattern_is_registered_and_matched_in_linear_time() -> None:
    store = store_with(properties={"v": {"type": "string", "pattern": POLY}})
    with pytest.raises(GtsValidationError, match=r"at v: must match pattern \^a\*a\*"):
        store.validate_instance_document({"v": "a" * 100_000}, T)
    store.validate_instance_document({"v": "a" * 100_000 + "b"}, T)


def test_pattern_properties_run_on_re2_too() -> None:
    store = store_with(
        patternProperties={"^(a+)+$": {"type": "integer"}, r"^\d+$": {"type": "boolean"}}
    )
    with pytest.raises(GtsValidationError, match="must be integer"):
        store.validate_instance_document({"a" * 100_000: "x"}, T)
    store.validate_instance_document({"a" * 100_000 + "!": "x"}, T)
    with pytest.raises(GtsValidationError, match="must be boolean"):
        store.validate_instance_document({"12": 1}, T)
    # RE2 (like ECMA-262) reads \d as ASCII digits; Python's re would take Arabic-Indic ones.
    store.validate_instance_document({"\u0661\u0662": 1}, T)


def test_ecma_semantics_dollar_and_unicode_escapes() -> None:
    store = store_with(
        properties={
            "code": {"type": "string", "pattern": r"^[\u0041-\u005A]{2}$"},
            "n": {"type": "string", "pattern": r"^\d+$"},
        }
    )
    store.validate_instance_document({"code": "AB", "n": "42"}, T)
    for bad in ({"code": "ab"}, {"code": "AB\n"}, {"n": "\u0661\u0662"}):
        with pytest.raises(GtsValidationError):
            store.validate_instance_document(bad, T)


def test_what_re2_cannot_run_is_refused_at_registration() -> None:
    with pytest.raises(GtsSchemaError, match=rf"{T}.*at #/properties/pw uses .*lookaround"):
        store_with(properties={"pw": {"type": "string", "pattern": "^(?=.*[0-9]).{8,}$"}})


def test_stand_ins_never_stay_in_force() -> None:
    schema = {"properties": {"v": {"pattern": "^x$", "const": {"pattern": "kept as data"}}}}
    routed, routes = route_patterns(schema)
    stand_in = routed["properties"]["v"]["pattern"]
    assert routes == {stand_in: "^x$"}
    assert routed["properties"]["v"]["const"] == {"pattern": "kept as data"}
    assert restore_patterns(f"must match pattern {stand_in}", routes) == "must match pattern ^x$"

    def no_table(value: Any) -> Any:
        return value

    with pytest.raises(GtsValidationError, match="RE2"):
        install_patterns(no_table, routes, "schema S")
