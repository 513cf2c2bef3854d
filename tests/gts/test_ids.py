"""OP#1 (validation), OP#3 (parsing) and OP#5 (UUID v5) of GTS identifiers."""

from __future__ import annotations

import uuid

import pytest

from plugway.gts import (
    GTS_NAMESPACE,
    MAX_ID_LENGTH,
    GtsError,
    GtsId,
    GtsIdError,
    GtsSegment,
    gts_uuid,
    is_valid_gts_id,
)

ANON_TAIL = "3f2a9c10-1b2c-4d5e-8f90-0123456789ab"

VALID_IDS = [
    # base types, with and without minor versions
    "gts.acme.billing.invoices.invoice.v1~",
    "gts.acme.billing.invoices.invoice.v3.27~",
    "gts.acme.billing.invoices.invoice.v0~",
    "gts.acme.billing.invoices.invoice.v0.0~",
    "gts.k9.p2.n3.t4.v88.1~",
    "gts.acme.billing._.invoice.v1~",
    "gts._.billing.invoices.invoice.v1~",
    "gts.acme._.invoices.invoice.v1~",
    "gts.acme.billing.invoices._.v1~",
    "gts._._._._.v1~",
    "gts._x.y2.z3._w.v1~",
    "gts.o.o.o.o.v7~",
    "gts.acme.billing.invoices.invoice.v123456.654321~",
    "gts.a_long_vendor_name_1.a_long_package_2.a_long_namespace_3.a_long_type_4.v1~",
    # derived types
    "gts.acme.billing.invoices.invoice.v1~acme.billing.invoices.proforma.v1~",
    "gts.a.b.c.d.v1~e.f.g.h.v2~i.j.k.l.v3~",
    # well-known instances (chained)
    "gts.acme.billing.invoices.invoice.v1~acme.billing._.inv_2024_001.v1",
    "gts.acme.billing.invoices.invoice.v1~acme.billing._.inv_2024_001.v1.4",
    "gts.a.b.c.d.v1~e.f.g.h.v1~i.j.k.l.v1~m.n.o.p.v1.0",
    # combined anonymous instances
    f"gts.acme.billing.invoices.invoice.v1~{ANON_TAIL}",
    f"gts.acme.billing.invoices.invoice.v1~acme.billing.invoices.proforma.v1.0~{ANON_TAIL}",
]

INVALID_IDS = [
    ("", "empty"),
    ("GTS.acme.billing.invoices.invoice.v1~", "lowercase"),
    ("gts.Acme.billing.invoices.invoice.v1~", "lowercase"),
    ("gts.acme.billing.invoices.invoice.V1~", "lowercase"),
    ("acme.billing.invoices.invoice.v1~", "start with 'gts.'"),
    ("gts.acme.billing.invoices.invoice.3~", "version"),
    ("gts.acme.billing.invoices.invoice.v1.2.3~", "tokens"),
    ("gts.acme.billing.invoices.invoice.v-1~", "version"),
    ("gts.acme.billing.invoices.invoice.v1.~", "minor version"),
    ("gts.acme.billing.invoices.invoice.v01~", "version"),
    ("gts.acme.billing.invoices.invoice.v1.01~", "minor version"),
    ("gts.acme.billing.invoices.invoice.v001.001~", "version"),
    ("gts.acme.billing.invoices.invoice.v1.-1~", "minor version"),
    ("gts.acme.billing.invoices.invoice.version1~", "version"),
    ("gts.acme.billing.invoices.invoice.~", "version"),
    ("gts.9acme.billing.invoices.invoice.v1~", "vendor token"),
    ("gts.acme.9billing.invoices.invoice.v1~", "package token"),
    ("gts.acme.billing.9invoices.invoice.v1~", "namespace token"),
    ("gts.acme.billing.invoices.9invoice.v1~", "type token"),
    ("gts.acme.bill-ing.invoices.invoice.v1~", "package token"),
    ("gts.acme.billing.invoices.in@voice.v1~", "type token"),
    ("gts..billing.invoices.invoice.v1~", "vendor token is empty"),
    ("gts.acme..invoices.invoice.v1~", "package token is empty"),
    ("gts.acme.billing.in.voices.invoice.v1~", "version"),
    ("gts.acme.billing.invoices.invoice.v1.0~~", "empty"),
    ("gts.acme.billing.invoices.invoice.v1~gts.acme.billing._.x.v1~", "repeats the 'gts.' prefix"),
    ("gts.acme.billing.invoices.invoice.v1.acme.billing._.x.v1", "tokens"),
    ("gts.acme.billing.invoices~", "tokens"),
    ("gts.acme.billing.invoice.v1~", "tokens"),
    ("gts.acme.billing.invoices.invoice.v1~acme.billing._.v1", "tokens"),
    ("gts.acme.billing.invoices.invoice.v1~not-a-uuid", "neither a segment nor"),
    (f"gts.acme.billing.invoices.invoice.v1~{ANON_TAIL.upper()}", "lowercase"),
    (" gts.acme.billing.invoices.invoice.v1~", "whitespace"),
    ("gts.acme.billing.invoices.invoice.v1~\n", "whitespace"),
    ("gts.acme.billing.invoices.*", "wildcards"),
]

