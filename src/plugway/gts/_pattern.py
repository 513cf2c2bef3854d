"""GTS wildcard patterns and OP#4 matching.

Why: registries, policies and plugin routing select ids by pattern many times per
request, so a pattern is parsed once and precompiled into the cheapest test on candidate
text: a ``str.startswith`` when the pattern is fully literal, otherwise one anchored regex
``match`` (a literal with optional ``.MINOR`` groups where the pattern omits the minor).

Semantics (the conformance tests are the truth where the spec prose differs):
- a pattern is either a valid GTS id (no ``*``) or ends in exactly one ``*`` placed right
  after a ``.`` or ``~`` token boundary;
- ``*`` matches the rest, but at least one character: ``A~*`` needs a further segment and
  does not match ``A~`` itself;
- a segment written without a minor version matches any minor of that major;
- a non-wildcard type pattern ``A~`` is a segment-prefix match (it matches ``A.1~``,
  derived types and instances); a non-wildcard instance pattern matches that instance only;
- the candidate may itself be an id or a valid pattern; invalid candidates never match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ._errors import GtsError, GtsPatternError
from ._ids import (
    GTS_PREFIX,
    MAX_ID_LENGTH,
    NUM_RE,
    GtsId,
    diagnose_id,
    diagnose_segment,
    diagnose_token,
    is_valid_gts_id,
    shorten,
)

__all__ = ["GtsPattern", "id_or_pattern_error", "is_valid_gts_pattern"]

_MAJOR_FULLMATCH = re.compile(rf"v{NUM_RE}").fullmatch
_MINOR_ANY = rf"(?:\.{NUM_RE})?"


@dataclass(frozen=True, slots=True)
class GtsPattern:
    """A parsed, precompiled GTS id pattern. Build it with ``GtsPattern.parse``."""

    text: str
    is_wildcard: bool
    #: Longest literal text shared by every id the pattern can match (for index scans).
    prefix: str
    _regex: Callable[[str], re.Match[str] | None] | None = field(
        default=None, repr=False, compare=False
    )
    _exact: bool = field(default=False, repr=False, compare=False)
    _min_len: int = field(default=0, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> GtsPattern:
        """Parse ``text`` (cached); raises ``GtsPatternError`` naming the pattern and fault."""
        pat = _CACHE.get(text) if type(text) is str else None
        if pat is None:
            pat = _compile(text)
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.clear()
            _CACHE[text] = pat
        return pat

    def matches(self, candidate: GtsId | GtsPattern | str) -> bool:
        """OP#4: does ``candidate`` (an id, or itself a pattern) fall under this pattern?"""
        kind = type(candidate)
        if kind is GtsId or kind is GtsPattern:
            text: str = candidate.text  # type: ignore[union-attr]
        elif isinstance(candidate, str) and _is_valid_candidate(candidate):
            text = candidate
        else:
            return False
        regex = self._regex
        if regex is not None:
            return regex(text) is not None
        if self._exact:
            return text == self.prefix
        return len(text) >= self._min_len and text.startswith(self.prefix)

    def __str__(self) -> str:
        return self.text


_CACHE: dict[str, GtsPattern] = {}
_CACHE_MAX = 16384


def is_valid_gts_pattern(text: str) -> bool:
    """True when ``text`` is a valid pattern (a valid id or a well-formed wildcard)."""
    try:
        GtsPattern.parse(text)
    except GtsPatternError:
        return False
    return True


def id_or_pattern_error(text: str) -> str:
    """OP#1 as the command line and the conformance API report it: ``""`` when ``text`` is a
    valid id (or, when it holds a ``*``, a valid pattern), else the reason it is not."""
    try:
        if "*" in text:
            GtsPattern.parse(text)
        else:
            GtsId.parse(text)
    except GtsError as exc:
        return str(exc)
    return ""


def _is_valid_candidate(text: str) -> bool:
    return is_valid_gts_id(text) or ("*" in text and is_valid_gts_pattern(text))


