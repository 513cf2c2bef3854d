"""GTS identifiers (OP#1 validation, OP#3 parsing, OP#5 UUID v5) as parsed value objects.

Why this shape: every layer above handles ids constantly (registry keys, plugin routing,
schema references), so an id is parsed once into an immutable ``GtsId`` and reused.
Validation is a single precompiled, backtracking-safe regex ``fullmatch`` after a length
check (the 1024-character limit is enforced before any matching), and only a refused id
takes the slower diagnostic path that explains what is wrong.

``GtsSegment`` and ``GtsId`` are ``typing.NamedTuple`` subclasses rather than frozen
dataclasses: they are just as immutable and slotted, but build in a fraction of the time
(a frozen dataclass ``__init__`` alone costs more than the whole parse budget).
"""

from __future__ import annotations

import re
import uuid
from typing import NamedTuple

from ._errors import GtsIdError

__all__ = [
    "GTS_NAMESPACE",
    "GTS_PREFIX",
    "GTS_URI_PREFIX",
    "MAX_ID_LENGTH",
    "GtsId",
    "GtsSegment",
    "gts_uuid",
    "is_valid_gts_id",
    "shorten",
]

MAX_ID_LENGTH = 1024
GTS_PREFIX = "gts."
GTS_URI_PREFIX = "gts://"
#: UUID v5 namespace of GTS: uuid5(NAMESPACE_URL, "gts").
GTS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "gts")

# Building blocks. Repetitions are possessive ("*+", "++", "?+") and every repeated unit
# ends in a character the next unit cannot start with, so the engine never backtracks:
# matching is linear in the input length and cheap per character.
TOKEN_RE = r"[a-z_][a-z0-9_]*+"
NUM_RE = r"(?:0|[1-9][0-9]*+)"
SEGMENT_RE = rf"{TOKEN_RE}\.{TOKEN_RE}\.{TOKEN_RE}\.{TOKEN_RE}\.v{NUM_RE}(?:\.{NUM_RE})?+"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# "gts." (seg "~")+ [seg | uuid]: at least one "~", so a single-segment instance id (no
# type to its left) is refused, as required since spec v0.7.
_ID_FULLMATCH = re.compile(rf"gts\.(?:{SEGMENT_RE}~)++(?:{SEGMENT_RE}|{UUID_RE})?+").fullmatch
# The same grammar with the tail captured, so parsing needs no second pass over the text:
# groups = (type chain incl. its last "~", vendor, package, namespace, type, major, minor, uuid)
_ID_PARSE = re.compile(
    rf"(gts\.(?:{SEGMENT_RE}~)++)(?:({TOKEN_RE})\.({TOKEN_RE})\.({TOKEN_RE})\.({TOKEN_RE})"
    rf"\.v({NUM_RE})(?:\.({NUM_RE}))?+|({UUID_RE}))?+"
).fullmatch
# Only the part after the last "~" (empty for a type id), for chains already validated.
_TAIL_PARSE = re.compile(
    rf"(?:({TOKEN_RE})\.({TOKEN_RE})\.({TOKEN_RE})\.({TOKEN_RE})"
    rf"\.v({NUM_RE})(?:\.({NUM_RE}))?+|({UUID_RE}))?+"
).fullmatch
_TOKEN_FULLMATCH = re.compile(TOKEN_RE).fullmatch
_NUM_FULLMATCH = re.compile(NUM_RE).fullmatch
_MAJOR_FULLMATCH = re.compile(rf"v{NUM_RE}").fullmatch
_UUID_FULLMATCH = re.compile(UUID_RE).fullmatch

_NAME_FIELDS = ("vendor", "package", "namespace", "type")
# Version numbers are tiny in practice; a lookup beats int() on the hot path. ("0" maps to
# 0, which is falsy, so callers write ``_INTS.get(s) or int(s)``: still correct.)
_INTS: dict[str, int] = {str(i): i for i in range(1000)}


