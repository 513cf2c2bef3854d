"""Sticky bucketing properties: stable, weight-monotonic, rollout-monotonic, accurate splits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plugins_core_support import pid, spec

from plugway.plugins import SecurityContext
from plugway.plugins.routing import (
    N_BUCKETS,
    Router,
    key_hash,
    parse_routing,
    rendezvous_choice,
    rollout_bucket,
    salt_state,
)
from plugway.plugins.routing._hashing import BucketTable, bucket_of
from plugway.plugins.routing._rules import SplitRule

PLUGINS = [spec(n, "x", i) for i, n in enumerate("abcdef")]
KEYS = [f"user-{i}" for i in range(3000)]


def split_router(weights: dict[str, int], salt: str = "s") -> Router:
    doc = {
        "rules": [
            {
                "name": "ab",
                "split": {
                    "key": "subject_id",
                    "salt": salt,
                    "variants": [{"plugin": pid(n), "weight": w} for n, w in weights.items()],
                },
            }
        ]
    }
    return Router.compile(parse_routing(doc), PLUGINS, gateway="g")


def rollout_router(points: int) -> Router:
    doc = {
        "vendor": "x",
        "rules": [
            {
                "name": "ramp",
                "rollout": {
                    "key": "tenant_id",
                    "target": {"plugin": pid("f")},
                    "basis_points": points,
                },
            }
        ],
    }
    return Router.compile(parse_routing(doc), PLUGINS, gateway="g")


def assign(router: Router, keys: list[str], field: str = "subject_id") -> list[str | None]:
    if field == "subject_id":
        return [router.decide(SecurityContext("t", k)).plugin_id for k in keys]
    return [router.decide(SecurityContext(k, "u")).plugin_id for k in keys]


def test_hash_is_frozen() -> None:
    # known answers: changing the hash would silently move every user of every split
    state = salt_state("g/ab")
    assert state == 197085978
    assert [key_hash(state, k) for k in ("", "user-1", "tenant-42")] == [
        2029400536860967202,
        5246034577091413964,
        17877875789548275834,
    ]
    assert rollout_bucket(key_hash(state, "user-1")) == 2843


def test_same_key_same_plugin_across_compiles_and_processes() -> None:
    weights = {"a": 50, "b": 30, "c": 20}
    here = assign(split_router(weights), KEYS[:200])
    assert here == assign(split_router(weights), KEYS[:200])
    code = (
        "import json, sys\n"
        "sys.path.insert(0, 'tests/plugins')\n"
        "from test_core_hashing import split_router, assign, KEYS\n"
        f"print(json.dumps(assign(split_router({weights!r}), KEYS[:200])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],  # the code names tests/plugins from the root
        env={**os.environ, "PYTHONHASHSEED": "random"},  # hash() would differ: must not matter
    ).stdout
    assert json.loads(out) == here


def test_a_90_10_split_over_100000_keys_lands_within_one_percent() -> None:
    router = split_router({"a": 90, "b": 10})
    keys = [f"subject-{i}" for i in range(100_000)]
    got = assign(router, keys)
    share_b = got.count(pid("b")) / len(keys)
    assert abs(share_b - 0.10) <= 0.01
    assert got.count(pid("a")) + got.count(pid("b")) == len(keys)


weights_st = st.dictionaries(
    st.sampled_from("abcde"), st.integers(min_value=0, max_value=100), min_size=2, max_size=5
).filter(lambda w: sum(w.values()) > 0)


@settings(max_examples=25, deadline=None)
@given(weights=weights_st, data=st.data())
def test_raising_one_weight_only_moves_keys_into_that_variant(
    weights: dict[str, int], data: st.DataObject
) -> None:
    raised = data.draw(st.sampled_from(sorted(weights)))
    more = data.draw(st.integers(min_value=1, max_value=200))
    salt = data.draw(st.text(min_size=0, max_size=8))
    before = assign(split_router(weights, salt), KEYS)
    after = assign(split_router({**weights, raised: weights[raised] + more}, salt), KEYS)
    for b, a in zip(before, after, strict=True):
        assert a == b or a == pid(raised)


@settings(max_examples=25, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=6),
    bucket=st.integers(min_value=0, max_value=N_BUCKETS - 1),
    data=st.data(),
)
def test_reference_choice_is_monotonic_and_matches_the_table(
    weights: list[int], bucket: int, data: st.DataObject
) -> None:
    variants = [(f"plugin:{i}", w) for i, w in enumerate(weights)]
    if sum(weights) == 0:
        assert rendezvous_choice("s", bucket, variants) is None
        return
    winner = rendezvous_choice("s", bucket, variants)
    assert winner is not None and weights[winner] > 0
    j = data.draw(st.integers(min_value=0, max_value=len(weights) - 1))
    raised = list(variants)
    raised[j] = (raised[j][0], raised[j][1] + data.draw(st.integers(1, 100)))
    assert rendezvous_choice("s", bucket, raised) in (winner, j)
    # dropping a variant other than the winner never moves the bucket
    k = data.draw(st.integers(min_value=0, max_value=len(weights) - 1))
    if k != winner:
        dropped = [(lbl, 0 if i == k else w) for i, (lbl, w) in enumerate(variants)]
        assert rendezvous_choice("s", bucket, dropped) == winner


def test_table_agrees_with_the_reference_choice() -> None:
    variants = [("plugin:a", 3), ("plugin:b", 0), ("plugin:c", 5)]
    table = BucketTable("salt", variants)
    for b in range(0, N_BUCKETS, 97):
        assert table.winner(b) == rendezvous_choice("salt", b, variants)
        assert table.winner(b) == rendezvous_choice("salt", b, variants)  # the kept value
    with pytest.raises(ValueError, match="all be 0"):
        BucketTable("salt", [("plugin:a", 0)])
    with pytest.raises(ValueError, match="at most 255"):
        BucketTable("salt", [(f"plugin:{i}", 1) for i in range(256)])


def test_compiling_a_split_costs_nothing_per_bucket() -> None:
    router = split_router({n: 1 for n in "abcdef"})
    rule = router.rules[0]
    assert isinstance(rule, SplitRule)
    other = split_router({n: 1 for n in "abc"}).rules[0]
    assert isinstance(other, SplitRule)
    assert rule.table.cells is other.table.cells  # one shared unfilled table: nothing per split
    assert not isinstance(rule.table.cells, bytearray)
    router.decide(SecurityContext("t", "k"))
    assert isinstance(rule.table.cells, bytearray)
    assert sum(1 for v in rule.table.cells if v != 255) == 1  # only the bucket that was used
    assert all(v == 255 for v in other.table.cells)


def test_variant_order_does_not_matter() -> None:
    one = assign(split_router({"a": 70, "b": 20, "c": 10}), KEYS[:500])
    doc: dict[str, Any] = {"c": 10, "a": 70, "b": 20}
    assert assign(split_router(doc), KEYS[:500]) == one


@settings(max_examples=25, deadline=None)
@given(low=st.integers(0, 10_000), high=st.integers(0, 10_000))
def test_raising_a_rollout_only_moves_keys_into_the_target(low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    before = assign(rollout_router(low), KEYS, field="tenant_id")
    after = assign(rollout_router(high), KEYS, field="tenant_id")
    for b, a in zip(before, after, strict=True):
        assert a == b or a == pid("f")
        if b == pid("f"):
            assert a == pid("f")


def test_rollout_is_exact_in_basis_points() -> None:
    assert set(assign(rollout_router(0), KEYS, "tenant_id")) == {pid("a")}
    assert set(assign(rollout_router(10_000), KEYS, "tenant_id")) == {pid("f")}
    state = salt_state("g/ramp")
    for k in KEYS[:300]:
        inside = rollout_bucket(key_hash(state, k)) < 1234
        assert (rollout_router(1234).decide(SecurityContext(k)).plugin_id == pid("f")) is inside


@settings(max_examples=60, deadline=None)
@given(
    tenant=st.sampled_from(["", "t1", "t2", "t3"]),
    subject=st.text(max_size=6),
    region=st.sampled_from([None, "eu", "us"]),
)
def test_explain_always_agrees_with_decide(tenant: str, subject: str, region: str | None) -> None:
    router = _mixed_router()
    ctx = SecurityContext(tenant, subject, {"region": region} if region else {})
    d = router.decide(ctx)
    e = router.explain(ctx)
    assert (e.plugin_id, e.rule_index, e.fallback, e.shadow) == (
        d.plugin_id,
        d.rule_index,
        d.fallback,
        d.shadow,
    )


_MIXED: list[Router] = []


def _mixed_router() -> Router:
    if not _MIXED:
        doc = {
            "vendor": "x",
            "rules": [
                {"match": {"tenant": ["t1"]}, "target": {"plugin": pid("b")}},
                {
                    "name": "eu",
                    "match": {"attributes": {"region": "eu"}},
                    "rollout": {"key": "subject_id", "target": {"plugin": pid("c")}, "percent": 40},
                },
                {
                    "name": "ab",
                    "match": {"tenant": ["t2", "t3"]},
                    "split": {
                        "key": "subject_id",
                        "variants": [
                            {"plugin": pid("d"), "weight": 1},
                            {"plugin": pid("e"), "weight": 3},
                        ],
                    },
                    "fallback": [{"plugin": pid("a")}],
                    "shadow": {"plugin": pid("f")},
                },
            ],
        }
        _MIXED.append(Router.compile(parse_routing(doc), PLUGINS, gateway="g"))
    return _MIXED[0]


def test_bucket_helpers_are_in_range() -> None:
    h = key_hash(salt_state("x"), "k")
    assert 0 <= bucket_of(h) < N_BUCKETS and 0 <= rollout_bucket(h) < 10_000


_STICKY: list[Router] = []


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=40))
def test_any_key_is_sticky_across_independent_compiles(key: str) -> None:
    if not _STICKY:
        _STICKY.extend(split_router({"a": 3, "b": 2, "c": 1}) for _ in range(2))
    one, two = _STICKY
    ctx = SecurityContext("t", key)
    first = one.decide(ctx)
    assert first is one.decide(ctx)  # same call, same preallocated decision
    assert two.decide(SecurityContext("other-tenant", key)).plugin_id == first.plugin_id
