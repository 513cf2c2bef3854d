"""@module declarations: names, deps, config models, hooks, capabilities."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from plugway.modkit import (
    BackgroundCapable,
    EmptyConfig,
    Module,
    ModuleConfig,
    ModuleContext,
    ModuleDeclarationError,
    RestCapable,
    module,
    module_spec,
)


class SearchConfig(ModuleConfig):
    max_results: int = 10


def test_spec_records_name_deps_config_and_class() -> None:
    @module(name="doc_search", deps=("types_registry",), config=SearchConfig)
    class DocSearch(Module):
        pass

    spec = module_spec(DocSearch)
    assert spec.name == "doc_search"
    assert spec.deps == ("types_registry",)
    assert spec.config is SearchConfig
    assert spec.cls is DocSearch
    assert spec.capabilities == frozenset()


def test_module_without_config_gets_the_empty_config() -> None:
    @module(name="plain")
    class Plain(Module):
        pass

    assert module_spec(Plain).config is EmptyConfig


def test_capabilities_are_structural() -> None:
    @module(name="web_and_worker")
    class Both(Module):
        def rest_router(self) -> Any:
            return "router"

        async def run(self, ctx: ModuleContext) -> None:
            return None

    @module(name="nothing")
    class Nothing(Module):
        pass

    assert module_spec(Both).capabilities == frozenset({"rest", "background"})
    assert isinstance(Both(), RestCapable)
    assert isinstance(Both(), BackgroundCapable)
    assert not isinstance(Nothing(), RestCapable)
    assert not isinstance(Nothing(), BackgroundCapable)


@pytest.mark.parametrize("name", ["DocSearch", "doc-search", "1st", "a__b", "b_", "", "_x"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ModuleDeclarationError, match="invalid"):
        module(name=name)


def test_bad_dependency_name_is_refused_naming_the_module() -> None:
    with pytest.raises(ModuleDeclarationError, match="module 'a': dependency 'Types' is invalid"):
        module(name="a", deps=["Types"])


def test_deps_as_a_plain_string_is_refused() -> None:
    with pytest.raises(ModuleDeclarationError, match="not the string"):
        module(name="a", deps="types_registry")


def test_duplicate_and_self_dependencies_are_refused() -> None:
    with pytest.raises(ModuleDeclarationError, match="listed twice: b"):
        module(name="a", deps=["b", "b"])
    with pytest.raises(ModuleDeclarationError, match="'a' depends on itself"):
        module(name="a", deps=["a"])


def test_config_model_must_refuse_unknown_keys() -> None:
    class Lenient(BaseModel):
        x: int = 1

    with pytest.raises(ModuleDeclarationError, match="config model Lenient must refuse"):
        module(name="a", config=Lenient)


def test_nested_config_models_must_refuse_unknown_keys_too() -> None:
    class Inner(BaseModel):
        y: int = 1

    class Outer(ModuleConfig):
        items: list[Inner | None] = Field(default_factory=list)

    with pytest.raises(ModuleDeclarationError, match=r"config model Outer\.items must refuse"):
        module(name="a", config=Outer)


def test_nested_strict_models_are_accepted() -> None:
    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        y: int = 1

    class Outer(ModuleConfig):
        by_key: dict[str, Inner] = Field(default_factory=dict)
        one: Inner | None = None

    @module(name="a", config=Outer)
    class A(Module):
        pass

    assert module_spec(A).config is Outer


def test_config_must_be_a_pydantic_model() -> None:
    with pytest.raises(ModuleDeclarationError, match="must be a pydantic BaseModel"):
        module(name="a", config=dict)  # type: ignore[arg-type]


def test_hooks_must_be_async() -> None:
    with pytest.raises(ModuleDeclarationError, match=r"Sync\.init must be async"):

        @module(name="sync")
        class Sync(Module):
            def init(self, ctx: ModuleContext) -> None:  # type: ignore[override]
                pass


def test_run_must_be_async() -> None:
    with pytest.raises(ModuleDeclarationError, match=r"Worker\.run must be async"):

        @module(name="worker")
        class Worker(Module):
            def run(self, ctx: ModuleContext) -> None:
                pass


def test_decorator_applies_to_module_subclasses_only() -> None:
    with pytest.raises(ModuleDeclarationError, match="subclasses of Module"):

        @module(name="stray")
        class Stray:  # type: ignore[type-var]
            pass


def test_undecorated_and_inherited_classes_have_no_spec() -> None:
    @module(name="base_mod")
    class Base(Module):
        pass

    class Derived(Base):
        pass

    with pytest.raises(ModuleDeclarationError, match="not declared with @module"):
        module_spec(Derived)
    with pytest.raises(ModuleDeclarationError, match="not declared with @module"):
        module_spec(Module)
