"""Property: over generated routing documents, plugin sets and contexts, what explain reports is
the decision that serves -- for every rule kind, and through a real gateway call."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plugins_core_support import ECHO, Named, pid, spec

from plugway.plugins import Gateway, SecurityContext
from plugway.plugins.routing import Router, parse_routing

NAMES = ["a", "b", "c", "d", "e"]
VENDORS = ["acme", "other", "third"]
TENANTS = ["", "t1", "t2", "t3"]
SUBJECTS = ["", "u1", "u2", "alice", "bob", "éva"]
REGIONS = [None, "eu", "us"]


def targets() -> st.SearchStrategy[dict[str, str]]:
    # some name plugins that may not be held, some vendors that may have none
    return st.one_of(
        st.sampled_from(NAMES).map(lambda n: {"plugin": pid(n)}),
        st.sampled_from(VENDORS).map(lambda v: {"vendor": v}),
    )


@st.composite
def matches(draw: st.DrawFn) -> dict[str, Any] | None:
    if not draw(st.booleans()):
        return None
    m: dict[str, Any] = {}
    if draw(st.booleans()):
        m["tenant"] = draw(st.lists(st.sampled_from(TENANTS[1:]), min_size=1, max_size=2))
    if draw(st.booleans()):
        m["subject"] = draw(st.lists(st.sampled_from(SUBJECTS[1:]), min_size=1, max_size=3))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["region", "Region", "REGION"]))  # names are case-insensitive
        m["attributes"] = {name: draw(st.lists(st.sampled_from(["eu", "us"]), min_size=1))}
    return m or None


KEYS = ["tenant_id", "subject_id", "attributes.region", "attributes.Region"]


@st.composite
def rules(draw: st.DrawFn, index: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": f"r{index}"}
    m = draw(matches())
    if m is not None:
        rule["match"] = m
    kind = draw(st.sampled_from(["target", "split", "rollout"]))
    if kind == "target":
        rule["target"] = draw(targets())
    elif kind == "split":
        variants = draw(st.lists(targets(), min_size=1, max_size=4, unique_by=str))
        rule["split"] = {
            "key": draw(st.sampled_from(KEYS)),
            "variants": [{**t, "weight": draw(st.integers(0, 5))} for t in variants],
        }
        if not any(v["weight"] for v in rule["split"]["variants"]):
            rule["split"]["variants"][0]["weight"] = 1
    else:
        rule["rollout"] = {
            "key": draw(st.sampled_from(KEYS)),
            "target": draw(targets()),
            "basis_points": draw(st.sampled_from([0, 1, 2500, 5000, 9999, 10_000])),
        }
    if draw(st.booleans()):
        rule["fallback"] = draw(st.lists(targets(), max_size=2))
    if draw(st.booleans()):
        rule["shadow"] = draw(targets())
    return rule


@st.composite
def routings(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 5))
    doc: dict[str, Any] = {"rules": [draw(rules(i)) for i in range(n)]}
    if draw(st.booleans()):
        doc["vendor"] = draw(st.sampled_from(VENDORS))
    if draw(st.booleans()):
        doc["fallback"] = draw(st.lists(targets(), max_size=2))
    if draw(st.booleans()):
        doc["default"] = draw(targets())
    return doc


@st.composite
def plugin_sets(draw: st.DrawFn) -> list[tuple[str, str, int]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    return [(n, draw(st.sampled_from(VENDORS)), draw(st.integers(1, 3))) for n in names]


def contexts() -> st.SearchStrategy[SecurityContext]:
    return st.builds(
        lambda t, s, r, case: SecurityContext(t, s, {case: r} if r else {}),
        st.sampled_from(TENANTS),
        st.sampled_from(SUBJECTS),
        st.sampled_from(REGIONS),
        st.sampled_from(["region", "Region"]),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=routings(), plugins=plugin_sets(), ctxs=st.lists(contexts(), min_size=1, max_size=8))
def test_explain_reports_the_decision_for_every_rule_kind(
    doc: dict[str, Any], plugins: list[tuple[str, str, int]], ctxs: list[SecurityContext]
) -> None:
    held = [spec(n, v, p) for n, v, p in plugins]
    router = Router.compile(parse_routing(doc), held, gateway="g", strict=False)
    for ctx in ctxs:
        d = router.decide(ctx)
        e = router.explain(ctx)
        assert (e.plugin_id, e.rule_index, e.rule_name, e.fallback, e.shadow) == (
            d.plugin_id,
            d.rule_index,
            d.rule_name,
            d.fallback,
            d.shadow,
        )
        if d.rule_index is not None:
            assert e.steps[-1].startswith(f"rule {d.rule_index} ") and e.steps[-1].endswith(
                "chosen"
            )
        else:
            assert e.reason.startswith("default route")
        assert router.decide(ctx) is d  # decisions are preallocated and sticky


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=routings(), plugins=plugin_sets(), ctxs=st.lists(contexts(), min_size=1, max_size=5))
async def test_the_plugin_that_serves_a_call_is_the_one_explain_names(
    doc: dict[str, Any], plugins: list[tuple[str, str, int]], ctxs: list[SecurityContext]
) -> None:
    # the document is served as a store's latest revision is: targets without a plugin dropped
    gw: Gateway[Any] = Gateway("g", ECHO, routing=doc)
    gw.sync_plugins([(spec(n, v, p), Named(n)) for n, v, p in plugins])
    for _ in range(2):  # the second pass serves from the state's memo where routing keeps one
        for ctx in ctxs:
            e = gw.explain(ctx)
            if e.plugin_id is None:
                continue
            name = e.plugin_id.rsplit(".", 3)[-3]
            outcome = await gw.call_with_outcome("echo", ctx, "x")
            assert outcome.plugin == e.plugin_id
            assert outcome.result == f"{name}:x"
            assert (outcome.rule_index, outcome.revision) == (e.rule_index, e.revision)
            assert await gw.client.echo(ctx, "y") == f"{name}:y"  # the client's inline path
    await gw.drain_shadows()