SINGLE_SEGMENT_INSTANCES = [
    "gts.acme.billing.invoices.invoice.v1",
    "gts.acme.billing.invoices.invoice.v1.0",
    "gts.acme.billing._.invoice.v12.5",
    "gts.a1.b2.c3.d4.v100.200",
]


@pytest.mark.parametrize("text", VALID_IDS)
def test_valid_ids_are_accepted_and_round_trip(text: str) -> None:
    assert is_valid_gts_id(text)
    gid = GtsId.parse(text)
    assert str(gid) == text == gid.text


@pytest.mark.parametrize(("text", "fault"), INVALID_IDS)
def test_invalid_ids_are_refused_with_the_reason(text: str, fault: str) -> None:
    assert not is_valid_gts_id(text)
    with pytest.raises(GtsIdError) as info:
        GtsId.parse(text)
    message = str(info.value)
    assert message.startswith("Invalid GTS identifier:")
    assert fault in message
    assert info.value.gts_id == text


@pytest.mark.parametrize("text", SINGLE_SEGMENT_INSTANCES)
def test_single_segment_instance_ids_are_refused(text: str) -> None:
    assert not is_valid_gts_id(text)
    with pytest.raises(GtsIdError, match="single-segment instance"):
        GtsId.parse(text)


def test_error_names_the_segment_and_the_expected_shape() -> None:
    with pytest.raises(GtsIdError) as info:
        GtsId.parse("gts.x.y.z")
    assert str(info.value) == (
        "Invalid GTS identifier: gts.x.y.z: segment 1 has 3 tokens, expected "
        "vendor.package.namespace.type.version"
    )


def test_error_points_at_a_later_segment() -> None:
    with pytest.raises(GtsIdError, match=r"segment 3: version 'v07'"):
        GtsId.parse("gts.a.b.c.d.v1~e.f.g.h.v1~i.j.k.l.v07~")


def test_length_limit_is_inclusive() -> None:
    head = "gts.acme.billing.invoices.invoice.v1~acme.billing._."
    tail = ".v1"
    fill = "x" * (MAX_ID_LENGTH - len(head) - len(tail))
    at_limit = head + fill + tail
    assert len(at_limit) == MAX_ID_LENGTH
    assert is_valid_gts_id(at_limit)
    GtsId.parse(at_limit)
    over = head + fill + "x" + tail
    assert not is_valid_gts_id(over)
    with pytest.raises(GtsIdError, match="1025 characters long, the limit is 1024"):
        GtsId.parse(over)


def test_huge_input_is_refused_and_the_message_stays_short() -> None:
    text = "gts." + "a" * 10_000
    with pytest.raises(GtsIdError) as info:
        GtsId.parse(text)
    assert "10004 characters long" in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("value", [None, 42, b"gts.a.b.c.d.v1~", ["gts.a.b.c.d.v1~"]])
def test_non_string_input(value: object) -> None:
    assert not is_valid_gts_id(value)  # type: ignore[arg-type]
    with pytest.raises(GtsIdError, match="expected a string"):
        GtsId.parse(value)  # type: ignore[arg-type]


def test_parse_base_type() -> None:
    gid = GtsId.parse("gts.acme.billing.invoices.invoice.v2~")
    assert gid.is_type and not gid.is_instance
    assert gid.uuid_tail is None
    assert gid.segments == (GtsSegment("acme", "billing", "invoices", "invoice", 2, None, True),)
    assert gid.type_id is None
    assert gid.base_type_id == "gts.acme.billing.invoices.invoice.v2~"


def test_parse_derived_type() -> None:
    gid = GtsId.parse("gts.a.b.c.d.v1~e.f.g.h.v2.5~i.j._.l.v0~")
    assert gid.is_type
    assert [s.vendor for s in gid.segments] == ["a", "e", "i"]
    assert [s.ver_major for s in gid.segments] == [1, 2, 0]
    assert [s.ver_minor for s in gid.segments] == [None, 5, None]
    assert gid.segments[2].namespace == "_"
    assert all(s.is_type for s in gid.segments)
    assert gid.type_id == "gts.a.b.c.d.v1~e.f.g.h.v2.5~"
    assert gid.base_type_id == "gts.a.b.c.d.v1~"


def test_parse_well_known_instance() -> None:
    gid = GtsId.parse("gts.acme.billing.invoices.invoice.v1~acme.billing._.inv_7.v1.2")
    assert not gid.is_type
    assert not gid.is_anonymous
    first, last = gid.segments
    assert first == GtsSegment("acme", "billing", "invoices", "invoice", 1, None, True)
    assert last == GtsSegment("acme", "billing", "_", "inv_7", 1, 2, False)
    assert gid.type_id == "gts.acme.billing.invoices.invoice.v1~"


