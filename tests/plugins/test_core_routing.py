"""Routing documents and the compiled router: validation with field paths, decisions, explain."""

from __future__ import annotations

from typing import Any

import pytest
from plugins_core_support import pid, spec

from plugway.plugins import PluginSpec, SecurityContext
from plugway.plugins.errors import InvalidContextError, RoutingConfigError
from plugway.plugins.routing import Router, RoutingConfig, parse_routing

PLUGINS = [
    spec("a", "acme", 20),
    spec("b", "acme", 10),
    spec("c", "other", 5),
    spec("d", "acme", 10),
]


def compile_(doc: dict[str, Any], plugins: list[PluginSpec] = PLUGINS, **kw: Any) -> Router:
    return Router.compile(parse_routing(doc), plugins, gateway="g", **kw)


def paths(doc: Any) -> set[str]:
    with pytest.raises(RoutingConfigError) as info:
        parse_routing(doc)
    return {p.path for p in info.value.problems}


def test_invalid_documents_are_refused_with_every_field_path() -> None:
    doc = {
        "timeout": 0,
        "vendor": "",
        "rules": [
            {"split": {"key": "tenant", "variants": [{"plugin": "a", "weight": -1}]}},
            {"target": {"plugin": "a", "vendor": "b"}},
            {"rollout": {"key": "tenant_id", "target": {"plugin": "a"}, "basis_points": 10001}},
            {"rollout": {"key": "tenant_id", "target": {"plugin": "a"}, "percent": 1.234}},
            {"target": {"plugin": "a"}, "split": {"key": "tenant_id", "variants": []}},
            {"target": {"plugin": "a"}, "typo": 1},
            {"target": {"plugin": "a"}, "match": {"tenant": []}},
        ],
    }
    assert paths(doc) == {
        "timeout",
        "vendor",
        "rules[0].split.key",
        "rules[0].split.variants[0].weight",
        "rules[1].target",
        "rules[2].rollout.basis_points",
        "rules[3].rollout.percent",
        "rules[4].split.variants",
        "rules[5].typo",
        "rules[6].match",
    }


def test_more_refusals() -> None:
    assert paths([1]) == {""}
    assert paths({"rules": [{"name": "x", "match": {}}]}) == {"rules[0]"}  # no target
    assert paths({"rules": [{"name": "x", "target": {"vendor": "a"}}] * 2}) == {""}
    split = {"key": "subject_id", "variants": [{"plugin": "a", "weight": 0}]}
    assert paths({"rules": [{"split": split}]}) == {"rules[0].split"}
    dup = {"key": "subject_id", "variants": [{"plugin": "a", "weight": 1}] * 2}
    assert paths({"rules": [{"split": dup}]}) == {"rules[0].split"}


def test_documents_round_trip() -> None:
    doc = {
        "vendor": "acme",
        "timeout": 0.5,
        "rules": [
            {
                "name": "r",
                "match": {"tenant": ["t1"], "attributes": {"region": ["eu"]}},
                "rollout": {"key": "attributes.region", "target": {"vendor": "x"}, "percent": 12.5},
                "fallback": [{"plugin": "p"}],
            }
        ],
    }
    cfg = parse_routing(doc)
    assert cfg.rules[0].rollout is not None and cfg.rules[0].rollout.points == 1250
    assert parse_routing(cfg.document()) == cfg
    assert parse_routing({"rules": [{"match": {"tenant": "t1"}, "target": {"vendor": "v"}}]})


def test_default_route_is_vendor_then_lowest_priority_then_id() -> None:
    r = compile_({"vendor": "acme"})
    assert r.fixed is r.default
    assert r.decide(SecurityContext("t")).plugin_id == pid("b")  # b and d tie at 10: b < d
    assert compile_({}).decide(SecurityContext()).plugin_id == pid("c")  # any vendor
    assert compile_({"vendor": "other"}).decide(SecurityContext()).plugin_id == pid("c")
    empty = Router.compile(RoutingConfig(), [], gateway="g")
    assert empty.decide(SecurityContext()).plugin_id is None


