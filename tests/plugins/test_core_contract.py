"""Contracts: type ids, versions, the runtime contract check, schema generation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import pytest
from plugins_core_support import ECHO, TYPE_ID, EchoProps, Named, pid, spec
from pydantic import BaseModel

from plugway.gts import GtsStore, GtsValidationError
from plugway.plugins import (
    PLUGIN_BASE_TYPE_ID,
    ContractVersion,
    Gateway,
    PluginContract,
    PluginSpec,
    SecurityContext,
)
from plugway.plugins._conformance import ContractMismatchError
from plugway.plugins.errors import (
    ContractDefinitionError,
    PluginContractError,
    PluginPropertiesError,
    PluginVersionError,
)

CTX = SecurityContext("t1", "u1")


def test_contract_reads_its_version_from_the_type_id() -> None:
    assert ECHO.version == ContractVersion(1, 0)
    assert list(ECHO.methods) == ["echo"]
    assert ECHO.instance_id("a.b.c.plugin.v1") == TYPE_ID + "a.b.c.plugin.v1"


@pytest.mark.parametrize(
    ("type_id", "fragment"),
    [
        ("not a gts id", "not a GTS id"),
        ("gts.x.test.echo.plugin.v1.0~", "derived from"),
        ("gts.x.core.modkit.plugin.v1~x.test.echo.plugin.v1~", "MAJOR.MINOR"),
        ("gts.x.core.modkit.plugin.v1~x.test.echo.plugin.v1.0~a.b.c.d.v1", "derived from"),
    ],
)
def test_bad_contract_type_ids_are_refused(type_id: str, fragment: str) -> None:
    class P(Protocol):
        async def m(self, ctx: SecurityContext) -> None: ...

    with pytest.raises(ContractDefinitionError, match=fragment):
        PluginContract(P, type_id=type_id)


def test_contract_methods_must_be_async_and_take_a_context_first() -> None:
    class Sync(Protocol):
        def m(self, ctx: SecurityContext) -> None: ...

    class NoCtx(Protocol):
        async def m(self, text: str) -> None: ...

    with pytest.raises(ContractDefinitionError, match="'m' must be 'async def'"):
        PluginContract(Sync, type_id=TYPE_ID)
    with pytest.raises(ContractDefinitionError, match="SecurityContext"):
        PluginContract(NoCtx, type_id=TYPE_ID)


def test_later_minor_methods_need_a_default() -> None:
    class P(Protocol):
        async def old(self, ctx: SecurityContext) -> str: ...
        async def new(self, ctx: SecurityContext) -> str: ...

    tid = "gts.x.core.modkit.plugin.v1~x.test.v.plugin.v1.1~"
    with pytest.raises(ContractDefinitionError, match="defaults class must define"):
        PluginContract(P, type_id=tid, added_in={"new": 1})
    with pytest.raises(ContractDefinitionError, match="added in minor 2"):
        PluginContract(P, type_id=tid, added_in={"new": 2})


# -- the runtime contract check ------------------------------------------------------------------


class Good:
    async def echo(self, ctx: SecurityContext, text: str) -> str:
        return text


class Missing:
    async def other(self, ctx: SecurityContext, text: str) -> str:
        return text


class SyncEcho:
    def echo(self, ctx: SecurityContext, text: str) -> str:
        return text


class Renamed:
    async def echo(self, ctx: SecurityContext, words: str) -> str:
        return words


class TooFew:
    async def echo(self, ctx: SecurityContext) -> str:
        return ""


class ExtraRequired:
    async def echo(self, ctx: SecurityContext, text: str, extra: int) -> str:
        return text


class KeywordOnly:
    async def echo(self, ctx: SecurityContext, *, text: str) -> str:
        return text


class NotCallable:
    echo = "nope"


@pytest.mark.parametrize(
    ("impl", "mismatch"),
    [
        (Missing(), "missing method"),
        (SyncEcho(), "sync method where the contract has 'async def'"),
        (Renamed(), "parameter 2 is 'words'"),
        (TooFew(), "takes 1 positional parameters, contract has 2"),
        (ExtraRequired(), "extra required parameter 'extra'"),
        (KeywordOnly(), "takes 1 positional parameters"),
        (NotCallable(), "is not callable"),
    ],
)
def test_contract_check_names_plugin_method_and_mismatch(impl: object, mismatch: str) -> None:
    with pytest.raises(PluginContractError) as info:
        ECHO.bind(spec("bad"), impl)
    err = info.value
    assert err.plugin == pid("bad")
    assert err.method == "echo"
    assert mismatch in err.mismatch
    assert pid("bad") in str(err) and "'echo'" in str(err) and mismatch in str(err)


def test_a_conforming_plugin_binds_and_extra_defaulted_parameters_are_fine() -> None:
    class WithOptional:
        async def echo(self, ctx: SecurityContext, text: str, loud: bool = False) -> str:
            return text.upper() if loud else text

    class OtherCtxName:
        async def echo(self, context: SecurityContext, text: str) -> str:
            return text

    assert ECHO.bind(spec("ctx"), OtherCtxName()).methods["echo"] is not None
    inst = ECHO.bind(spec("ok", priority=7), WithOptional())
    assert inst.id == pid("ok") and inst.priority == 7 and inst.vendor == "x"
    assert inst.version == ContractVersion(1, 0)
    assert inst.defaulted == ()
    assert isinstance(inst.properties, EchoProps)


def test_keyword_parameters_and_defaults_must_match() -> None:
    class Kw(Protocol):
        async def find(self, ctx: SecurityContext, q: str, *, limit: int = 10) -> list[str]: ...

    contract = PluginContract(Kw, type_id="gts.x.core.modkit.plugin.v1~x.test.kw.plugin.v1.0~")
    sid = contract.instance_id("x.test.k.plugin.v1")

    class NoLimit:
        async def find(self, ctx: SecurityContext, q: str) -> list[str]:
            return []

    class NoDefault:
        async def find(self, ctx: SecurityContext, q: str, *, limit: int) -> list[str]:
            return []

    class Fine:
        async def find(self, ctx: SecurityContext, q: str, *, limit: int = 10) -> list[str]:
            return [q] * limit

    with pytest.raises(PluginContractError, match="lacks keyword parameter 'limit'"):
        contract.bind(PluginSpec(sid, "x"), NoLimit())

    class OtherDefault:
        async def find(self, ctx: SecurityContext, q: str, *, limit: int = 5) -> list[str]:
            return []

    with pytest.raises(PluginContractError, match="needs a default"):
        contract.bind(PluginSpec(sid, "x"), NoDefault())
    with pytest.raises(PluginContractError, match="'limit' defaults to 5, the contract to 10"):
        contract.bind(PluginSpec(sid, "x"), OtherDefault())
    assert contract.bind(PluginSpec(sid, "x"), Fine()).methods["find"] is not None


# -- annotations, and every mismatch at once ------------------------------------------------------


class Base:
    """A parameter type; the contract passes the subclass."""


class Derived(Base):
    pass


class Search(Protocol):
    async def search(self, ctx: SecurityContext, query: str, limit: int) -> list[str]: ...
    async def fetch(self, ctx: SecurityContext, item: Derived, ids: list[str]) -> int: ...
    async def suggest(self, ctx: SecurityContext, prefix: str) -> str | None: ...


SEARCH = PluginContract(Search, type_id="gts.x.core.modkit.plugin.v1~x.test.srch.plugin.v1.0~")
SEARCH_ID = SEARCH.instance_id("x.test.s.plugin.v1")


def test_a_wrongly_annotated_parameter_is_refused_naming_expected_and_got() -> None:
    class IntQuery:
        async def echo(self, ctx: SecurityContext, text: int) -> str:
            return str(text)

    with pytest.raises(ContractMismatchError) as info:
        ECHO.bind(spec("typed"), IntQuery())
    err = info.value
    assert err.plugin == pid("typed") and err.method == "echo"
    [m] = err.mismatches
    assert (m.method, m.parameter, m.expected, m.got) == ("echo", "text", "str", "int")
    assert "parameter 'text' is annotated int, the contract has str" in str(err)
    assert isinstance(err, PluginContractError)


def test_every_mismatch_of_a_plugin_is_reported_at_once() -> None:
    class Broken:
        async def search(self, ctx: SecurityContext, query: int, limit: str) -> list[int]:
            return []

        def fetch(self, ctx: SecurityContext, item: Derived, ids: list[str]) -> int:
            return 0

    with pytest.raises(ContractMismatchError) as info:
        SEARCH.bind(PluginSpec(SEARCH_ID, "x"), Broken())
    err = info.value
    assert err.plugin == SEARCH_ID and err.method is None
    found = {(m.method, m.parameter, m.expected, m.got) for m in err.mismatches}
    assert found == {
        ("search", "query", "str", "int"),
        ("search", "limit", "int", "str"),
        ("search", None, "list[str]", "list[int]"),
        ("fetch", None, None, None),
        ("suggest", None, None, None),
    }
    text = str(err)
    assert "method 'fetch': is a sync method" in text and "method 'suggest': missing method" in text
    assert "returns list[int], the contract returns list[str]" in text


def test_wider_parameters_and_narrower_returns_are_accepted() -> None:
    class Generous:
        async def search(self, ctx: SecurityContext, query: str | None, limit: float) -> list[str]:
            return []

        async def fetch(self, ctx: SecurityContext, item: Base, ids: Sequence[str]) -> bool:
            return True

        async def suggest(self, ctx: Any, prefix: object) -> None:
            return None

    inst = SEARCH.bind(PluginSpec(SEARCH_ID, "x"), Generous())
    assert set(inst.methods) == {"search", "fetch", "suggest"}


def test_narrower_parameters_and_other_generic_arguments_are_refused() -> None:
    class Narrow:
        async def search(self, ctx: SecurityContext, query: Literal["a"], limit: bool) -> list[str]:
            return []

        async def fetch(self, ctx: SecurityContext, item: Derived, ids: list[int]) -> int:
            return 0

        async def suggest(self, ctx: SecurityContext, prefix: str) -> str | int:
            return 0

    with pytest.raises(ContractMismatchError) as info:
        SEARCH.bind(PluginSpec(SEARCH_ID, "x"), Narrow())
    found = {(m.method, m.parameter) for m in info.value.mismatches}
    assert found == {("search", "query"), ("search", "limit"), ("fetch", "ids"), ("suggest", None)}


def test_unannotated_or_unresolvable_annotations_are_not_judged() -> None:
    class Local:
        pass

    class Loose:
        async def search(self, ctx, query, limit: Local) -> Local:  # type: ignore[no-untyped-def]
            return Local()

        async def fetch(self, ctx: SecurityContext, item: Derived, ids: list[str]) -> int:
            return 0

        async def suggest(self, ctx: SecurityContext, prefix: str) -> str:
            return prefix

    assert SEARCH.bind(PluginSpec(SEARCH_ID, "x"), Loose()).methods["search"] is not None


def test_properties_are_validated_with_field_paths() -> None:
    bad = PluginSpec(pid("p"), "x", 1, {"boost": -1, "unknown": 1})
    with pytest.raises(PluginPropertiesError) as info:
        ECHO.bind(bad, Good())
    assert info.value.plugin == pid("p")
    assert "properties.boost" in str(info.value)


def test_spec_fields_and_id_are_checked() -> None:
    with pytest.raises(PluginContractError, match="vendor"):
        ECHO.bind(PluginSpec(pid("v"), ""), Good())
    with pytest.raises(PluginContractError, match="not a GTS id"):
        ECHO.bind(PluginSpec("nope", "x"), Good())
    other = "gts.x.core.modkit.plugin.v1~x.test.other.plugin.v1.0~x.test.a.plugin.v1"
    with pytest.raises(PluginContractError, match="not an instance of contract type"):
        ECHO.bind(PluginSpec(other, "x"), Good())
    with pytest.raises(PluginContractError, match="must be a str"):
        PluginSpec.from_document({"id": pid("d"), "vendor": 3, "priority": 1})
    doc = spec("d").instance_document()
    assert PluginSpec.from_document(doc) == spec("d")


# -- versions ------------------------------------------------------------------------------------


class Versioned(Protocol):
    async def get(self, ctx: SecurityContext, key: str) -> str: ...
    async def get_many(self, ctx: SecurityContext, keys: list[str]) -> list[str]: ...


class VersionedDefaults:
    """Defaults of methods added in minor 1: implemented with the v1.0 method."""

    async def get_many(self: Any, ctx: SecurityContext, keys: list[str]) -> list[str]:
        return [await self.get(ctx, k) for k in keys]


V12 = PluginContract(
    Versioned,
    type_id="gts.x.core.modkit.plugin.v1~x.test.kv.plugin.v1.2~",
    defaults=VersionedDefaults,
    added_in={"get_many": 1},
)


class OldKv:
    async def get(self, ctx: SecurityContext, key: str) -> str:
        return f"v:{key}"


def kv_id(name: str, minor: str = "1.2") -> str:
    return f"gts.x.core.modkit.plugin.v1~x.test.kv.plugin.v{minor}~x.test.{name}.plugin.v1"


async def test_older_minor_is_adapted_with_the_contract_defaults() -> None:
    inst = V12.bind(PluginSpec(kv_id("old"), "x", contract_version="1.0"), OldKv())
    assert inst.version == ContractVersion(1, 0)
    assert inst.defaulted == ("get_many",)
    assert await inst.methods["get_many"](SecurityContext(), ["a", "b"]) == ["v:a", "v:b"]
    gw = Gateway("kv", V12)
    gw.add_plugin(PluginSpec(kv_id("old"), "x", contract_version="1.0"), OldKv())
    assert await gw.client.get_many(SecurityContext(), ["z"]) == ["v:z"]
    assert await gw.plugin_for(SecurityContext()).get_many(SecurityContext(), ["y"]) == ["v:y"]


def test_the_minor_can_come_from_the_id() -> None:
    inst = V12.bind(PluginSpec(kv_id("old", "1.0"), "x"), OldKv())
    assert inst.version == ContractVersion(1, 0) and inst.defaulted == ("get_many",)


def test_a_plugin_claiming_the_current_minor_must_implement_everything() -> None:
    with pytest.raises(PluginContractError) as info:
        V12.bind(PluginSpec(kv_id("old"), "x", contract_version="1.2"), OldKv())
    assert info.value.method == "get_many" and "missing method" in str(info.value)


def test_another_major_is_refused() -> None:
    with pytest.raises(PluginVersionError, match="another MAJOR"):
        V12.bind(PluginSpec(kv_id("old"), "x", contract_version="2.0"), OldKv())
    with pytest.raises(PluginVersionError, match="major 2"):
        V12.bind(PluginSpec(kv_id("old", "2.0"), "x"), OldKv())


# -- schema --------------------------------------------------------------------------------------


class Inner(BaseModel):
    name: str


class Nested(BaseModel):
    inner: Inner
    tags: list[str] = []


def test_type_schema_is_a_gts_schema_derived_from_the_base() -> None:
    schema = ECHO.type_schema()
    assert schema["$id"] == f"gts://{TYPE_ID}"
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["allOf"][0] == {"$ref": f"gts://{PLUGIN_BASE_TYPE_ID}"}
    overlay = schema["allOf"][1]["properties"]["properties"]
    assert set(overlay["properties"]) == {"prefix", "boost"}
    assert schema["description"] == "Echo things back."


def _base_schema() -> dict[str, Any]:
    return {
        "$id": f"gts://{PLUGIN_BASE_TYPE_ID}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["id", "vendor", "priority", "properties"],
        "properties": {
            "id": {"type": "string"},
            "vendor": {"type": "string"},
            "priority": {"type": "integer"},
            "properties": {"type": "object"},
        },
    }


def test_generated_schema_validates_instances_in_a_gts_store() -> None:
    class NP(Protocol):
        async def m(self, ctx: SecurityContext) -> None: ...

    contract = PluginContract(
        NP, type_id="gts.x.core.modkit.plugin.v1~x.test.nested.plugin.v1.0~", properties=Nested
    )
    schema = contract.type_schema()
    assert "definitions" in schema  # nested models are hoisted for draft-07 refs
    store = GtsStore()
    store.register(_base_schema())
    store.register(schema)
    store.validate_type_schema(contract.type_id)
    good = PluginSpec(
        contract.instance_id("x.test.n.plugin.v1"), "x", 1, {"inner": {"name": "a"}}
    ).instance_document()
    store.validate_instance_document(good, contract.type_id)
    bad = dict(good, properties={"inner": {"name": 3}})
    with pytest.raises(GtsValidationError):
        store.validate_instance_document(bad, contract.type_id)


def test_named_plugin_instances_are_distinct() -> None:
    a, b = Named("a"), Named("b")
    assert ECHO.bind(spec("a"), a).impl is a
    assert ECHO.bind(spec("b"), b).impl is b


def test_generated_schema_and_instances_go_through_the_types_registry() -> None:
    from plugway.registry import RegistryValidationError, TypesRegistry, open_backend

    registry = TypesRegistry(open_backend("memory"))
    registry.register(ECHO.type_schema())
    registry.register(PluginSpec(pid("good"), "x", 1, {"prefix": "p"}).instance_document())
    registry.register(PluginSpec(pid("bad"), "x", 1, {"boost": -3}).instance_document())
    with pytest.raises(RegistryValidationError) as info:
        registry.switch_to_ready()
    assert [p.gts_id for p in info.value.problems] == [pid("bad")]
    assert "properties.boost" in str(info.value)
    registry.close()
