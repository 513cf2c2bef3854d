"""OP#4: wildcard patterns — what is a valid pattern, what it matches, its index prefix."""

from __future__ import annotations

import pytest

from plugway.gts import GtsId, GtsPattern, GtsPatternError, is_valid_gts_pattern

VALID_PATTERNS = [
    "gts.*",
    "gts.acme.*",
    "gts.acme.billing.*",
    "gts.acme.billing.invoices.*",
    "gts.acme.billing.invoices.invoice.*",
    "gts.acme.billing.invoices.invoice.v1.*",
    "gts.acme.billing.invoices.invoice.v1~*",
    "gts.acme.billing.invoices.invoice.v1.3~*",
    "gts.acme.billing.invoices.invoice.v1~acme.*",
    "gts.acme.billing.invoices.invoice.v1~acme.billing._.*",
    # a pattern without "*" is just an id
    "gts.acme.billing.invoices.invoice.v1~",
    "gts.acme.billing.invoices.invoice.v1~acme.billing._.inv.v1",
]

INVALID_PATTERNS = [
    ("gts.acme.billing.invoices.invoice.v1~acme.*~", "last character"),
    ("gts.acme.billing.invoices.invoice.v1~acme*", "token boundary"),
    ("gts.acme*", "token boundary"),
    ("gts.acme.billing.*.invoice.v1~acme.*", "last character"),
    ("gts.acme.*.invoices.invoice.v1~", "last character"),
    ("gts.*.billing.invoices.*", "last character"),
    ("gts.acme.billing.invoices.invoice.v1*tail", "last character"),
    ("GTS.acme.billing.invoices.invoice.v0.*", "start with 'gts.'"),
    ("*", "start with 'gts.'"),
    ("gts.acme.billing.invoices", "tokens"),
    ("gts.acme.billing.invoices.invoice.v1", "single-segment"),
    ("gts.acme.billing.invoices.invoice~", "tokens"),
    ("gts.acme.Billing.*", "token 2"),
    ("gts.acme..*", "token 2"),
    ("gts.acme.billing.invoices.invoice.v1.0.*", "tokens"),
    ("gts.acme.billing.invoices.invoice.v01.*", "version"),
    ("gts.acme.billing.invoices.invoice.v1~acme.bil-ling.*", "token 2"),
    ("gts.a.b.c.d.v1~~*", "segment 2 is empty"),
]


@pytest.mark.parametrize("text", VALID_PATTERNS)
def test_valid_patterns(text: str) -> None:
    pattern = GtsPattern.parse(text)
    assert pattern.text == text == str(pattern)
    assert pattern.is_wildcard == ("*" in text)
    assert is_valid_gts_pattern(text)


@pytest.mark.parametrize(("text", "fault"), INVALID_PATTERNS)
def test_invalid_patterns_name_the_fault(text: str, fault: str) -> None:
    assert not is_valid_gts_pattern(text)
    with pytest.raises(GtsPatternError) as info:
        GtsPattern.parse(text)
    assert str(info.value).startswith("Invalid GTS pattern:")
    assert fault in str(info.value)
    assert info.value.pattern == text


def test_pattern_over_length_limit_is_refused() -> None:
    with pytest.raises(GtsPatternError, match="limit is 1024"):
        GtsPattern.parse("gts." + "a." * 600 + "*")


def test_non_string_pattern() -> None:
    with pytest.raises(GtsPatternError, match="expected a string"):
        GtsPattern.parse(7)  # type: ignore[arg-type]


BASE = "gts.acme.billing.invoices.invoice"