def shorten(text: str, limit: int = 80) -> str:
    """Text for an error message: long input is cut so messages stay readable."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text)} chars)"


class GtsSegment(NamedTuple):
    """One ``vendor.package.namespace.type.vMAJOR[.MINOR]`` element of an id chain."""

    vendor: str
    package: str
    namespace: str
    type: str
    ver_major: int
    ver_minor: int | None
    is_type: bool

    def __str__(self) -> str:
        minor = "" if self.ver_minor is None else f".{self.ver_minor}"
        tail = "~" if self.is_type else ""
        return (
            f"{self.vendor}.{self.package}.{self.namespace}.{self.type}"
            f".v{self.ver_major}{minor}{tail}"
        )


_new_tuple = tuple.__new__
_TYPE_SEGMENTS: dict[str, GtsSegment] = {}
_SEGMENT_CACHE_MAX = 4096


def _segment(piece: str, is_type: bool) -> GtsSegment:
    """Build a segment from already-validated text."""
    toks = piece.split(".")
    minor = int(toks[5]) if len(toks) == 6 else None
    return _new_tuple(
        GtsSegment, (toks[0], toks[1], toks[2], toks[3], int(toks[4][1:]), minor, is_type)
    )


def _type_segment(piece: str) -> GtsSegment:
    """Type segments are shared by many ids (every instance of a type), so intern them."""
    seg = _TYPE_SEGMENTS.get(piece)
    if seg is None:
        if len(_TYPE_SEGMENTS) >= _SEGMENT_CACHE_MAX:
            _TYPE_SEGMENTS.clear()
        seg = _TYPE_SEGMENTS[piece] = _segment(piece, True)
    return seg


_CHAINS: dict[str, tuple[GtsSegment, ...]] = {}


def _type_chain(chain: str) -> tuple[GtsSegment, ...]:
    """Segments of a validated ``gts.seg~...~`` type chain, interned like type segments."""
    if len(_CHAINS) >= _SEGMENT_CACHE_MAX:
        _CHAINS.clear()
    segs = _CHAINS[chain] = tuple([_type_segment(p) for p in chain[4:-1].split("~")])
    return segs


class GtsId(NamedTuple):
    """A valid GTS identifier, parsed. Build it with ``GtsId.parse``."""

    text: str
    segments: tuple[GtsSegment, ...]
    is_type: bool
    uuid_tail: str | None

    @staticmethod
    def parse(text: str) -> GtsId:
        """Parse ``text`` (cached from its second use); raises ``GtsIdError`` naming the fault."""
        if type(text) is not str:
            return _parse_uncached(text)
        gid = _ID_CACHE.get(text)
        if gid is not None:
            return gid
        # Inlined fast path (one Python call less): the type chain is known (validated
        # before) and only the tail after the last "~" is new, the common case since many
        # instances share a few types. Everything else goes through _parse_uncached.
        if len(text) > MAX_ID_LENGTH:
            return _parse_uncached(text)
        cut = text.rfind("~") + 1
        segs = _CHAINS.get(text[:cut])
        if segs is None:
            return _parse_uncached(text)
        m = _TAIL_PARSE(text, cut)
        if m is None:
            return _parse_uncached(text)
        vendor, package, namespace, name, major, minor, uuid_tail = m.groups()
        if vendor is None:
            gid = _new_tuple(GtsId, (text, segs, uuid_tail is None, uuid_tail))
        else:
            seg = _new_tuple(
                GtsSegment,
                (
                    vendor,
                    package,
                    namespace,
                    name,
                    _INTS.get(major) or int(major),
                    minor and (_INTS.get(minor) or int(minor)),
                    False,
                ),
            )
            gid = _new_tuple(
                GtsId, (text, (segs[0], seg) if len(segs) == 1 else (*segs, seg), False, None)
            )
        # _admit(text, gid), inlined
        if text in _SEEN:
            if len(_ID_CACHE) >= _ID_CACHE_MAX:
                _ID_CACHE.clear()
            _ID_CACHE[text] = gid
        else:
            if len(_SEEN) >= _SEEN_MAX:
                _SEEN.clear()
            _SEEN.add(text)
        return gid

    @property
    def type_id(self) -> str | None:
        """Instance: the chain through the last ``~``. Derived type: its parent. Base: None."""
        text = self.text
        if self.is_type:
            cut = text.rfind("~", 0, len(text) - 1)
            return text[: cut + 1] if cut >= 0 else None
        return text[: text.rfind("~") + 1]

    @property
    def base_type_id(self) -> str:
        """The first segment as a type id: the root of the derivation chain."""
        text = self.text
        return text[: text.index("~") + 1]

    @property
    def is_instance(self) -> bool:
        return not self.is_type

    @property
    def is_anonymous(self) -> bool:
        """A combined anonymous instance id: a type chain followed by a UUID."""
        return self.uuid_tail is not None

    def uuid(self) -> uuid.UUID:
        """OP#5: UUID v5 of the complete id text in the GTS namespace."""
        return uuid.uuid5(GTS_NAMESPACE, self.text)

    def __str__(self) -> str:
        return self.text


