"""OP#6: instance validation against registered type schemas (compiled, cached)."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.gts import (
    GtsError,
    GtsValidationError,
    InstanceValidatorCache,
    compile_instance_validator,
    validate_instance,
)

DRAFT7 = "http://json-schema.org/draft-07/schema#"
EVENT = "gts.x.shop.events.event.v1~"
PLACED = f"{EVENT}x.shop.orders.placed.v1.0~"
NOTHING: dict[str, Any] = {}


def event_schema(type_id: str = EVENT, id_format: str | None = None) -> dict[str, Any]:
    id_prop: dict[str, Any] = {"type": "string"}
    if id_format:
        id_prop["format"] = id_format
    return {
        "$id": f"gts://{type_id}",
        "$schema": DRAFT7,
        "type": "object",
        "required": ["id", "type", "tenantId", "occurredAt"],
        "properties": {
            "id": id_prop,
            "type": {"type": "string"},
            "tenantId": {"type": "string"},
            "occurredAt": {"type": "string", "format": "date-time"},
            "payload": {"type": "object"},
        },
        "additionalProperties": False,
    }


def placed_schema() -> dict[str, Any]:
    return {
        "$id": f"gts://{PLACED}",
        "$schema": DRAFT7,
        "type": "object",
        "allOf": [
            {"$ref": f"gts://{EVENT}"},
            {
                "type": "object",
                "required": ["type", "payload"],
                "properties": {
                    "type": {"const": PLACED},
                    "payload": {
                        "type": "object",
                        "required": ["orderId", "total", "items"],
                        "properties": {
                            "orderId": {"type": "string"},
                            "buyer": {"type": "string", "format": "email"},
                            "total": {"type": "number", "minimum": 0},
                            "status": {"enum": ["new", "paid"]},
                            "items": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 3,
                                "items": {
                                    "type": "object",
                                    "required": ["sku"],
                                    "properties": {"sku": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        ],
    }


def placed_instance() -> dict[str, Any]:
    return {
        "id": f"{PLACED}x.shop._.o1.v1",
        "type": PLACED,
        "tenantId": "11111111-2222-3333-8444-555555555555",
        "occurredAt": "2025-09-20T18:35:00Z",
        "payload": {
            "orderId": "o-1",
            "buyer": "buyer@example.com",
            "total": 149.99,
            "status": "new",
            "items": [{"sku": "SKU-1", "qty": 1}],
        },
    }


@pytest.fixture
def docs() -> dict[str, Any]:
    return {EVENT: event_schema(), PLACED: placed_schema()}


@pytest.fixture
def cache() -> InstanceValidatorCache:
    return InstanceValidatorCache()


class TestConformance:
    def test_valid_instance_of_derived_type(
        self, docs: dict[str, Any], cache: InstanceValidatorCache
    ) -> None:
        validate_instance(placed_instance(), PLACED, docs.get, cache)

    @pytest.mark.parametrize(
        ("mutate", "path"),
        [
            (lambda d: d["payload"].pop("orderId"), "at payload:"),
            (lambda d: d["payload"].update(total=-1), "at payload.total:"),
            (lambda d: d["payload"].update(buyer="not-an-email"), "at payload.buyer:"),
            (lambda d: d["payload"].update(status="lost"), "at payload.status:"),
            (lambda d: d["payload"].update(items=[]), "at payload.items:"),
            (lambda d: d["payload"].update(items=[{}] * 4), "at payload.items:"),
            (lambda d: d["payload"]["items"].append({"sku": 5}), r"at payload.items[1].sku:"),
            (lambda d: d.update(occurredAt="yesterday"), "at occurredAt:"),
            (lambda d: d.update(type=EVENT), "at type:"),
            (lambda d: d.update(extra=1), "at <root>:"),
        ],
    )
    def test_violations_name_the_field_path(
        self, docs: dict[str, Any], cache: InstanceValidatorCache, mutate: Any, path: str
    ) -> None:
        doc = placed_instance()
        mutate(doc)
        with pytest.raises(GtsValidationError) as info:
            validate_instance(doc, PLACED, docs.get, cache)
        message = str(info.value)
        assert PLACED in message
        assert path in message

    def test_base_constraints_apply_through_the_gts_ref(
        self, docs: dict[str, Any], cache: InstanceValidatorCache
    ) -> None:
        doc = placed_instance()
        del doc["tenantId"]
        with pytest.raises(GtsValidationError, match="tenantId"):
            validate_instance(doc, PLACED, docs.get, cache)

    def test_uuid_format_is_an_annotation_in_draft_07(self, cache: InstanceValidatorCache) -> None:
        docs = {EVENT: event_schema(id_format="uuid")}
        doc = placed_instance()
        del doc["payload"]
        doc["type"] = EVENT
        validate_instance(doc, EVENT, docs.get, cache)  # a GTS id in a "uuid" field

    def test_uuid_format_is_checked_from_2019_09_on(self, cache: InstanceValidatorCache) -> None:
        schema = event_schema(id_format="uuid")
        schema["$schema"] = "https://json-schema.org/draft/2019-09/schema"
        docs = {EVENT: schema}
        doc = placed_instance()
        del doc["payload"]
        with pytest.raises(GtsValidationError, match="at id: must be uuid"):
            validate_instance(doc, EVENT, docs.get, cache)
        doc["id"] = "7a1d2f34-5678-49ab-9012-abcdef123456"
        validate_instance(doc, EVENT, docs.get, cache)

    def test_defaults_are_not_written_into_the_instance(
        self, cache: InstanceValidatorCache
    ) -> None:
        t = "gts.x.shop.cfg.settings.v1~"
        docs = {t: {"$id": f"gts://{t}", "properties": {"mode": {"default": "fast"}}}}
        doc: dict[str, Any] = {}
        validate_instance(doc, t, docs.get, cache)
        assert doc == {}

    def test_local_definitions_of_referenced_schemas_resolve(
        self, cache: InstanceValidatorCache
    ) -> None:
        money = "gts.x.shop.types.money.v1~"
        price = "gts.x.shop.types.price.v1~"
        docs = {
            money: {
                "$id": f"gts://{money}",
                "$schema": DRAFT7,
                "definitions": {"amount": {"type": "number", "minimum": 0}},
                "type": "object",
                "properties": {"amount": {"$ref": "#/definitions/amount"}},
            },
            price: {
                "$id": f"gts://{price}",
                "$schema": DRAFT7,
                "$defs": {"cur": {"enum": ["EUR", "USD"]}},
                "properties": {
                    "net": {"$ref": f"gts://{money}"},
                    "currency": {"$ref": "#/$defs/cur"},
                },
            },
        }
        validate_instance({"net": {"amount": 1}, "currency": "EUR"}, price, docs.get, cache)
        with pytest.raises(GtsValidationError, match=r"at net\.amount"):
            validate_instance({"net": {"amount": -1}}, price, docs.get, cache)
        with pytest.raises(GtsValidationError, match="at currency"):
            validate_instance({"currency": "GBP"}, price, docs.get, cache)


class TestModifiersAndKeywords:
    def test_abstract_type_has_no_direct_instances(self, cache: InstanceValidatorCache) -> None:
        schema = event_schema()
        schema["x-gts-abstract"] = True
        docs = {EVENT: schema}
        doc = placed_instance()
        del doc["payload"]
        with pytest.raises(GtsValidationError, match="abstract"):
            validate_instance(doc, EVENT, docs.get, cache)

    def test_concrete_child_of_abstract_type_has_instances(
        self, docs: dict[str, Any], cache: InstanceValidatorCache
    ) -> None:
        docs[EVENT]["x-gts-abstract"] = True
        validate_instance(placed_instance(), PLACED, docs.get, cache)

    def test_final_type_has_instances(self, cache: InstanceValidatorCache) -> None:
        schema = event_schema()
        schema["x-gts-final"] = True
        doc = placed_instance()
        del doc["payload"]
        validate_instance(doc, EVENT, {EVENT: schema}.get, cache)

    @pytest.mark.parametrize(
        "keyword", ["x-gts-final", "x-gts-abstract", "x-gts-traits", "x-gts-traits-schema"]
    )
    def test_schema_only_keywords_in_instances_are_refused(
        self, docs: dict[str, Any], cache: InstanceValidatorCache, keyword: str
    ) -> None:
        doc = placed_instance()
        doc[keyword] = True
        with pytest.raises(GtsValidationError, match=keyword):
            validate_instance(doc, PLACED, docs.get, cache)


class TestFailures:
    def test_unknown_type_is_named(self, cache: InstanceValidatorCache) -> None:
        with pytest.raises(
            GtsValidationError, match=r"gts\.x\.nope\.ns\.type\.v1~ is not registered"
        ):
            validate_instance({}, "gts.x.nope.ns.type.v1~", NOTHING.get, cache)

    def test_unknown_referenced_type_is_named(self, cache: InstanceValidatorCache) -> None:
        with pytest.raises(GtsValidationError, match=EVENT):
            validate_instance(placed_instance(), PLACED, {PLACED: placed_schema()}.get, cache)

    @pytest.mark.parametrize(
        "bad", ["not an id", "gts.x.shop.events.event.v1~x.a.b.c.v1", 7, ["x"]]
    )
    def test_bad_type_id_is_refused(self, cache: InstanceValidatorCache, bad: Any) -> None:
        with pytest.raises(GtsValidationError):
            validate_instance({}, bad, NOTHING.get, cache)

    def test_external_ref_is_refused_without_fetching(self, cache: InstanceValidatorCache) -> None:
        t = "gts.x.shop.ext.thing.v1~"
        docs = {t: {"$id": f"gts://{t}", "allOf": [{"$ref": "https://example.com/s.json"}]}}
        with pytest.raises(GtsValidationError, match="cannot be resolved"):
            validate_instance({}, t, docs.get, cache)

    def test_invalid_schema_is_reported_as_validation_error(
        self, cache: InstanceValidatorCache
    ) -> None:
        t = "gts.x.shop.bad.thing.v1~"
        docs = {t: {"$id": f"gts://{t}", "type": "no-such-type"}}
        with pytest.raises(GtsValidationError, match=t):
            validate_instance({}, t, docs.get, cache)

    def test_recursive_schema_and_deep_instance_fail_cleanly(
        self, cache: InstanceValidatorCache
    ) -> None:
        t = "gts.x.shop.tree.node.v1~"
        docs = {
            t: {
                "$id": f"gts://{t}",
                "type": "object",
                "properties": {"child": {"$ref": f"gts://{t}"}, "n": {"type": "integer"}},
            }
        }
        validate_instance({"child": {"child": {"n": 1}}}, t, docs.get, cache)
        with pytest.raises(GtsValidationError, match=r"at child\.child\.n"):
            validate_instance({"child": {"child": {"n": "x"}}}, t, docs.get, cache)
        deep: dict[str, Any] = {}
        for _ in range(20000):
            deep = {"child": deep}
        with pytest.raises(GtsError):
            validate_instance(deep, t, docs.get, cache)

    def test_allof_cycle_between_schemas_fails_cleanly(self, cache: InstanceValidatorCache) -> None:
        a, b = "gts.x.shop.cyc.a.v1~", "gts.x.shop.cyc.b.v1~"
        docs = {
            a: {"$id": f"gts://{a}", "allOf": [{"$ref": f"gts://{b}"}]},
            b: {"$id": f"gts://{b}", "allOf": [{"$ref": f"gts://{a}"}]},
        }
        with pytest.raises(GtsError):
            validate_instance({}, a, docs.get, cache)


class TestCache:
    def test_validator_is_compiled_once(
        self, docs: dict[str, Any], cache: InstanceValidatorCache
    ) -> None:
        first = cache.validator(PLACED, docs.get)
        assert cache.validator(PLACED, docs.get) is first
        assert first.depends_on == {EVENT, PLACED}

    def test_changing_a_referenced_schema_invalidates_dependents(
        self, docs: dict[str, Any], cache: InstanceValidatorCache
    ) -> None:
        doc = placed_instance()
        validate_instance(doc, PLACED, docs.get, cache)
        docs[EVENT] = copy.deepcopy(docs[EVENT])
        docs[EVENT]["properties"]["tenantId"]["maxLength"] = 3
        validate_instance(doc, PLACED, docs.get, cache)  # stale until told
        cache.invalidate(EVENT)
        assert PLACED not in cache
        with pytest.raises(GtsValidationError, match="tenantId"):
            validate_instance(doc, PLACED, docs.get, cache)

    def test_unrelated_invalidation_keeps_entries(
        self, docs: dict[str, Any], cache: InstanceValidatorCache
    ) -> None:
        cache.validator(PLACED, docs.get)
        cache.invalidate("gts.x.other.ns.type.v1~")
        assert PLACED in cache

    def test_failed_compilation_is_not_cached(self, cache: InstanceValidatorCache) -> None:
        docs: dict[str, Any] = {PLACED: placed_schema()}
        with pytest.raises(GtsValidationError):
            cache.validator(PLACED, docs.get)
        docs[EVENT] = event_schema()
        assert cache.validator(PLACED, docs.get).type_id == PLACED

    def test_bounded_size(self, docs: dict[str, Any]) -> None:
        small = InstanceValidatorCache(maxsize=1)
        small.validator(EVENT, docs.get)
        small.validator(PLACED, docs.get)
        assert len(small) == 1

    def test_clear(self, docs: dict[str, Any], cache: InstanceValidatorCache) -> None:
        cache.validator(PLACED, docs.get)
        cache.clear()
        assert len(cache) == 0

    def test_uncached_path_gives_the_same_verdicts(self, docs: dict[str, Any]) -> None:
        validate_instance(placed_instance(), PLACED, docs.get)
        validator = compile_instance_validator(PLACED, docs.get)
        assert validator.is_valid(placed_instance())
        assert not validator.is_valid({"id": 1})


# --- agreement with the reference Python validator on standard keywords -----------------------

ORACLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
        "n": {"type": "integer", "minimum": -3, "exclusiveMaximum": 7, "multipleOf": 2},
        "tags": {"type": "array", "items": {"enum": ["a", "b", 1]}, "uniqueItems": True},
        "flag": {"type": ["boolean", "null"]},
        "pick": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
        "obj": {"type": "object", "propertyNames": {"maxLength": 2}, "maxProperties": 2},
    },
    "additionalProperties": {"not": {"type": "string"}},
}

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.sampled_from(["a", "b", "ab", "abcdef", "A1"]),
)
_values = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["x", "yy", "zzz"]), inner, max_size=3),
    ),
    max_leaves=6,
)
_instances = st.dictionaries(
    st.sampled_from(["name", "n", "tags", "flag", "pick", "obj", "other"]), _values, max_size=6
)


@settings(max_examples=300, deadline=None)
@given(_instances)
def test_agrees_with_jsonschema_draft7(instance: dict[str, Any]) -> None:
    t = "gts.x.shop.oracle.thing.v1~"
    docs = {t: {"$id": f"gts://{t}", "$schema": DRAFT7, **ORACLE_SCHEMA}}
    expected = jsonschema.Draft7Validator(ORACLE_SCHEMA).is_valid(instance)
    assert compile_instance_validator(t, docs.get).is_valid(instance) is expected


# --- bad input only ever raises GtsError ---------------------------------------------------------

_KEYWORDS = [
    "type",
    "properties",
    "items",
    "allOf",
    "oneOf",
    "not",
    "$ref",
    "enum",
    "const",
    "required",
    "additionalProperties",
    "x-gts-ref",
    "x-gts-abstract",
    "pattern",
    "format",
    "definitions",
]
_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        ["string", "object", "#", "#/definitions/a", "gts.*", "/$id", "gts.x.y.z", "["]
    ),
)
_schema_values = st.recursive(
    _junk,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYWORDS), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYWORDS), _schema_values, max_size=5), _values)
def test_arbitrary_schemas_and_instances_raise_only_gts_errors(
    body: dict[str, Any], instance: Any
) -> None:
    t = "gts.x.shop.fuzz.thing.v1~"
    docs = {t: {**body, "$id": f"gts://{t}", "$schema": DRAFT7}}
    with contextlib.suppress(GtsError):
        validate_instance(instance, t, docs.get)


def test_non_json_values_in_schemas_fail_cleanly() -> None:
    t = "gts.x.shop.odd.thing.v1~"
    docs = {t: {"$id": f"gts://{t}", "properties": None, "maximum": float("inf")}}
    with pytest.raises(GtsValidationError, match=t):
        validate_instance({}, t, docs.get)


@pytest.mark.parametrize("keyword", ["items", "anyOf", "not", "additionalProperties", "properties"])
def test_deep_but_legal_nesting_compiles_and_reports_the_path(keyword: str) -> None:
    node: dict[str, Any] = {"type": "string", "maxLength": 3}
    for _ in range(30):
        if keyword == "items":
            node = {"type": "array", "items": node}
        elif keyword == "anyOf":
            node = {"anyOf": [node, {"type": "integer"}]}
        elif keyword == "properties":
            node = {"type": "object", "properties": {"x": node}}
        else:
            node = {keyword: node}
    t = "gts.x.shop.deep.thing.v1~"
    validator = compile_instance_validator(t, {t: {"$id": f"gts://{t}", **node}}.get)
    if keyword == "properties":
        value: Any = "abcdef"
        for _ in range(30):
            value = {"x": value}
        with pytest.raises(GtsValidationError, match=r"at (x\.){29}x:"):
            validator.validate(value)


def test_a_backreference_is_refused_before_it_runs() -> None:
    t = "gts.x.shop.redos.thing.v1~"
    docs = {t: {"$id": f"gts://{t}", "properties": {"v": {"type": "string", "pattern": "(a)\\1"}}}}
    with pytest.raises(GtsValidationError, match=r"#/properties.*backreference or lookaround"):
        validate_instance({"v": "aa"}, t, docs.get)


@pytest.mark.parametrize("length", [1, 2, 3])
def test_cyclic_gts_refs_are_named_not_recursed_into(length: int) -> None:
    ids = [f"gts.x.cyc.n{i}.t.v1~" for i in range(length)]
    docs = {
        t: {
            "$id": f"gts://{t}",
            "$schema": DRAFT7,
            "allOf": [{"$ref": f"gts://{ids[(i + 1) % length]}"}],
        }
        for i, t in enumerate(ids)
    }
    with pytest.raises(
        GtsValidationError,
        match="cyclic \\$ref: " + " -> ".join([*ids, ids[0]]).replace(".", "\\."),
    ):
        validate_instance({"id": ids[0] + "x.a.b.c.v1"}, ids[0], docs.get)