def _error(text: str, reason: str) -> GtsPatternError:
    return GtsPatternError(
        f"Invalid GTS pattern: {shorten(text)}: {reason}", pattern=text, reason=reason
    )


def _compile(text: str) -> GtsPattern:
    if type(text) is not str and isinstance(text, str):
        text = str.__str__(text)
    if type(text) is not str:
        raise GtsPatternError(
            f"Invalid GTS pattern: expected a string, got {type(text).__name__}",
            reason="not a string",
        )
    if len(text) > MAX_ID_LENGTH:
        raise _error(text, f"the pattern is {len(text)} characters long, the limit is 1024")
    star = text.find("*")
    if star < 0:
        if not is_valid_gts_id(text):
            raise _error(text, diagnose_id(text))
        literal = text
    else:
        if star != len(text) - 1:
            raise _error(text, "'*' must be the last character and appear only once")
        literal = text[:-1]
        if not literal.startswith(GTS_PREFIX):
            raise _error(text, "a pattern must start with 'gts.'")
        if literal[-1] not in ".~":
            raise _error(text, "'*' must follow a '.' or '~' token boundary")
        pieces = literal[len(GTS_PREFIX) :].split("~")
        partial = pieces.pop()
        for i, piece in enumerate(pieces, start=1):
            reason = diagnose_segment(piece, i)
            if reason:
                raise _error(text, reason)
        if partial:
            reason = _diagnose_partial(partial[:-1], len(pieces) + 1)
            if reason:
                raise _error(text, reason)
    return _build(text, literal, star >= 0)


def _diagnose_partial(head: str, index: int) -> str | None:
    """The literal part of the wildcard segment: 1-4 name tokens, or all 4 plus a major."""
    toks = head.split(".")
    if len(toks) > 5:
        return f"segment {index} before '*' has {len(toks)} tokens, at most 5 can precede it"
    for pos, tok in enumerate(toks[:4]):
        reason = diagnose_token(tok, f"segment {index}: token {pos + 1}")
        if reason:
            return reason
    if len(toks) == 5 and _MAJOR_FULLMATCH(toks[4]) is None:
        return f"segment {index}: version '{shorten(toks[4], 40)}' is invalid"
    return None


def _build(text: str, literal: str, wildcard: bool) -> GtsPattern:
    """Compile to a startswith / equality test, or a regex when minors are optional."""
    body = literal[len(GTS_PREFIX) :]
    pieces = body.split("~")
    tail = pieces.pop()  # partial wildcard segment, instance segment, uuid, or "" (type)
    parts: list[str] = [re.escape(GTS_PREFIX)]
    prefix: str | None = None
    lenient = False
    done = GTS_PREFIX

    def add_segment(piece: str, closing: str) -> None:
        nonlocal prefix, lenient, done
        toks = piece.split(".")
        if len(toks) == 5:  # no minor given: any minor of this major matches
            if prefix is None:
                prefix = done + piece
            lenient = True
            parts.append(re.escape(piece) + _MINOR_ANY + re.escape(closing))
        else:
            parts.append(re.escape(piece + closing))
        done += piece + closing

    for piece in pieces:
        add_segment(piece, "~")
    exact = False
    if wildcard:
        parts.append(re.escape(tail) + ".")
        done += tail
    elif tail and "." in tail:  # instance segment: only that instance matches
        add_segment(tail, "")
        parts.append(r"\Z")
        exact = True
    elif tail:  # combined anonymous uuid tail
        parts.append(re.escape(tail) + r"\Z")
        done += tail
        exact = True
    if prefix is None:
        prefix = done
    regex = re.compile("".join(parts)).match if lenient else None
    return GtsPattern(
        text=text,
        is_wildcard=wildcard,
        prefix=prefix,
        _regex=regex,
        _exact=exact,
        # "*" stands for at least one character: "A~*" does not match "A~" itself.
        _min_len=len(prefix) + 1 if wildcard else len(prefix),
    )