# Bounded, and cleared when full. Kept small on purpose: tuple subclasses are never
# untracked by the cyclic GC, so every cached id costs time in each full collection;
# measured, a 64k cache made uncached parsing ~2x slower than an 8k one.
_ID_CACHE: dict[str, GtsId] = {}
_ID_CACHE_MAX = 8192
# Admission: an id enters the cache the second time it is parsed. One-off ids (a stream of
# fresh instance ids) then never pollute the cache nor pile up as GC-tracked survivors;
# ids that recur are cached from their second use on. Strings are not GC-tracked.
_SEEN: set[str] = set()
_SEEN_MAX = 16384


def _admit(text: str, gid: GtsId) -> None:
    if text in _SEEN:
        if len(_ID_CACHE) >= _ID_CACHE_MAX:
            _ID_CACHE.clear()
        _ID_CACHE[text] = gid
    else:
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN.add(text)


def _parse_uncached(text: str) -> GtsId:
    if type(text) is not str and isinstance(text, str):
        text = str.__str__(text)  # a str subclass: work on (and keep) a plain copy
    if type(text) is not str:
        reason = f"expected a string, got {type(text).__name__}"
        raise GtsIdError(f"Invalid GTS identifier: {reason}", gts_id=None, reason=reason)
    if len(text) > MAX_ID_LENGTH:
        raise _id_error(text, diagnose_id(text))
    # Fast path: the type chain was seen (and validated) before, only the tail is new.
    # This is the common case: many instances share a handful of types.
    cut = text.rfind("~") + 1
    segs = _CHAINS.get(text[:cut])
    if segs is not None:
        m = _TAIL_PARSE(text, cut)
        if m is None:
            raise _id_error(text, diagnose_id(text))
        vendor, package, namespace, name, major, minor, uuid_tail = m.groups()
    else:
        m = _ID_PARSE(text)
        if m is None:
            raise _id_error(text, diagnose_id(text))
        chain, vendor, package, namespace, name, major, minor, uuid_tail = m.groups()
        segs = _type_chain(chain)
    if vendor is not None:
        seg = _new_tuple(
            GtsSegment,
            (
                vendor,
                package,
                namespace,
                name,
                _INTS.get(major) or int(major),
                None if minor is None else (_INTS.get(minor) or int(minor)),
                False,
            ),
        )
        segs = (segs[0], seg) if len(segs) == 1 else (*segs, seg)
        gid = _new_tuple(GtsId, (text, segs, False, None))
    else:
        gid = _new_tuple(GtsId, (text, segs, uuid_tail is None, uuid_tail))
    _admit(text, gid)
    return gid


def _id_error(text: str, reason: str) -> GtsIdError:
    return GtsIdError(
        f"Invalid GTS identifier: {shorten(text)}: {reason}", gts_id=text, reason=reason
    )


