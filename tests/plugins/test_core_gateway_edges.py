"""Gateway edge cases users hit: outcomes, joining plugins, rollbacks, no-op changes, shadows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from plugins_core_support import ECHO, Failing, Hanging, Named, pid, spec

from plugway.plugins import Gateway, GatewayCallError, SecurityContext

CTX = SecurityContext("t1", "u1")


def make(*plugins: tuple[str, object, str, int], **kw: Any) -> Gateway[Any]:
    gw: Gateway[Any] = Gateway("echo", ECHO, **kw)
    gw.sync_plugins([(spec(n, v, p), impl) for n, impl, v, p in plugins])
    return gw


async def test_the_outcome_names_the_plugin_that_served_and_every_attempt() -> None:
    routing = {
        "rules": [{"name": "r", "target": {"plugin": pid("p")}, "fallback": [{"plugin": pid("q")}]}]
    }
    gw = make(("p", Failing("p"), "x", 1), ("q", Named("q"), "y", 2))
    gw.apply_routing(routing, who="test")
    outcome = await gw.call_with_outcome("echo", CTX, "hi")
    assert outcome.result == "q:hi" and outcome.plugin == pid("q")
    assert (outcome.rule, outcome.rule_index, outcome.revision) == ("r", 0, gw.revision)
    assert [(a.plugin, a.error) for a in outcome.attempts] == [
        (pid("p"), "RuntimeError: p is broken"),
        (pid("q"), None),
    ]
    assert outcome.to_dict()["attempts"][1] == {"plugin": pid("q"), "error": None}
    with pytest.raises(GatewayCallError, match="no such method"):
        await gw.call_with_outcome("nope", CTX)


async def test_a_plugin_that_joins_never_takes_the_default_route_by_itself() -> None:
    served = Named("a")
    gw = make(("a", served, "x", 20))
    assert await gw.client.echo(CTX, "1") == "a:1"
    # a plugin of the same vendor with a lower priority joins while serving
    gw.sync_plugins(
        [(spec("a", "x", 20), served), (spec("b", "x", 10), Named("b"))], keep_default=True
    )
    assert await gw.client.echo(CTX, "2") == "a:2"
    e = gw.explain(CTX)
    assert e.plugin_id == pid("a") and "'default'" in e.reason
    rev = gw.record_plugin_change(who="registry", what=f"plugin {pid('b')} joined")
    assert rev.routing["default"] == {"plugin": pid("a")}  # durable: a restart keeps it
    restarted: Gateway[Any] = Gateway("echo", ECHO, store=gw.store)
    restarted.sync_plugins([(spec("a", "x", 20), Named("a")), (spec("b", "x", 10), Named("b"))])
    assert restarted.decide(CTX).plugin_id == pid("a")
    # routing says otherwise: the new plugin serves
    gw.apply_routing({"default": {"plugin": pid("b")}}, who="admin")
    assert await gw.client.echo(CTX, "3") == "b:3"
    # without keep_default (building a gateway), the lowest priority serves as before
    assert make(("a", Named("a"), "x", 20), ("b", Named("b"), "x", 10)).decide(
        CTX
    ).plugin_id == pid("b")


async def test_a_pinned_default_that_leaves_falls_back_to_the_vendor_rule() -> None:
    gw = make(("a", Named("a"), "x", 20), ("b", Named("b"), "x", 10))
    gw.apply_routing({"default": {"plugin": pid("a")}}, who="admin")
    gw.sync_plugins([(spec("b", "x", 10), Named("b"))], keep_default=True)
    e = gw.explain(CTX)
    assert e.plugin_id == pid("b") and "is gone" in e.reason
    assert any("default.plugin" in w for w in gw.warnings)


async def test_applying_the_routing_that_serves_creates_no_revision() -> None:
    gw = make(("a", Named("a"), "x", 1))
    first = gw.apply_routing({"timeout": 2}, who="admin")
    again = gw.apply_routing({"timeout": 2.0}, who="admin")
    assert again.number == first.number == gw.revision
    assert len(gw.revisions()) == 2  # the initial routing and the one change


async def test_a_rollback_to_a_routing_naming_a_plugin_that_left_is_served_with_a_warning() -> None:
    gw = make(("a", Named("a"), "x", 1), ("b", Named("b"), "y", 1))
    old = gw.apply_routing(
        {"rules": [{"name": "vip", "target": {"plugin": pid("b")}}]}, who="admin"
    )
    gw.apply_routing({}, who="admin")
    gw.sync_plugins([(spec("a", "x", 1), Named("a"))])
    rev = gw.rollback(old.number, who="admin")
    assert rev.number == gw.revision and rev.routing == old.routing
    assert any(pid("b") in w for w in gw.warnings)
    assert await gw.client.echo(CTX, "x") == "a:x"  # the rule is skipped, the default serves
    assert "skipped" in gw.explain(CTX).steps[0]


async def test_attribute_names_are_case_insensitive_in_rules_and_contexts() -> None:
    gw = make(("a", Named("a"), "x", 1), ("b", Named("b"), "y", 1))
    gw.apply_routing(
        {
            "vendor": "x",
            "rules": [{"match": {"attributes": {"Region": ["eu"]}}, "target": {"vendor": "y"}}],
        },
        who="admin",
    )
    for ctx in (
        SecurityContext("t", "u", {"region": "eu"}),
        SecurityContext("t", "u", {"REGION": "eu"}),
    ):
        assert gw.explain(ctx).plugin_id == pid("b")
        assert await gw.client.echo(ctx, "x") == "b:x"
    assert await gw.client.echo(SecurityContext("t", "u", {"region": "EU"}), "x") == "a:x"


async def test_shadow_calls_are_bounded_in_number_and_time() -> None:
    hang = Hanging("h")
    gw = make(("a", Named("a"), "x", 1), ("h", hang, "y", 2), max_shadows=3, default_timeout=0.05)
    gw.apply_routing(
        {"rules": [{"name": "r", "target": {"plugin": pid("a")}, "shadow": {"plugin": pid("h")}}]},
        who="t",
    )
    for i in range(10):
        assert await gw.client.echo(CTX, str(i)) == f"a:{i}"
    await asyncio.sleep(0)  # let the shadow tasks start
    assert hang.calls == 3  # only three shadows in flight at once; the others were dropped
    series = gw.metrics.series("echo", pid("a"), "r")
    assert (series.shadow_calls, series.shadow_errors) == (10, 7)
    await asyncio.wait_for(gw.drain_shadows(), timeout=5)  # each shadow has the call's deadline
    assert series.shadow_errors == 10


async def test_a_revision_another_writer_committed_is_followed_once() -> None:
    one = make(("a", Named("a"), "x", 1), ("b", Named("b"), "y", 1))
    two: Gateway[Any] = Gateway("echo", ECHO, store=one.store)
    two.sync_plugins([(spec("a", "x", 1), Named("a"))])  # b is not installed on this replica
    rev = one.apply_routing(
        {
            "rules": [
                {"name": "r", "target": {"plugin": pid("b")}, "fallback": [{"plugin": pid("a")}]}
            ]
        },
        who="admin",
    )
    assert two.follow(rev) and two.revision == rev.number
    assert not two.follow(rev)  # late or repeated notifications change nothing
    assert any(pid("b") in w for w in two.warnings)
    assert await two.client.echo(CTX, "x") == "a:x"  # its fallback serves where b is missing
    assert await one.client.echo(CTX, "x") == "b:x"


async def test_a_rollback_keeps_the_default_route_a_joining_plugin_was_kept_off() -> None:
    gw = make(("a", Named("a"), "x", 20))
    before = gw.apply_routing({"timeout": 3}, who="admin")
    gw.apply_routing({"timeout": 4}, who="admin")
    gw.sync_plugins(
        [(spec("a", "x", 20), Named("a")), (spec("b", "x", 10), Named("b"))], keep_default=True
    )
    gw.record_plugin_change(who="registry", what="b joined")
    rev = gw.rollback(before.number, who="admin")
    assert rev.routing == {"timeout": 3, "default": {"plugin": pid("a")}}
    assert "keeps plugin:" in rev.what and gw.decide(CTX).plugin_id == pid("a")


async def test_a_plugin_set_that_comes_back_unchanged_keeps_the_state_serving() -> None:
    a, b = Named("a"), Named("b")
    gw = make(("a", a, "x", 1), ("b", b, "y", 2))
    state = gw.state
    breaker = gw.state.routes[0].breaker
    gw.sync_plugins([(spec("b", "y", 2), b), (spec("a", "x", 1), a)], keep_default=True)
    assert gw.state is state  # same specs, same objects: nothing recompiled
    assert gw.state.routes[0].breaker is breaker
    # a new priority, or another implementation object, is a change
    gw.sync_plugins([(spec("a", "x", 1), a), (spec("b", "y", 3), b)])
    assert gw.state is not state
    state = gw.state
    replaced = Named("a")
    gw.sync_plugins([(spec("a", "x", 1), replaced), (spec("b", "y", 3), b)])
    assert gw.state is not state
    assert await gw.client.echo(CTX, "x") == "a:x" and replaced.calls == 1 and a.calls == 0
    # a plugin that breaks the contract is reported on every sync, changed or not
    broken = object()
    for _ in range(2):
        bad = gw.sync_plugins([(spec("a", "x", 1), replaced), (spec("c", "z", 5), broken)])
        assert [p for p, _ in bad] == [pid("c")]
    assert set(gw.state.instances) == {pid("a")}


def _split(key: str, *names: str) -> dict[str, Any]:
    variants = [{"plugin": pid(n), "weight": 1} for n in names]
    return {"rules": [{"name": "ab", "split": {"key": key, "variants": variants}}]}


async def test_a_routing_that_reads_one_key_serves_each_key_from_a_bounded_memo() -> None:
    from plugway.plugins._state import MEMO_SIZE

    gw = make(("a", Named("a"), "x", 1), ("b", Named("b"), "y", 2), ("c", Named("c"), "z", 3))
    gw.apply_routing(_split("subject_id", "a", "b"), who="test")
    memo = gw.state.memo
    assert memo is not None and not gw.state.by_tenant
    users = [f"user-{i}" for i in range(MEMO_SIZE + 50)]  # more than the memo keeps
    for _ in range(2):
        for u in users:
            ctx = SecurityContext("t1", u)
            name = gw.explain(ctx).plugin_id.rsplit(".", 3)[-3]  # type: ignore[union-attr]
            assert await gw.client.echo(ctx, "q") == f"{name}:q"
    assert 0 < len(memo) <= MEMO_SIZE
    served = {await gw.client.echo(SecurityContext("t1", u), "q") for u in users[:200]}
    assert served == {"a:q", "b:q"}
    # a routing change builds a new state: no key keeps the route it had
    gw.apply_routing({"default": {"plugin": pid("c")}}, who="test")
    assert gw.state.memo is None  # one route for all
    assert {await gw.client.echo(SecurityContext("t1", u), "q") for u in users[:200]} == {"c:q"}
    gw.apply_routing(
        {
            "default": {"plugin": pid("c")},
            "rules": [{"match": {"tenant": ["t2"]}, "target": {"plugin": pid("a")}}],
        },
        who="test",
    )
    assert gw.state.memo is not None and gw.state.by_tenant  # the tenant alone decides
    assert await gw.client.echo(SecurityContext("t2", "user-1"), "q") == "a:q"
    assert await gw.client.echo(SecurityContext("t1", "user-1"), "q") == "c:q"


async def test_a_routing_that_reads_several_keys_decides_every_call() -> None:
    gw = make(("a", Named("a"), "x", 1), ("b", Named("b"), "y", 2))
    split = _split("subject_id", "a", "b")
    split["rules"].insert(0, {"match": {"tenant": ["vip"]}, "target": {"plugin": pid("b")}})
    gw.apply_routing(split, who="test")
    assert gw.state.memo is None  # tenant and subject: no memo by either alone
    for u in (f"user-{i}" for i in range(100)):
        assert await gw.client.echo(SecurityContext("vip", u), "q") == "b:q"
        ctx = SecurityContext("t1", u)
        name = gw.explain(ctx).plugin_id.rsplit(".", 3)[-3]  # type: ignore[union-attr]
        assert await gw.client.echo(ctx, "q") == f"{name}:q"