def test_decisions_are_preallocated_values() -> None:
    r = compile_({"rules": [{"match": {"tenant": ["t1"]}, "target": {"plugin": pid("a")}}]})
    d1 = r.decide(SecurityContext("t1"))
    assert d1 is r.decide(SecurityContext("t1", "other"))
    assert d1 is r.decisions[d1.slot]
    assert (d1.plugin_id, d1.rule_index, d1.rule_label) == (pid("a"), 0, "rule0")
    assert r.decide(SecurityContext("t2")) is r.default


def test_rules_match_tenant_subject_and_attributes_in_order() -> None:
    r = compile_(
        {
            "vendor": "acme",
            "rules": [
                {
                    "name": "eu-vip",
                    "match": {"subject": ["vip"], "attributes": {"region": ["eu", "uk"]}},
                    "target": {"plugin": pid("a")},
                },
                {"name": "t", "match": {"tenant": ["t1", "t2"]}, "target": {"vendor": "other"}},
            ],
        }
    )
    assert r.decide(SecurityContext("t1", "vip", {"region": "uk"})).plugin_id == pid("a")
    assert r.decide(SecurityContext("t1", "vip", {"region": "us"})).plugin_id == pid("c")
    assert r.decide(SecurityContext("t2", "x")).rule_name == "t"
    assert r.decide(SecurityContext("t3", "vip")).plugin_id == pid("b")


def test_fallback_and_shadow_are_resolved_without_the_primary() -> None:
    r = compile_(
        {
            "fallback": [{"vendor": "other"}],
            "rules": [
                {
                    "match": {"tenant": ["t1"]},
                    "target": {"plugin": pid("a")},
                    "fallback": [{"plugin": pid("a")}, {"vendor": "acme"}, {"vendor": "other"}],
                    "shadow": {"plugin": pid("d")},
                }
            ],
        }
    )
    d = r.decide(SecurityContext("t1"))
    assert d.fallback == (pid("b"), pid("c")) and d.shadow == pid("d")
    assert r.default.fallback == ()  # default plugin is c itself


def test_strict_compile_refuses_unknown_targets_with_paths() -> None:
    doc = {
        "vendor": "nobody",
        "rules": [
            {"target": {"plugin": pid("zz")}, "fallback": [{"vendor": "ghost"}]},
            {
                "split": {
                    "key": "subject_id",
                    "variants": [{"plugin": pid("a"), "weight": 1}, {"vendor": "v", "weight": 1}],
                }
            },
            {"rollout": {"key": "tenant_id", "target": {"plugin": "p"}, "basis_points": 5}},
            {"target": {"plugin": pid("a")}, "shadow": {"vendor": "none"}},
        ],
    }
    with pytest.raises(RoutingConfigError) as info:
        compile_(doc)
    assert {p.path for p in info.value.problems} == {
        "vendor",
        "rules[0].target.plugin",
        "rules[0].fallback[0].vendor",
        "rules[1].split.variants[1].vendor",
        "rules[2].rollout.target.plugin",
        "rules[3].shadow.vendor",
    }
    split_fallback = {
        "rules": [
            {
                "split": {
                    "key": "subject_id",
                    "variants": [
                        {"plugin": pid("a"), "weight": 1},
                        {"plugin": pid("b"), "weight": 1},
                    ],
                },
                "fallback": [{"plugin": "ghost"}],
            }
        ]
    }
    with pytest.raises(RoutingConfigError) as info2:
        compile_(split_fallback)
    assert [p.path for p in info2.value.problems] == ["rules[0].fallback[0].plugin"]
    lax = compile_(doc, strict=False)
    assert len(lax.warnings) == 6
    d = lax.decide(SecurityContext("t", "u"))
    assert d.plugin_id == pid("a") and d.rule_index == 1  # rule 0 skipped; split keeps a only
    promoted = compile_(
        {"rules": [{"target": {"plugin": "gone"}, "fallback": [{"vendor": "other"}]}]},
        strict=False,
    )
    assert promoted.decide(SecurityContext()).plugin_id == pid("c")
    assert "first available fallback serves" in promoted.explain(SecurityContext()).reason