def is_valid_gts_id(text: str) -> bool:
    """OP#1: True when ``text`` is a valid GTS id (not a pattern). Never raises."""
    return (
        (type(text) is str or isinstance(text, str))
        and len(text) <= MAX_ID_LENGTH
        and _ID_FULLMATCH(text) is not None
    )


def gts_uuid(text: str) -> uuid.UUID:
    """OP#5: UUID v5 of a valid GTS id; raises ``GtsIdError`` for anything else."""
    return GtsId.parse(text).uuid()


def diagnose_segment(piece: str, index: int) -> str | None:
    """Why one ``~``-separated piece is not a valid segment (None when it is).

    ``index`` is 1-based, for messages.
    """
    where = f"segment {index}"
    if not piece:
        return f"{where} is empty"
    if index > 1 and piece.startswith(GTS_PREFIX) and not diagnose_segment(piece[4:], index):
        return f"{where} repeats the 'gts.' prefix; only the first segment carries it"
    toks = piece.split(".")
    if not 5 <= len(toks) <= 6:
        return f"{where} has {len(toks)} tokens, expected vendor.package.namespace.type.version"
    for pos in range(4):
        reason = diagnose_token(toks[pos], f"{where}: {_NAME_FIELDS[pos]} token")
        if reason:
            return reason
    if _MAJOR_FULLMATCH(toks[4]) is None:
        return (
            f"{where}: version '{shorten(toks[4], 40)}' is invalid (expected 'v' and a "
            "major number without leading zeros, e.g. v1 or v1.2)"
        )
    if len(toks) == 6 and _NUM_FULLMATCH(toks[5]) is None:
        return (
            f"{where}: minor version '{shorten(toks[5], 40)}' is invalid "
            "(a number without leading zeros)"
        )
    return None


def diagnose_token(tok: str, what: str) -> str | None:
    """Why a name token is invalid (None when it is valid)."""
    if not tok:
        return f"{what} is empty"
    if _TOKEN_FULLMATCH(tok) is None:
        return (
            f"{what} '{shorten(tok, 40)}' is invalid "
            "(lowercase letters, digits and '_', not starting with a digit)"
        )
    return None


def diagnose_id(text: str) -> str:
    """A human explanation of why ``text`` is not a valid GTS id (linear time)."""
    if not text:
        return "the id is empty"
    if len(text) > MAX_ID_LENGTH:
        return f"the id is {len(text)} characters long, the limit is {MAX_ID_LENGTH}"
    if text != text.strip():
        return "the id has surrounding whitespace"
    if not text.startswith(GTS_PREFIX):
        if text.lower().startswith(GTS_PREFIX):
            return "the id must be lowercase and start with 'gts.'"
        if text.startswith(GTS_URI_PREFIX):
            return "the 'gts://' URI form is not an id; strip the scheme"
        return "the id must start with 'gts.'"
    if "*" in text:
        return "wildcards ('*') are only allowed in patterns, not in ids"
    if text != text.lower():
        return "the id must be lowercase"
    pieces = text[4:].split("~")
    if len(pieces) == 1:
        reason = diagnose_segment(pieces[0], 1)
        if reason:
            return reason
        return (
            "a single-segment instance id is not allowed; an instance id needs a type "
            "segment to its left (or end the id with '~' to name a type)"
        )
    last = pieces.pop()
    for i, piece in enumerate(pieces, start=1):
        if not piece:
            return f"segment {i} is empty (consecutive '~')"
        reason = diagnose_segment(piece, i)
        if reason:
            return reason
    if last and "." not in last and _UUID_FULLMATCH(last) is None:
        return (
            f"the tail '{shorten(last, 40)}' after the last '~' is neither a segment nor "
            "a lowercase UUID"
        )
    if last and "." in last:
        reason = diagnose_segment(last, len(pieces) + 1)
        if reason:
            return reason
    return "the id does not match the GTS identifier grammar"