def test_parse_three_level_instance() -> None:
    gid = GtsId.parse("gts.a.b.c.d.v1~e.f.g.h.v1~i.j.k.l.v1.0")
    assert [s.is_type for s in gid.segments] == [True, True, False]
    assert gid.segments[-1].ver_minor == 0
    assert gid.type_id == "gts.a.b.c.d.v1~e.f.g.h.v1~"


def test_parse_combined_anonymous_instance() -> None:
    text = f"gts.a.b.c.d.v1~e.f.g.h.v1.0~{ANON_TAIL}"
    gid = GtsId.parse(text)
    assert not gid.is_type
    assert gid.is_anonymous
    assert gid.uuid_tail == ANON_TAIL
    assert len(gid.segments) == 2
    assert all(s.is_type for s in gid.segments)
    assert gid.type_id == "gts.a.b.c.d.v1~e.f.g.h.v1.0~"


def test_segment_text() -> None:
    gid = GtsId.parse("gts.a.b.c.d.v1~e.f.g.h.v2.5")
    assert [str(s) for s in gid.segments] == ["a.b.c.d.v1~", "e.f.g.h.v2.5"]


def test_parse_is_cached_from_the_second_use_and_values_compare_by_content() -> None:
    text = "gts.acme.billing.invoices.invoice.v1~acme.billing._.cached.v1"
    first = GtsId.parse(text)  # first sight: parsed, not yet cached
    second = GtsId.parse(text)  # seen before: parsed again and cached
    assert first == second
    assert GtsId.parse(text) is second
    assert GtsId.parse(text) is GtsId.parse(text)
    other = GtsId.parse("gts.acme.billing.invoices.invoice.v1~acme.billing._.cached.v2")
    assert GtsId.parse(text) != other
    assert len({GtsId.parse(text), GtsId.parse(text), other}) == 2


def test_instances_share_interned_type_segments() -> None:
    one = GtsId.parse("gts.acme.billing.invoices.invoice.v1~acme.billing._.one.v1")
    two = GtsId.parse("gts.acme.billing.invoices.invoice.v1~acme.billing._.two.v1")
    assert one.segments[0] is two.segments[0]
    assert one.segments[1] != two.segments[1]


def test_known_chain_with_a_bad_tail_is_still_refused() -> None:
    GtsId.parse("gts.acme.billing.invoices.invoice.v1~")  # the chain is now known
    for bad in ("x", "acme.billing._.item.v01", "acme.billing._.item", "Acme.b.c.d.v1"):
        with pytest.raises(GtsIdError):
            GtsId.parse("gts.acme.billing.invoices.invoice.v1~" + bad)


def test_values_are_immutable() -> None:
    gid = GtsId.parse("gts.acme.billing.invoices.invoice.v1~")
    with pytest.raises(AttributeError):
        gid.text = "gts.other.billing.invoices.invoice.v1~"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        gid.segments[0].vendor = "other"  # type: ignore[misc]


# --- OP#5: UUID v5 ------------------------------------------------------------------------


def test_gts_namespace_is_uuid5_of_url_gts() -> None:
    assert uuid.uuid5(uuid.NAMESPACE_URL, "gts") == GTS_NAMESPACE
    assert str(GTS_NAMESPACE) == "63b06280-5dd6-517d-abc6-5a2127e843c3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # computed independently with uuid.uuid5(uuid5(NAMESPACE_URL, "gts"), text)
        ("gts.x.test5.events.type.v1~", "de567dcc-10ef-597d-8f82-3c999ed9b979"),
        ("gts.x.test5.events.type.v1.1~", "b9a18e35-890b-586c-81fa-a156b9a26e2b"),
    ],
)
def test_uuid_vectors(text: str, expected: str) -> None:
    assert str(gts_uuid(text)) == expected
    assert GtsId.parse(text).uuid() == uuid.UUID(expected)


@pytest.mark.parametrize("text", VALID_IDS)
def test_uuid_is_v5_of_the_complete_text(text: str) -> None:
    value = gts_uuid(text)
    assert value.version == 5
    assert value == uuid.uuid5(GTS_NAMESPACE, text)


def test_uuid_depends_on_minor_version_and_whole_chain() -> None:
    ids = [
        "gts.acme.billing.invoices.invoice.v1~",
        "gts.acme.billing.invoices.invoice.v1.0~",
        "gts.acme.billing.invoices.invoice.v1~acme.billing._.inv.v1",
        f"gts.acme.billing.invoices.invoice.v1~{ANON_TAIL}",
    ]
    assert len({gts_uuid(t) for t in ids}) == len(ids)


def test_uuid_of_invalid_id_is_refused() -> None:
    with pytest.raises(GtsIdError):
        gts_uuid("gts.acme.billing.invoices.invoice.v1")
    with pytest.raises(GtsError):
        gts_uuid("gts.acme.*")


def test_str_subclasses_are_accepted_as_plain_text() -> None:
    class Text(str):
        pass

    raw = Text("gts.acme.billing.invoices.invoice.v1~acme.billing._.sub.v1")
    assert is_valid_gts_id(raw)
    gid = GtsId.parse(raw)
    assert type(gid.text) is str
    assert gid.text == raw
