"""Two phases: free registration, one validation of everything, then immediate validation."""

from __future__ import annotations

import pytest

from plugway.registry import (
    EntityQuery,
    RegistryInUseError,
    RegistryNotReadyError,
    RegistryValidationError,
    TypesRegistry,
)

from ._builders import CONTRACT_T, ORDER_T, contract_type, order, order_type, plugin, type_doc


def _snapshot(reg: TypesRegistry) -> list[tuple[str, int]]:
    page = reg.list(EntityQuery(limit=10_000))
    return [(e.gts_id, e.revision) for e in page.items]


def test_any_order_before_ready_then_ready(registry: TypesRegistry) -> None:
    # instances first, their types last: fine before ready
    registry.register(plugin("es"))
    registry.register(order("o1"))
    registry.register(contract_type())
    registry.register(order_type())
    assert not registry.is_ready
    with pytest.raises(RegistryNotReadyError):
        registry.require_ready()
    registry.switch_to_ready()
    assert registry.is_ready
    registry.require_ready()
    registry.switch_to_ready()  # idempotent
    assert registry.get(plugin("es")["id"]).type_id == CONTRACT_T


def test_switch_reports_the_complete_list_of_problems(registry: TypesRegistry) -> None:
    registry.register(order_type())
    registry.register(order("good"))
    registry.register(order("bad_total", total="ten"))  # wrong type
    registry.register({"id": f"{ORDER_T}acme.shop.orders.no_total.v1"})  # missing field
    registry.register({"id": "gts.acme.shop.orders.ghost.v1~acme.shop.orders.x.v1"})  # no type
    dangling = type_doc("gts.acme.shop.orders.child.v1~")
    dangling["allOf"] = [{"$ref": "gts://gts.acme.nowhere.x.y.v1~"}]
    registry.register(dangling)  # $ref to an unknown type
    registry.register(plugin("es"))  # contract type missing
    before = _snapshot(registry)
    with pytest.raises(RegistryValidationError) as info:
        registry.switch_to_ready()
    named = {p.gts_id for p in info.value.problems}
    assert named == {
        f"{ORDER_T}acme.shop.orders.bad_total.v1",
        f"{ORDER_T}acme.shop.orders.no_total.v1",
        "gts.acme.shop.orders.ghost.v1~acme.shop.orders.x.v1",
        "gts.acme.shop.orders.child.v1~",
        plugin("es")["id"],
    }
    for p in info.value.problems:
        assert p.message
        assert p.gts_id in str(info.value)
    assert not registry.is_ready
    assert _snapshot(registry) == before
    # fix everything, then the switch succeeds
    for p in info.value.problems:
        registry.remove(p.gts_id)
    registry.switch_to_ready()
    assert registry.is_ready


def test_after_ready_each_registration_is_validated_at_once(registry: TypesRegistry) -> None:
    registry.register(order_type())
    registry.switch_to_ready()
    before = _snapshot(registry)
    rev = registry.revision
    with pytest.raises(RegistryValidationError) as info:
        registry.register(order("bad", total="ten"))
    (problem,) = info.value.problems
    assert problem.gts_id == f"{ORDER_T}acme.shop.orders.bad.v1"
    assert _snapshot(registry) == before
    assert registry.revision == rev
    # the rejected id is really gone: a valid document under the same id is accepted
    assert registry.register(order("bad", total=3)).content["total"] == 3


def test_after_ready_batch_order_matters_and_failures_are_isolated(
    registry: TypesRegistry,
) -> None:
    registry.switch_to_ready()
    results = registry.register_many(
        [plugin("es"), contract_type(), plugin("solr"), plugin("bad") | {"priority": "x"}]
    )
    assert [r.ok for r in results] == [False, True, True, False]
    assert results[0].code == "TYPES_REGISTRY_VALIDATION_FAILED"
    assert results[0].error is not None and CONTRACT_T in results[0].error
    assert results[3].gts_id == plugin("bad")["id"]
    ids = {e.gts_id for e in registry.list(EntityQuery(pattern=CONTRACT_T + "*")).items}
    assert ids == {plugin("solr")["id"]}


def test_instance_of_the_abstract_base_is_refused(registry: TypesRegistry) -> None:
    registry.switch_to_ready()
    doc = {
        "id": "gts.x.core.modkit.plugin.v1~acme.search.direct.plugin.v1",
        "vendor": "acme",
        "priority": 1,
        "properties": {},
    }
    with pytest.raises(RegistryValidationError, match="direct"):
        registry.register(doc)


def test_plugin_instance_must_satisfy_the_base_type(registry: TypesRegistry) -> None:
    registry.register(contract_type())
    registry.switch_to_ready()
    bad = plugin("es")
    del bad["vendor"]
    with pytest.raises(RegistryValidationError, match="vendor"):
        registry.register(bad)
    assert registry.register(plugin("es")).content["vendor"] == "acme"


def test_remove_after_ready_refuses_a_type_still_in_use(registry: TypesRegistry) -> None:
    registry.register(order_type())
    registry.register(order("o1"))
    registry.switch_to_ready()
    with pytest.raises(RegistryInUseError, match="o1"):
        registry.remove(ORDER_T)
    registry.remove(order("o1")["id"])
    registry.remove(ORDER_T)
    with pytest.raises(RegistryValidationError):
        registry.register(order("o2"))


def test_a_ref_in_a_schema_must_be_registered_but_a_ref_shaped_value_need_not(
    registry: TypesRegistry,
) -> None:
    """References are the ``$ref`` keywords of subschemas (the GTS layer's one walk): an
    ``examples`` value shaped like a reference names nothing."""
    from plugway.registry import RegistryValidationError

    from ._builders import type_doc

    registry.switch_to_ready()
    missing = "gts.acme.shop.missing.thing.v1~"
    refers = type_doc("gts.acme.shop.refers.thing.v1~", {"m": {"$ref": f"gts://{missing}"}})
    with pytest.raises(RegistryValidationError, match=missing.replace(".", r"\.")):
        registry.register(refers)
    quoted = type_doc(
        "gts.acme.shop.quotes.thing.v1~",
        {"note": {"type": "object", "examples": [{"$ref": f"gts://{missing}"}]}},
    )
    assert registry.register(quoted).is_type
