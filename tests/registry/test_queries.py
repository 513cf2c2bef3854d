"""Queries: patterns over an index, filters, keyset pagination, malformed input refused."""

from __future__ import annotations

import dataclasses
import random

import pytest

from plugway.gts import GtsPattern
from plugway.registry import (
    PLUGIN_BASE_TYPE_ID,
    EntityQuery,
    RegistryQueryError,
    SqliteBackend,
    TypesRegistry,
)
from plugway.registry._backend import prefix_upper_bound
from plugway.registry._query import scan_prefixes, to_scans

from ._builders import CONTRACT_T, ORDER_T, contract_type, order, order_type, plugin, type_doc


def _ids(reg: TypesRegistry, **kw: object) -> list[str]:
    return [e.gts_id for e in reg.list(EntityQuery(limit=10_000, **kw)).items]  # type: ignore[arg-type]


@pytest.fixture
def populated(registry: TypesRegistry) -> TypesRegistry:
    registry.register_many(
        [
            order_type(),
            *(order(f"o{i}") for i in range(5)),
            contract_type(),
            plugin("es"),
            plugin("solr", vendor="zeta"),
            type_doc("gts.acme.shop.orders.order.v1.1~", {"id": {"type": "string"}}),
            {"id": "gts.acme.shop.orders.order.v1.1~acme.shop.orders.late.v1"},
            type_doc("gts.acme.shop.orders.order.v10~"),
            type_doc("gts.beta.crm.people.person.v2~"),
        ]
    )
    return registry


def test_pattern_query(populated: TypesRegistry) -> None:
    late = "gts.acme.shop.orders.order.v1.1~acme.shop.orders.late.v1"
    orders = _ids(populated, pattern=ORDER_T + "*")  # no minor given: any minor matches
    assert orders == sorted([late, *(order(f"o{i}")["id"] for i in range(5))])
    assert _ids(populated, pattern="gts.acme.shop.orders.order.v1.1~*") == [late]
    # a type pattern without minor covers its minors, derived types and instances, not v10
    base = _ids(populated, pattern="gts.acme.shop.orders.order.v1~")
    assert "gts.acme.shop.orders.order.v1.1~" in base
    assert "gts.acme.shop.orders.order.v1.1~acme.shop.orders.late.v1" in base
    assert "gts.acme.shop.orders.order.v10~" not in base
    assert _ids(populated, pattern="gts.beta.*") == ["gts.beta.crm.people.person.v2~"]
    assert _ids(populated, pattern="gts.nobody.*") == []
    assert _ids(populated, pattern=CONTRACT_T + "*") == sorted(
        [plugin("es")["id"], plugin("solr", vendor="zeta")["id"]]
    )


def test_filters(populated: TypesRegistry) -> None:
    types = _ids(populated, is_type=True)
    assert PLUGIN_BASE_TYPE_ID in types and ORDER_T in types
    assert all(i.endswith("~") for i in types)
    assert not any(i.endswith("~") for i in _ids(populated, is_type=False))
    # "any" scope: vendor of any segment; "primary": the first segment only
    assert _ids(populated, vendor="zeta") == [plugin("solr", vendor="zeta")["id"]]
    assert _ids(populated, vendor="zeta", segment_scope="primary") == []
    assert _ids(populated, vendor="beta", segment_scope="primary") == [
        "gts.beta.crm.people.person.v2~"
    ]
    assert _ids(populated, package="search", pattern="gts.x.*", is_type=False) == sorted(
        [plugin("es")["id"], plugin("solr", vendor="zeta")["id"]]
    )
    assert _ids(populated, namespace="people") == ["gts.beta.crm.people.person.v2~"]


