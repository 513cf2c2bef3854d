"""Property tests: ids round-trip, patterns cover what they match, junk raises only GtsError."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.gts import (
    GtsAttrSelector,
    GtsError,
    GtsId,
    GtsPattern,
    GtsQuery,
    is_valid_gts_id,
    is_valid_gts_pattern,
)

tokens = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
numbers = st.integers(min_value=0, max_value=10**6)


@st.composite
def segments(draw: st.DrawFn) -> tuple[str, tuple[str, str, str, str, int, int | None]]:
    names = (draw(tokens), draw(tokens), draw(tokens), draw(tokens))
    major = draw(numbers)
    minor = draw(st.none() | numbers)
    text = ".".join(names) + f".v{major}" + ("" if minor is None else f".{minor}")
    return text, (*names, major, minor)


@st.composite
def gts_ids(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, str, str, int, int | None]], str]:
    """(id text, segment parts, kind) with kind in type / instance / anonymous."""
    chain = draw(st.lists(segments(), min_size=1, max_size=4))
    kind = draw(st.sampled_from(["type", "instance", "anonymous"]))
    text = "gts." + "~".join(s for s, _ in chain) + "~"
    parts = [p for _, p in chain]
    if kind == "instance":
        last_text, last_parts = draw(segments())
        text += last_text
        parts.append(last_parts)
    elif kind == "anonymous":
        text += str(draw(st.uuids()))
    return text, parts, kind


@settings(max_examples=200, deadline=None)
@given(gts_ids())
def test_generated_ids_round_trip(case: tuple[str, list[tuple[object, ...]], str]) -> None:
    text, parts, kind = case
    assert is_valid_gts_id(text)
    gid = GtsId.parse(text)
    assert str(gid) == text
    assert "gts." + "".join(str(s) for s in gid.segments) + (gid.uuid_tail or "") == text
    assert [tuple(s)[:6] for s in gid.segments] == parts
    assert gid.is_type is (kind == "type")
    assert (gid.uuid_tail is not None) is (kind == "anonymous")
    flags = [s.is_type for s in gid.segments]
    expected_flags = [True] * len(flags)
    if kind == "instance":
        expected_flags[-1] = False
    assert flags == expected_flags
    assert gid.uuid() == uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "gts"), text)


@settings(max_examples=150, deadline=None)
@given(gts_ids(), st.data())
def test_patterns_cut_from_an_id_match_it_and_share_the_prefix(
    case: tuple[str, list[tuple[object, ...]], str], data: st.DataObject
) -> None:
    text = case[0]
    gid = GtsId.parse(text)
    cuts = [i + 1 for i, ch in enumerate(text) if ch in ".~" and i + 1 < len(text)]
    cut = data.draw(st.sampled_from(cuts))
    literal = text[:cut]
    pattern_text = literal + "*"
    if not is_valid_gts_pattern(pattern_text):
        # only a cut after a minor version ("v1.2.*") is not a pattern
        assert literal.rsplit("~", 1)[-1].count(".") >= 5
        return
    pattern = GtsPattern.parse(pattern_text)
    assert pattern.matches(gid)
    assert pattern.matches(text)
    assert text.startswith(pattern.prefix)


@settings(max_examples=150, deadline=None)
@given(gts_ids())
def test_an_id_used_as_pattern_matches_itself(case: tuple[str, object, str]) -> None:
    text = case[0]
    pattern = GtsPattern.parse(text)
    assert not pattern.is_wildcard
    assert pattern.matches(text)
    assert text.startswith(pattern.prefix)


@st.composite
def mutated_ids(draw: st.DrawFn) -> str:
    """A valid id with one character inserted, replaced or removed: near misses."""
    text = draw(gts_ids())[0]
    pos = draw(st.integers(min_value=0, max_value=len(text) - 1))
    ch = draw(st.sampled_from(list('~.*-_@[]=" aZ09\n')) | st.characters())
    op = draw(st.sampled_from(["insert", "replace", "delete"]))
    if op == "insert":
        return text[:pos] + ch + text[pos:]
    if op == "replace":
        return text[:pos] + ch + text[pos + 1 :]
    return text[:pos] + text[pos + 1 :]


junk = (
    st.text(max_size=300) | mutated_ids() | st.text(alphabet='gts.~*abv0123-_[]=@,"', max_size=80)
)


@settings(max_examples=250, deadline=None)
@given(junk)
def test_id_parsing_of_any_text_raises_only_gts_error(text: str) -> None:
    try:
        gid = GtsId.parse(text)
    except GtsError as exc:
        assert not is_valid_gts_id(text)
        assert str(exc)
    else:
        assert is_valid_gts_id(text)
        assert str(gid) == text


@settings(max_examples=250, deadline=None)
@given(junk)
def test_pattern_parsing_of_any_text_raises_only_gts_error(text: str) -> None:
    try:
        pattern = GtsPattern.parse(text)
    except GtsError as exc:
        assert str(exc)
    else:
        assert pattern.text == text
        assert pattern.matches(text) is pattern.matches(text)


@settings(max_examples=250, deadline=None)
@given(
    junk | st.builds(lambda a, b: f"gts.a.*[{a}={b}]", st.text(max_size=20), st.text(max_size=20))
)
def test_query_parsing_of_any_text_raises_only_gts_error(text: str) -> None:
    try:
        query = GtsQuery.parse(text)
    except GtsError as exc:
        assert str(exc).startswith("Invalid query")
    else:
        assert query.matches({"a": "b"}, "gts.a.b.c.d.v1~") in (True, False)


@settings(max_examples=250, deadline=None)
@given(junk | st.builds(lambda p: f"gts.a.b.c.d.v1~e.f.g.h.v1@{p}", st.text(max_size=30)))
def test_attr_selector_parsing_of_any_text_raises_only_gts_error(text: str) -> None:
    try:
        GtsAttrSelector.parse(text)
    except GtsError as exc:
        assert str(exc)


def _same_segment(pattern_piece: str, candidate_piece: str) -> bool:
    """Reference rule: names and major equal; a minor written in the pattern must be equal."""
    p, c = pattern_piece.split("."), candidate_piece.split(".")
    if p[:5] != c[:5]:
        return False
    return len(p) == 5 or (len(c) == 6 and p[5] == c[5])


def reference_match(pattern: str, candidate: str) -> bool:
    """OP#4 restated token by token, independent of the compiled matcher."""
    wildcard = pattern.endswith("*")
    p_pieces = (pattern[:-1] if wildcard else pattern)[4:].split("~")
    c_pieces = candidate[4:].split("~")  # a type id ends with an empty piece
    last = p_pieces.pop()
    for i, piece in enumerate(p_pieces):
        if i >= len(c_pieces) - 1 or not _same_segment(piece, c_pieces[i]):
            return False
    k = len(p_pieces)
    if wildcard:
        rest = "~".join(c_pieces[k:])
        return rest.startswith(last) and len(rest) > len(last)
    if not last:
        return True
    if len(c_pieces) != k + 1:
        return False
    return _same_segment(last, c_pieces[k]) if "." in last else last == c_pieces[k]


