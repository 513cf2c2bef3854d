"""OP#10: query expressions — parsing and matching over documents."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import GtsError, GtsId, GtsQuery, GtsQueryError

DOCS: list[dict[str, Any]] = [
    {
        "id": "gts.acme.shop.orders.order.v1.0~acme.shop._.o_1.v1",
        "state": "open",
        "kind": "retail",
        "total": 10,
        "paid": False,
        "tags": ["a"],
    },
    {
        "id": "gts.acme.shop.orders.order.v1.1~acme.shop._.o_2.v2",
        "state": "closed",
        "kind": "wholesale",
        "total": 2.5,
        "paid": True,
    },
    {
        "id": "gts.acme.shop.orders.order.v2.2~acme.shop._.special.v1~acme.shop._.o_3.v2",
        "state": "open",
        "kind": "mail",
        "owner": {"name": "ann", "roles": ["admin", "ops"]},
    },
    {
        "id": "gts.acme.shop.other_ns.notice.v1.0~acme.shop._.n_1.v1",
        "state": "odd",
        "kind": "mail",
        "ref": "gts.acme.shop.orders.order.v1~",
    },
    {
        "id": "gts.acme.shop_two.orders.order.v2.0~acme.shop._.o_9.v1",
        "state": "open",
        "kind": "retail",
    },
    {"id": "7e57ab1e-0000-4000-8000-000000000001", "type": "gts.acme.shop.orders.order.v1~"},
]


def _run(expr: str) -> list[str]:
    query = GtsQuery.parse(expr)
    return [d["id"] for d in DOCS if query.matches(d)]


@pytest.mark.parametrize(
    ("expr", "count"),
    [
        ("gts.acme.shop.orders.order.v1.0~acme.shop._.o_1.v1", 1),  # exact id
        ("gts.acme.shop.*", 4),  # package wildcard honours the token boundary (not shop_two)
        ("gts.acme.shop.orders.*", 3),
        ("gts.acme.shop.orders.order.*", 3),
        ("gts.acme.shop.orders.order.v2.*", 1),
        ("gts.acme.shop.orders.order.v1.1~*", 1),
        ("gts.acme.shop.orders.order.v1~*", 2),  # any minor of v1, something derived
        ("gts.acme.shop.orders.order.v1~", 2),  # non-wildcard type id covers its instances
        ("gts.acme.*", 5),
        ("gts.nobody.*", 0),
    ],
)
def test_id_part(expr: str, count: int) -> None:
    assert len(_run(expr)) == count


@pytest.mark.parametrize(
    ("expr", "ids"),
    [
        ("gts.acme.shop.*[state=open]", ["o_1", "o_3"]),
        ("gts.acme.shop.*[state=open, kind=retail]", ["o_1"]),
        ('gts.acme.shop.*[state="open", kind="retail"]', ["o_1"]),
        ('gts.acme.shop.*[ state = "open" ,kind=retail ]', ["o_1"]),
        ("gts.acme.shop.*[state=open, kind=*]", ["o_1", "o_3"]),
        ("gts.acme.shop.*[owner=*]", ["o_3"]),
        ("gts.acme.shop.*[state=missing, kind=retail]", []),
        ("gts.acme.shop.*[total=10]", ["o_1"]),
        ("gts.acme.shop.*[total=2.5]", ["o_2"]),
        ("gts.acme.shop.*[total=10.0]", ["o_1"]),
        ("gts.acme.shop.*[total=2.50]", ["o_2"]),
        ("gts.acme.shop.*[total=ten]", []),
        ("gts.acme.shop.*[total=nan]", []),
        ("gts.acme.shop.*[paid=1]", []),  # booleans are not numbers here
        ("gts.acme.shop.*[paid=true]", ["o_2"]),
        ("gts.acme.shop.*[paid=false]", ["o_1"]),
        ("gts.acme.shop.*[owner.name=ann]", ["o_3"]),
        ("gts.acme.shop.*[owner.roles[1]=ops]", ["o_3"]),
        ("gts.acme.shop.*[tags=a]", []),  # arrays never equal a scalar value
        ('gts.acme.shop.*[ref="gts.acme.shop.orders.order.v1~"]', ["n_1"]),
        ("gts.acme.shop.*[ref=gts.acme.shop.orders.*]", ["n_1"]),
        ("gts.acme.shop.*[ref=gts.acme.other.*]", []),
        ('gts.acme.shop.*[state="a,b]"]', []),
    ],
)
def test_filters(expr: str, ids: list[str]) -> None:
    found = _run(expr)
    assert [i.rsplit("~", 1)[1].split(".")[3] for i in found] == ids


def test_quoted_value_may_hold_separators_and_escapes() -> None:
    q = GtsQuery.parse(r'gts.acme.*[note="a, b] \"c\" \\ d", x=*]')
    assert q.filters[0].value == 'a, b] "c" \\ d'
    assert q.filters[1].value is None
    assert q.matches({"note": 'a, b] "c" \\ d', "x": 0}, "gts.acme.a.b.c.v1~")
    assert not q.matches({"note": 'a, b] "c" \\ d'}, "gts.acme.a.b.c.v1~")


def test_quoted_star_is_a_literal_value() -> None:
    q = GtsQuery.parse('gts.acme.*[state="*"]')
    assert q.filters[0].value == "*"
    assert q.matches({"state": "*"}, "gts.acme.a.b.c.v1~")
    assert not q.matches({"state": "open"}, "gts.acme.a.b.c.v1~")


def test_null_value_matches_json_null() -> None:
    q = GtsQuery.parse("gts.acme.*[owner=null]")
    assert q.matches({"owner": None}, "gts.acme.a.b.c.v1~")
    assert not q.matches({}, "gts.acme.a.b.c.v1~")


def test_matching_with_an_explicit_id() -> None:
    q = GtsQuery.parse("gts.acme.shop.orders.*[state=open]")
    doc = {"state": "open"}
    assert q.matches(doc, "gts.acme.shop.orders.order.v1~acme.shop._.x.v1")
    assert q.matches_entity(GtsId.parse("gts.acme.shop.orders.order.v1~acme.shop._.x.v1"), doc)
    assert not q.matches(doc, "gts.acme.shop.other.order.v1~acme.shop._.x.v1")
    assert q.matches_id("gts.acme.shop.orders.order.v1~")
    assert q.matches_filters(doc) and not q.matches_filters({"state": "closed"})


def test_documents_without_a_gts_id_do_not_match() -> None:
    q = GtsQuery.parse("gts.*")
    assert not q.matches({"id": "plain"})
    assert not q.matches("not a doc")  # type: ignore[arg-type]


def test_parsed_query_is_a_frozen_value() -> None:
    q = GtsQuery.parse("gts.acme.*[a=1]")
    assert q == GtsQuery.parse("gts.acme.*[a=1]")
    assert str(q) == "gts.acme.*[a=1]"
    with pytest.raises(AttributeError):
        q.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expr", "fault"),
    [
        ("gts.acme.shop.orders", "tokens"),  # partial id without wildcard
        ("gts.acme.shop..orders.v1", "empty"),
        ("gtsx.acme.shop._.orders.v", "start with 'gts.'"),
        ("gtsx.acme.shop._.orders.v1~a.b.c.d", "start with 'gts.'"),
        ("gts.acme.shop.*~[state=open]", "last character"),
        ("gts.acme.*@state", "attribute selector"),
        ("", "empty"),
        ("   ", "empty"),
        ("[state=open]", "no GTS id"),
        ("gts.acme.*[]", "empty"),
        ("gts.acme.*[state]", "no '='"),
        ("gts.acme.*[=open]", "no attribute name"),
        ("gts.acme.*[state=]", "empty value"),
        ("gts.acme.*[state=open", "not closed"),
        ('gts.acme.*[state="open]', "not closed"),
        ("gts.acme.*[state=open]]", "malformed"),
        ('gts.acme.*[state="open" kind=x]', "expected ','"),
        ("gts.acme.*[state=open,]", "no '='"),
        ("gts.acme.*[a..b=1]", "attribute path"),
        ("gts.acme.*[ref=gts.acme*]", "Invalid GTS pattern"),
        ("gts.acme.*]", "']'"),
    ],
)
def test_invalid_expressions(expr: str, fault: str) -> None:
    with pytest.raises(GtsQueryError) as info:
        GtsQuery.parse(expr)
    assert str(info.value).startswith("Invalid")
    assert fault in str(info.value)


def test_every_parse_error_starts_with_invalid_query() -> None:
    for expr in ("gts.acme.shop.orders", "gts.acme.*[state]", "gts.acme.*~[a=b]"):
        with pytest.raises(GtsQueryError, match=r"^Invalid query: "):
            GtsQuery.parse(expr)


def test_non_string_and_oversized_expressions() -> None:
    with pytest.raises(GtsError):
        GtsQuery.parse(None)  # type: ignore[arg-type]
    with pytest.raises(GtsQueryError, match="limit"):
        GtsQuery.parse("gts.acme.*[a=" + "x" * 5000 + "]")