def test_pagination_walks_everything_once(populated: TypesRegistry) -> None:
    everything = _ids(populated)
    for query in (EntityQuery(limit=3), EntityQuery(pattern="gts.acme.*", limit=2)):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = populated.list(dataclasses.replace(query, cursor=cursor))
            assert len(page.items) <= query.limit
            seen.extend(e.gts_id for e in page.items)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(seen)
        expected = [i for i in everything if query.pattern is None or i.startswith("gts.acme.")]
        assert seen == expected
        assert pages == -(-len(expected) // query.limit)


@pytest.mark.parametrize(
    "pattern",
    ["gts.acme.shop.*x", "gts.acme.**", "acme.*", "gts.acme.shop.orders.order.v1~a*", "", "*"],
)
def test_malformed_pattern_is_an_error_naming_it(populated: TypesRegistry, pattern: str) -> None:
    with pytest.raises(RegistryQueryError) as info:
        populated.list(EntityQuery(pattern=pattern))
    assert repr(pattern) in str(info.value)
    assert info.value.field == "pattern"


@pytest.mark.parametrize("cursor", ["", "garbage!", "eyJhIjogMX0", "W10"])
def test_malformed_cursor_is_an_error(populated: TypesRegistry, cursor: str) -> None:
    with pytest.raises(RegistryQueryError, match="cursor") as info:
        populated.list(EntityQuery(cursor=cursor))
    assert info.value.field == "cursor"


def test_cursor_of_another_query_is_refused(populated: TypesRegistry) -> None:
    page = populated.list(EntityQuery(limit=2))
    assert page.next_cursor is not None
    with pytest.raises(RegistryQueryError, match="different filters"):
        populated.list(EntityQuery(limit=2, is_type=True, cursor=page.next_cursor))


@pytest.mark.parametrize(
    "kw",
    [
        {"limit": 0},
        {"limit": 10_001},
        {"limit": True},
        {"vendor": "Acme"},
        {"vendor": "a|v:b"},
        {"namespace": ""},
        {"segment_scope": "all"},
        {"is_type": "yes"},
    ],
)
def test_malformed_filters_are_errors(populated: TypesRegistry, kw: dict[str, object]) -> None:
    with pytest.raises(RegistryQueryError) as info:
        populated.list(EntityQuery(**kw))  # type: ignore[arg-type]
    assert info.value.field == next(iter(kw))


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound("gts.a.") == "gts.a/"
    assert prefix_upper_bound("ab~") == "ab\x7f"
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("a\U0010ffff") == "b"
    for s in ("gts.a.", "gts.a.b", "gts.a.\x7f\x7f"):
        assert "gts.a." <= s < "gts.a/"
    assert not ("gts.a." <= "gts.a/" < "gts.a/")


def test_scan_prefixes_split_at_segments_without_minor() -> None:
    p = GtsPattern.parse(CONTRACT_T + "*")
    assert scan_prefixes(p) == sorted(
        [
            "gts.x.core.modkit.plugin.v1.",
            "gts.x.core.modkit.plugin.v1~acme.search.docs.plugin.v1.",
            CONTRACT_T,
        ]
    )
    assert scan_prefixes(GtsPattern.parse("gts.*")) == ["gts."]
    assert scan_prefixes(GtsPattern.parse("gts.a.b.c.d.v1.2~*")) == ["gts.a.b.c.d.v1.2~"]


_VENDORS = ("acme", "beta", "x")
_WORDS = ("a", "b", "ab")


def _random_ids(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        segs = []
        for _ in range(rng.randint(1, 3)):
            ver = f"v{rng.choice([1, 2, 10])}" + rng.choice(["", ".0", ".1"])
            segs.append(
                f"{rng.choice(_VENDORS)}.{rng.choice(_WORDS)}.{rng.choice(_WORDS)}."
                f"{rng.choice(_WORDS)}.{ver}"
            )
        head = "gts." + "~".join(segs)
        if rng.random() < 0.5 and len(segs) > 1:
            out.add(head)  # instance
        else:
            out.add(head + "~")
    return sorted(out)


def test_indexed_queries_agree_with_a_full_scan(registry: TypesRegistry) -> None:
    """The range scans must never lose a match: compare with pattern.matches over everything."""
    rng = random.Random(7)
    ids = _random_ids(rng, 300)
    docs = [type_doc(i) if i.endswith("~") else {"id": i} for i in ids]
    results = registry.register_many(docs)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    everything = _ids(registry)
    patterns = {"gts.*"}
    for i in rng.sample(ids, 60):
        patterns.add(i)
        cut = [k for k, ch in enumerate(i) if ch in ".~" and k > 4]
        k = rng.choice(cut)
        patterns.add(i[: k + 1] + "*")
        patterns.add(i.replace(".0~", "~").replace(".1~", "~"))
    checked = 0
    for text in sorted(patterns):
        try:
            pat = GtsPattern.parse(text)
        except Exception:
            continue
        expected = [i for i in everything if pat.matches(i)]
        assert _ids(registry, pattern=text) == expected, text
        paged: list[str] = []
        cursor = None
        while True:
            page = registry.list(EntityQuery(pattern=text, limit=4, cursor=cursor))
            paged.extend(e.gts_id for e in page.items)
            if (cursor := page.next_cursor) is None:
                break
        assert paged == expected, text
        checked += 1
    assert checked > 100


def test_sqlite_pattern_query_uses_the_primary_key(tmp_path: object) -> None:
    from pathlib import Path

    backend = SqliteBackend(Path(str(tmp_path)) / "r.db")
    try:
        (scan, *_rest) = to_scans(EntityQuery(pattern="gts.acme.*"))
        plan = backend.explain(scan)
        assert "SEARCH" in plan and "PRIMARY KEY" in plan and "gts_id>? AND gts_id<?" in plan
    finally:
        backend.close()


def test_pattern_query_cost_follows_matches_not_size(
    make_registry: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count pattern tests per query: the same at 60 and 600 entities, so the index is used."""
    assert callable(make_registry)
    calls = 0
    real = GtsPattern.matches

    def counting(self: GtsPattern, candidate: object) -> bool:
        nonlocal calls
        calls += 1
        return real(self, candidate)  # type: ignore[arg-type]

    counts = []
    reg: TypesRegistry = make_registry()
    for vendor, size in (("a", 60), ("b", 600)):  # the registry grows from 61 to 661 entities
        reg.register_many([type_doc(f"gts.{vendor}{g:04d}.pkg.ns.thing.v1~") for g in range(size)])
        monkeypatch.setattr(GtsPattern, "matches", counting)
        calls = 0
        page = reg.list(EntityQuery(pattern=f"gts.{vendor}0007.*"))
        assert [e.gts_id for e in page.items] == [f"gts.{vendor}0007.pkg.ns.thing.v1~"]
        counts.append(calls)
        monkeypatch.setattr(GtsPattern, "matches", real)
    assert counts[0] == counts[1] <= 2