@st.composite
def variants(draw: st.DrawFn, text: str) -> str:
    """A valid id near ``text``: minors added, dropped or changed, majors bumped, tails cut."""
    pieces = text[4:].split("~")
    out = []
    for piece in pieces:
        toks = piece.split(".")
        if len(toks) >= 5:
            action = draw(st.sampled_from(["keep", "keep", "drop_minor", "set_minor", "bump"]))
            if action == "drop_minor":
                toks = toks[:5]
            elif action == "set_minor":
                toks = [*toks[:5], str(draw(st.integers(0, 3)))]
            elif action == "bump":
                toks[4] = f"v{int(toks[4][1:]) + 1}"
        out.append(".".join(toks))
    if draw(st.booleans()) and len(out) > 2:
        out = [*out[: draw(st.integers(1, len(out) - 1))], ""]  # cut to a type id
    candidate = "gts." + "~".join(out)
    return candidate if is_valid_gts_id(candidate) else text


@settings(max_examples=300, deadline=None)
@given(gts_ids(), st.data())
def test_compiled_matching_agrees_with_the_reference_rule(
    case: tuple[str, object, str], data: st.DataObject
) -> None:
    text = case[0]
    cuts = [i + 1 for i, ch in enumerate(text) if ch in ".~" and i + 1 < len(text)]
    use_wildcard = data.draw(st.booleans())
    pattern_text = text[: data.draw(st.sampled_from(cuts))] + "*" if use_wildcard else text
    if not is_valid_gts_pattern(pattern_text):
        return
    pattern = GtsPattern.parse(pattern_text)
    for _ in range(4):
        candidate = data.draw(variants(text))
        expected = reference_match(pattern_text, candidate)
        assert pattern.matches(candidate) is expected, (pattern_text, candidate)
        assert pattern.matches(GtsId.parse(candidate)) is expected
        if expected:
            assert candidate.startswith(pattern.prefix)
