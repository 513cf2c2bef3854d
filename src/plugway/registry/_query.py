"""Checking a list query and turning it into a backend range scan; opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import replace

from plugway.gts import GtsError, GtsPattern

from ._backend import ScanQuery, prefix_upper_bound
from ._entity import EntityQuery
from ._errors import RegistryQueryError

MAX_LIMIT = 10_000
_TOKEN = re.compile(r"[a-z_][a-z0-9_]*\Z")


def _fingerprint(q: EntityQuery) -> str:
    """Identifies the filters a cursor was issued for, so it cannot be replayed on another query."""
    key = json.dumps(
        [q.pattern, q.is_type, q.vendor, q.package, q.namespace, q.segment_scope],
        separators=(",", ":"),
    )
    return hashlib.blake2s(key.encode(), digest_size=6).hexdigest()


def encode_cursor(q: EntityQuery, last_id: str) -> str:
    raw = json.dumps({"a": last_id, "f": _fingerprint(q)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(q: EntityQuery, cursor: str) -> str:
    """The last id of the previous page; RegistryQueryError naming the cursor if it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = data["a"]
        fp = data["f"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
        raise RegistryQueryError(
            f"invalid cursor {cursor!r}: not a cursor of this registry", "cursor"
        ) from exc
    if not isinstance(after, str) or not isinstance(fp, str):
        raise RegistryQueryError(
            f"invalid cursor {cursor!r}: not a cursor of this registry", "cursor"
        )
    if fp != _fingerprint(q):
        raise RegistryQueryError(
            f"invalid cursor {cursor!r}: it was issued for a query with different filters",
            "cursor",
        )
    return after


def parse_pattern(text: str) -> GtsPattern:
    try:
        return GtsPattern.parse(text)
    except GtsError as exc:
        raise RegistryQueryError(f"invalid pattern {text!r}: {exc}", "pattern") from exc


def to_scans(q: EntityQuery) -> list[ScanQuery]:
    """Validate ``q`` completely (a bad part is an error, never ignored) and build the scan.

    A pattern gives one range scan per prefix of :func:`scan_prefixes`, in id order; each asks
    for ``limit + 1`` rows: the extra one tells whether there is a next page.
    """
    if isinstance(q.limit, bool) or not isinstance(q.limit, int) or not 1 <= q.limit <= MAX_LIMIT:
        raise RegistryQueryError(
            f"invalid limit {q.limit!r}: must be an integer in 1..{MAX_LIMIT}", "limit"
        )
    if q.segment_scope not in ("primary", "any"):
        raise RegistryQueryError(
            f"invalid segment_scope {q.segment_scope!r}: must be 'primary' or 'any'",
            "segment_scope",
        )
    if q.is_type is not None and not isinstance(q.is_type, bool):
        raise RegistryQueryError(f"invalid is_type {q.is_type!r}: must be a boolean", "is_type")
    for name, value in (("vendor", q.vendor), ("package", q.package), ("namespace", q.namespace)):
        if value is not None and (not isinstance(value, str) or not _TOKEN.match(value)):
            raise RegistryQueryError(
                f"invalid {name} {value!r}: must be a GTS token (lowercase letters, digits, '_')",
                name,
            )
    after = decode_cursor(q, q.cursor) if q.cursor is not None else None
    base = ScanQuery(
        after=after,
        is_type=q.is_type,
        vendor=q.vendor,
        package=q.package,
        namespace=q.namespace,
        segment_scope=q.segment_scope,
        limit=q.limit + 1,
    )
    if q.pattern is None:
        return [base]
    if not isinstance(q.pattern, str):
        raise RegistryQueryError(f"invalid pattern {q.pattern!r}: must be a string", "pattern")
    pattern = parse_pattern(q.pattern)
    scans: list[ScanQuery] = []
    for prefix in scan_prefixes(pattern):
        hi = prefix_upper_bound(prefix)
        if after is not None and hi is not None and after >= hi:
            continue  # this range lies wholly before the cursor
        scans.append(
            replace(
                base,
                lo=prefix,
                hi=hi,
                pattern_text=pattern.text,
                matches=pattern.matches,
            )
        )
    return scans


def scan_prefixes(pattern: GtsPattern) -> list[str]:
    """Disjoint literal prefixes, in order, whose ranges together hold every match of ``pattern``.

    ``pattern.prefix`` stops at the first segment written without a minor version, because such a
    segment also matches ``vN.<minor>``. Splitting there keeps the scan tight: a candidate either
    has a minor in that segment (range ``<…>vN.``) or has none and continues literally
    (``<…>vN~…``). So a pattern on a contract id finds its plugins without scanning its siblings.
    """
    text = pattern.text[:-1] if pattern.is_wildcard else pattern.text
    pieces = text.split("~")
    out: list[str] = []
    done = ""
    for index, piece in enumerate(pieces[:-1]):  # complete type segments, each closed by "~"
        tokens = len(piece.split(".")) - (1 if index == 0 else 0)  # first piece has "gts."
        if tokens == 5:  # no minor written: any minor matches
            out.append(done + piece + ".")
        done += piece + "~"
    out.append(done + pieces[-1])
    out.sort()
    return out