MATCHES = [
    # wildcard after a token of the last segment
    (f"{BASE}.v1~acme.*", f"{BASE}.v1~acme.billing._.inv_1.v1.2", True),
    (f"{BASE}.v1~acme.*", f"{BASE}.v1~acme.billing._.proforma.v1~", True),
    (f"{BASE}.v2~acme.*", f"{BASE}.v1~acme.billing._.inv_1.v1.2", False),
    # "*" respects token boundaries: "acme." is not a prefix of "acmex."
    (f"{BASE}.v1~acme.*", f"{BASE}.v1~acmex.billing._.inv_1.v1", False),
    ("gts.acme.*", "gts.acme_two.billing.invoices.invoice.v1~", False),
    # vendor / package / namespace wildcards
    ("gts.*", f"{BASE}.v1~", True),
    ("gts.acme.*", f"{BASE}.v1.0~", True),
    ("gts.acme.billing.invoices.*", f"{BASE}.v1~", True),
    ("gts.acme.billing.receipts.*", f"{BASE}.v1~", False),
    # an omitted minor version means any minor of that major
    (f"{BASE}.v1~", f"{BASE}.v1.5~", True),
    (f"{BASE}.v1~", f"{BASE}.v1~", True),
    (f"{BASE}.v1~", f"{BASE}.v2~", False),
    (f"{BASE}.v1~", f"{BASE}.v10~", False),
    (f"{BASE}.v1.2~", f"{BASE}.v1.2~", True),
    (f"{BASE}.v1.2~", f"{BASE}.v1.3~", False),
    (f"{BASE}.v1.2~", f"{BASE}.v1~", False),
    (f"{BASE}.v1~acme.billing._.*", f"{BASE}.v1.5~acme.billing._.inv.v1", True),
    # a non-wildcard type pattern covers derived types and instances
    (f"{BASE}.v1~", f"{BASE}.v1.0~acme.billing._.inv.v1", True),
    (f"{BASE}.v1.1~", f"{BASE}.v1.1~acme.billing.*", True),
    # a non-wildcard instance pattern matches that instance (any minor if omitted)
    (f"{BASE}.v1~acme.billing._.inv.v1", f"{BASE}.v1.5~acme.billing._.inv.v1.2", True),
    (f"{BASE}.v1~acme.billing._.inv.v1.2", f"{BASE}.v1~acme.billing._.inv.v1.3", False),
    (f"{BASE}.v1~acme.billing._.inv.v1", f"{BASE}.v1~acme.billing._.inv.v1~x.y.z.w.v1", False),
    (f"{BASE}.v1~acme", f"{BASE}.v1~acme.billing._.inv.v1", False),  # not even a pattern
    # "~*" needs at least one more segment after the "~"
    (f"{BASE}.v0~*", f"{BASE}.v0~", False),
    (f"{BASE}.v0~*", f"{BASE}.v0.1~", False),
    (f"{BASE}.v0~*", f"{BASE}.v0~a.b.c.d.v1", True),
    (f"{BASE}.v0~*", f"{BASE}.v0.1~a.b.c.d.v1", True),
    (f"{BASE}.v0~*", f"{BASE}.v1.1~", False),
    (f"{BASE}.v1.1~*", f"{BASE}.v1~a.b.c.d.*", False),
    (f"{BASE}.v1.1~*", f"{BASE}.v1.0~a.b.c.d.*", False),
    # the major-version wildcard is textual: v1.* covers v1.x
    (f"{BASE}.v1.*", f"{BASE}.v1.0~", True),
    (f"{BASE}.v1.*", f"{BASE}.v1.7~x.y.z.w.v1~", True),
    (f"{BASE}.v1.*", f"{BASE}.v2.0~", False),
    # anonymous instances
    (f"{BASE}.v1~", f"{BASE}.v1~3f2a9c10-1b2c-4d5e-8f90-0123456789ab", True),
    (
        f"{BASE}.v1~3f2a9c10-1b2c-4d5e-8f90-0123456789ab",
        f"{BASE}.v1~3f2a9c10-1b2c-4d5e-8f90-0123456789ab",
        True,
    ),
    # the candidate may itself be a pattern
    ("gts.acme.*", "gts.acme.billing.*", True),
    (f"{BASE}.v1~*", f"{BASE}.v1.0~acme.billing.*", True),
    (f"{BASE}.v1~", f"{BASE}.v1.0~acme.*", True),
    # invalid candidates never match
    ("gts.acme.*", f"{BASE}.v1~acme*", False),
    ("gts.acme.*", f"{BASE}.v1~ac-me.*", False),
    ("gts.acme.*", "gts.acme.billing.invoices.invoice.v1", False),
    ("gts.acme.*", "", False),
]


@pytest.mark.parametrize(("pattern", "candidate", "expected"), MATCHES)
def test_matching(pattern: str, candidate: str, expected: bool) -> None:
    if not is_valid_gts_pattern(pattern):
        assert not expected
        return
    compiled = GtsPattern.parse(pattern)
    assert compiled.matches(candidate) is expected
    if "*" not in candidate and expected:
        # a pre-parsed id gives the same answer as its text
        assert compiled.matches(GtsId.parse(candidate)) is True


def test_matching_accepts_a_parsed_pattern_as_candidate() -> None:
    outer = GtsPattern.parse("gts.acme.*")
    assert outer.matches(GtsPattern.parse("gts.acme.billing.*"))
    assert not outer.matches(GtsPattern.parse("gts.other.*"))


def test_matching_a_non_string_candidate_is_false() -> None:
    assert GtsPattern.parse("gts.*").matches(12) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("gts.*", "gts."),
        ("gts.acme.billing.*", "gts.acme.billing."),
        (f"{BASE}.v1.*", f"{BASE}.v1."),
        (f"{BASE}.v1.3~*", f"{BASE}.v1.3~"),
        (f"{BASE}.v1.3~acme.*", f"{BASE}.v1.3~acme."),
        # the first segment without a minor cuts the prefix: v1.0~... must still be found
        (f"{BASE}.v1~", f"{BASE}.v1"),
        (f"{BASE}.v1~*", f"{BASE}.v1"),
        (f"{BASE}.v1~acme.*", f"{BASE}.v1"),
        (f"{BASE}.v1.0~acme.billing._.inv.v2", f"{BASE}.v1.0~acme.billing._.inv.v2"),
        (f"{BASE}.v1.0~acme.billing.x.y.v2~*", f"{BASE}.v1.0~acme.billing.x.y.v2"),
    ],
)
def test_prefix_is_shared_by_every_match(pattern: str, prefix: str) -> None:
    assert GtsPattern.parse(pattern).prefix == prefix


def test_prefix_covers_the_matches_in_a_sample() -> None:
    sample = [c for _, c, _ in MATCHES if c]
    for pattern_text in VALID_PATTERNS:
        pattern = GtsPattern.parse(pattern_text)
        for candidate in sample:
            if pattern.matches(candidate):
                assert candidate.startswith(pattern.prefix), (pattern_text, candidate)


def test_parse_is_cached() -> None:
    assert GtsPattern.parse("gts.acme.*") is GtsPattern.parse("gts.acme.*")


def test_str_subclasses_work_as_pattern_and_candidate() -> None:
    class Text(str):
        pass

    pattern = GtsPattern.parse(Text("gts.acme.*"))
    assert type(pattern.text) is str
    assert pattern.matches(Text("gts.acme.billing.invoices.invoice.v1~"))
