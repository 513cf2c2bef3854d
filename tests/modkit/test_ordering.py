"""Start-up order: deterministic whatever the input order, cycles and unknown deps named."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.modkit import DependencyCycleError, UnknownDependencyError, topological_order

GRAPH = {
    "types_registry": [],
    "tenant_resolver": ["types_registry"],
    "static_tenants": ["tenant_resolver", "types_registry"],
    "single_tenant": ["tenant_resolver", "types_registry"],
    "doc_search": ["types_registry"],
    "bm25": ["doc_search"],
    "admin": [],
}


def test_ties_are_broken_by_name() -> None:
    assert topological_order(GRAPH) == (
        "admin",
        "types_registry",
        "doc_search",
        "bm25",
        "tenant_resolver",
        "single_tenant",
        "static_tenants",
    )


def test_order_is_the_same_for_every_input_order() -> None:
    expected = topological_order(GRAPH)
    rng = random.Random(1234)
    for _ in range(200):
        names = list(GRAPH)
        rng.shuffle(names)
        shuffled = {n: rng.sample(GRAPH[n], len(GRAPH[n])) for n in names}
        assert topological_order(shuffled) == expected


def test_cycle_is_refused_with_its_path() -> None:
    with pytest.raises(DependencyCycleError) as info:
        topological_order({"a": ["c"], "b": ["a"], "c": ["b"], "z": []})
    # a depends on c, c on b, b on a: the path follows dependencies from the smallest name.
    assert info.value.path == ("a", "c", "b", "a")
    assert str(info.value) == "dependency cycle: a -> c -> b -> a"


def test_cycle_path_leaves_out_modules_that_only_hang_off_the_cycle() -> None:
    graph = {"app": ["m"], "m": ["n"], "n": ["o"], "o": ["m"], "base": []}
    with pytest.raises(DependencyCycleError, match=r"m -> n -> o -> m$") as info:
        topological_order(graph)
    assert "app" not in info.value.path


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(DependencyCycleError, match="dependency cycle: a -> a"):
        topological_order({"a": ["a"]})


def test_cycle_message_is_the_same_for_every_input_order() -> None:
    graph = {"x": ["y"], "y": ["z"], "z": ["x"], "w": ["x"]}
    messages = set()
    rng = random.Random(7)
    for _ in range(50):
        names = list(graph)
        rng.shuffle(names)
        with pytest.raises(DependencyCycleError) as info:
            topological_order({n: graph[n] for n in names})
        messages.add(str(info.value))
    assert messages == {"dependency cycle: x -> y -> z -> x"}


def test_unknown_dependency_is_named() -> None:
    with pytest.raises(UnknownDependencyError) as info:
        topological_order({"doc_search": ["types_registry", "ghost"], "types_registry": []})
    assert info.value.module == "doc_search"
    assert info.value.dependency == "ghost"
    assert "'doc_search' depends on 'ghost'" in str(info.value)


def test_empty_graph() -> None:
    assert topological_order({}) == ()


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    names = draw(st.lists(st.from_regex(r"[a-z]{1,4}", fullmatch=True), unique=True, max_size=12))
    graph: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        earlier = names[:i]
        graph[name] = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
    return graph


@settings(max_examples=150, deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_any_dag_orders_deps_first_and_ignores_input_order(
    graph: dict[str, list[str]], rng: random.Random
) -> None:
    order = topological_order(graph)
    assert sorted(order) == sorted(graph)
    position = {name: i for i, name in enumerate(order)}
    for name, deps in graph.items():
        for dep in deps:
            assert position[dep] < position[name]
    names = list(graph)
    rng.shuffle(names)
    assert topological_order({n: list(reversed(graph[n])) for n in names}) == order