def test_rollout_sends_a_share_and_lets_the_rest_fall_through() -> None:
    r = compile_(
        {
            "vendor": "acme",
            "rules": [
                {
                    "name": "ramp",
                    "rollout": {"key": "tenant_id", "target": {"plugin": pid("c")}, "percent": 30},
                }
            ],
        }
    )
    chosen = [r.decide(SecurityContext(f"t{i}")).plugin_id for i in range(2000)]
    assert set(chosen) == {pid("b"), pid("c")}
    assert 0.25 < chosen.count(pid("c")) / 2000 < 0.35
    assert r.decide(SecurityContext("")).plugin_id == pid("b")  # no key: not in the rollout


def test_explain_names_rule_reason_fallback_and_revision() -> None:
    r = compile_(
        {
            "vendor": "acme",
            "rules": [
                {"name": "t1", "match": {"tenant": ["t1"]}, "target": {"vendor": "other"}},
                {
                    "name": "ab",
                    "split": {
                        "key": "attributes.session",
                        "variants": [
                            {"plugin": pid("a"), "weight": 1},
                            {"plugin": pid("d"), "weight": 1},
                        ],
                    },
                    "fallback": [{"plugin": pid("b")}],
                },
            ],
        },
        revision=7,
    )
    e = r.explain(SecurityContext("t2", "u", {"session": "s1"}))
    assert e.rule_name == "ab" and e.revision == 7 and e.gateway == "g"
    assert e.plugin_id in (pid("a"), pid("d")) and e.fallback == (pid("b"),)
    assert "sticky split on attributes.session='s1'" in e.reason
    assert e.steps[0].startswith("rule 0 't1': no match")
    e2 = r.explain(SecurityContext("t2"))
    assert e2.rule_index is None and "default route" in e2.reason
    assert "context key attributes.session is not set" in e2.steps[1]


def test_security_context_is_frozen_and_checked() -> None:
    src: dict[str, Any] = {"region": "eu", "n": 3}
    ctx = SecurityContext("t", "u", src)
    src["region"] = "us"
    assert ctx.attributes == {"region": "eu", "n": "3"}
    with pytest.raises(TypeError):
        ctx.attributes["x"] = "y"  # type: ignore[index]
    with pytest.raises(InvalidContextError, match="strings"):
        SecurityContext(None, "u")  # type: ignore[arg-type]
    with pytest.raises(InvalidContextError, match="not valid Unicode"):
        SecurityContext("\ud800", "u")
    with pytest.raises(InvalidContextError, match="attribute 'a' is not valid Unicode"):
        SecurityContext("t", "u", {"a": "x\udfff"})
    assert SecurityContext("tenant-é", "ü").tenant_id == "tenant-é"
    with pytest.raises(InvalidContextError, match="'bad'"):
        SecurityContext("t", "u", {"bad": None})  # type: ignore[dict-item]
    assert ctx.with_attributes(k="v").attributes == {"region": "eu", "n": "3", "k": "v"}
    assert SecurityContext("t", "u", {"a": "1"}) == SecurityContext("t", "u", {"a": "1"})


def test_text_that_is_not_unicode_is_refused_naming_the_field() -> None:
    odd = "r\ud800"  # a lone surrogate, as a JSON body may carry: it has no UTF-8 to hash or store
    assert paths({"rules": [{"name": odd, "target": {"vendor": "x"}}]}) == {"rules[0].name"}
    split = {
        "key": "subject_id",
        "salt": odd,
        "variants": [{"plugin": pid("a"), "weight": 1}, {"vendor": odd, "weight": 1}],
    }
    assert paths({"rules": [{"split": split}]}) == {
        "rules[0].split.salt",
        "rules[0].split.variants[1].vendor",
    }
    assert paths({"rules": [{"match": {"tenant": [odd]}, "target": {"vendor": "x"}}]}) == {
        "rules[0].match.tenant[0]"
    }
    split = {
        **split,
        "salt": "ok",
        "variants": [{"plugin": pid("a"), "weight": 1}, {"vendor": "nobody", "weight": 1}],
    }
    with pytest.raises(RoutingConfigError) as info:
        compile_({"rules": [{"split": split}]})
    assert [p.path for p in info.value.problems] == ["rules[0].split.variants[1].vendor"]
    lax = compile_({"rules": [{"split": split}]}, strict=False)
    assert lax.decide(SecurityContext("t", "u")).plugin_id == pid("a")


@pytest.mark.parametrize(
    ("rule", "served"),
    [
        (
            {
                "split": {
                    "key": "subject_id",
                    "variants": [
                        {"plugin": pid("a"), "weight": 1},
                        {"plugin": pid("c"), "weight": 1},
                    ],
                }
            },
            {pid("a"), pid("c")},
        ),
        (
            {"rollout": {"key": "subject_id", "target": {"plugin": pid("c")}, "percent": 50}},
            {pid("b"), pid("c")},  # the rest fall through to the default (acme's b)
        ),
    ],
    ids=["split", "rollout"],
)
def test_keyed_rules_keep_recent_keys_and_decide_them_as_explain_does(
    rule: dict[str, Any], served: set[str]
) -> None:
    from plugway.plugins.routing._rules import MEMO_SIZE

    # the match makes the router read the tenant too: its rules keep the memo
    r = compile_(
        {"vendor": "acme", "rules": [{"name": "keyed", "match": {"tenant": ["t"]}, **rule}]}
    )
    assert r.memo_key is None
    keys = [f"user-{i}" for i in range(MEMO_SIZE * 2 + 7)]  # more than the memo keeps
    first = {k: r.decide(SecurityContext("t", k)) for k in keys}
    for k in keys:  # a second pass hits and misses the memo; both give the first answer
        d = r.decide(SecurityContext("t", k))
        assert d is first[k]
        assert r.explain(SecurityContext("t", k)).plugin_id == d.plugin_id
    assert {d.plugin_id for d in first.values()} == served
    assert 0 < len(r.rules[0].memo or ()) <= MEMO_SIZE  # type: ignore[attr-defined]
    # read by subject_id alone, the router is memoised whole by its caller: no rule memo
    alone = compile_({"vendor": "acme", "rules": [{"name": "keyed", **rule}]})
    assert alone.memo_key == "subject_id"
    assert alone.rules[0].memo is None  # type: ignore[attr-defined]
    for k in keys[:50]:
        assert alone.decide(SecurityContext("t", k)).plugin_id == first[k].plugin_id


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"vendor": "acme"}, None),  # no rules: one decision for all
        (
            {"rules": [{"match": {"tenant": ["t1", "t2"]}, "target": {"plugin": pid("a")}}]},
            "tenant_id",
        ),
        (
            {
                "rules": [
                    {"split": {"key": "tenant_id", "variants": [{"plugin": pid("a"), "weight": 1}]}}
                ]
            },
            "tenant_id",
        ),
        (
            {
                "rules": [
                    {"rollout": {"key": "subject_id", "target": {"plugin": pid("a")}, "percent": 5}}
                ]
            },
            "subject_id",
        ),
        (
            {
                "rules": [
                    {"match": {"subject": ["u1"]}, "target": {"plugin": pid("a")}},
                    {
                        "split": {
                            "key": "subject_id",
                            "variants": [{"plugin": pid("c"), "weight": 1}],
                        }
                    },
                ]
            },
            "subject_id",
        ),
        (
            {
                "rules": [
                    {"match": {"tenant": ["t1"], "subject": ["u1"]}, "target": {"plugin": pid("a")}}
                ]
            },
            None,
        ),
        (
            {
                "rules": [
                    {"match": {"attributes": {"region": ["eu"]}}, "target": {"plugin": pid("a")}}
                ]
            },
            None,
        ),
        (
            {
                "rules": [
                    {
                        "split": {
                            "key": "attributes.region",
                            "variants": [{"plugin": pid("a"), "weight": 1}],
                        }
                    }
                ]
            },
            None,
        ),
    ],
    ids=[
        "fixed",
        "tenant-match",
        "tenant-split",
        "subject-rollout",
        "subject-both",
        "two-keys",
        "attribute",
        "attribute-split",
    ],
)
def test_a_router_names_the_one_key_its_decisions_depend_on(
    doc: dict[str, Any], key: str | None
) -> None:
    assert compile_(doc).memo_key == key
