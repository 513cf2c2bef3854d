"""Throughput of the hot GTS operations, each next to a baseline measured in the same run.

Run: ``.venv/bin/python bench/gts_ops.py [--quick]``

Figures are operations per second of this process's CPU time (``time.process_time``, so
other load on the shared machine distorts them less than wall time would), the median of
several rounds; our loop and its baseline alternate round by round. Baselines:
- id validation: the spec's reference chained regex (README §2.3), precompiled, with
  ``re.match``, the way a straightforward implementation calls it;
- id parsing: that regex plus splitting into frozen-dataclass segments (a straightforward
  implementation of the spec's parse procedure, §8.2);
- pattern matching: a straightforward token-by-token comparison of pattern and candidate
  text on each call (what an implementation without precompiled patterns does);
- instance validation: jsonschema's pre-built ``Draft7Validator`` on the same schema and
  instance (the issue's baseline).
Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from plugway.gts import GtsError, GtsId, GtsPattern, is_valid_gts_id
from plugway.gts import _ids as ids_impl

# README §2.3 reference regex for chained ids (copied as data: it is the spec's constant).
SPEC_CHAINED_REGEX = (
    r"^\s*gts\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*"
    r"\.v(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:~[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\."
    r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.v(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?)*"
    r"(?:~(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?)?\s*$"
)
SPEC_RE = re.compile(SPEC_CHAINED_REGEX)


def rate(loop: Callable[[], int], rounds: int, setup: Callable[[], None] | None = None) -> float:
    """Median ops/s of ``loop`` (which returns how many operations it did)."""
    results = []
    for _ in range(rounds):
        if setup is not None:
            setup()
        start = time.process_time()
        n = loop()
        results.append(n / (time.process_time() - start))
    return statistics.median(results)


def fresh_ids(n: int, salt: str) -> list[str]:
    return [f"gts.x.core.events.type.v1~x.app_{salt}._.item_{i}.v1.{i % 7}" for i in range(n)]


# --- baselines ---------------------------------------------------------------------------


def baseline_validate(text: str) -> bool:
    return len(text) <= 1024 and SPEC_RE.match(text) is not None and "~" in text


@dataclass(frozen=True, slots=True)
class NaiveSegment:
    vendor: str
    package: str
    namespace: str
    type: str
    ver_major: int
    ver_minor: int | None
    is_type: bool


def baseline_parse(text: str) -> tuple[NaiveSegment, ...]:
    if not baseline_validate(text):
        raise ValueError(text)
    pieces = text[4:].split("~")
    out = []
    for i, piece in enumerate(pieces):
        if not piece or "." not in piece:
            continue
        toks = piece.split(".")
        minor = int(toks[5]) if len(toks) == 6 else None
        is_type = i < len(pieces) - 1
        out.append(
            NaiveSegment(toks[0], toks[1], toks[2], toks[3], int(toks[4][1:]), minor, is_type)
        )
    return tuple(out)


def baseline_match(pattern: str, candidate: str) -> bool:
    """Token-by-token comparison, minor optional, '*' as a suffix wildcard, on every call."""
    wildcard = pattern.endswith("*")
    p_segs = (pattern[:-1] if wildcard else pattern)[4:].split("~")
    c_segs = candidate[4:].split("~")
    if not wildcard:
        if p_segs[-1]:  # an instance pattern names one instance
            if len(c_segs) != len(p_segs):
                return False
        else:
            p_segs.pop()
    for i, p_seg in enumerate(p_segs):
        if i >= len(c_segs):
            return False
        last = i == len(p_segs) - 1
        p_toks = p_seg.split(".")
        c_toks = c_segs[i].split(".")
        if last and wildcard:
            p_toks = p_toks[:-1]
            if not p_toks:
                return bool(c_segs[i])
            return c_toks[: len(p_toks)] == p_toks
        if c_toks[:5] != p_toks[:5]:
            return False
        if len(p_toks) == 6 and (len(c_toks) < 6 or c_toks[5] != p_toks[5]):
            return False
    return True


# --- sections ----------------------------------------------------------------------------


def line(label: str, ours: float, base: float, base_label: str) -> None:
    print(
        f"  {label:<44} {ours:>13,.0f}/s   baseline {base:>12,.0f}/s "
        f"({base_label})   x{ours / base:5.2f}"
    )


def compare(
    ours: Callable[[], int],
    base: Callable[[], int],
    rounds: int,
    setup: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """Median ops/s of both loops, rounds interleaved so load changes hit both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        a.append(rate(ours, 1, setup))
        b.append(rate(base, 1, setup))
    return statistics.median(a), statistics.median(b)


def bench_ids(n: int, rounds: int) -> None:
    print("id operations (fresh, distinct 2-segment instance ids)")
    salt = iter(range(10**9))
    batch: list[str] = []

    def new_batch() -> None:
        # Strings never seen before (so never cached), built outside the timed loop.
        batch[:] = fresh_ids(n, str(next(salt)))
        ids_impl._ID_CACHE.clear()

    def ours_validate() -> int:
        valid = is_valid_gts_id
        for s in batch:
            valid(s)
        return len(batch)

    def base_validate() -> int:
        for s in batch:
            baseline_validate(s)
        return len(batch)

    ours, base = compare(ours_validate, base_validate, rounds, new_batch)
    line("validate (is_valid_gts_id)", ours, base, "spec regex")

    def ours_parse() -> int:
        parse = GtsId.parse
        for s in batch:
            parse(s)
        return len(batch)

    def base_parse() -> int:
        for s in batch:
            baseline_parse(s)
        return len(batch)

    ours, base = compare(ours_parse, base_parse, rounds, new_batch)
    line("parse, uncached (GtsId.parse)", ours, base, "regex+dataclasses")

    new_batch()
    sample = batch[:1000]
    for _ in range(2):  # the cache admits an id on its second use
        for s in sample:
            GtsId.parse(s)

    def ours_cached() -> int:
        parse = GtsId.parse
        for _ in range(20):
            for s in sample:
                parse(s)
        return 20 * len(sample)

    line("parse, cached (same strings again)", rate(ours_cached, rounds), base, "regex+dataclasses")


def bench_match(n: int, rounds: int) -> None:
    print("pattern matching (pre-parsed id against a pre-parsed pattern)")
    gid = GtsId.parse("gts.x.core.events.type.v1.2~x.app._.item_17.v1.3")
    cases = [
        ("gts.x.core.*", "literal prefix"),
        ("gts.x.core.events.type.v1~x.app.*", "minor omitted (regex)"),
        ("gts.x.core.events.type.v1~", "type covers instances"),
        ("gts.x.core.events.type.v1.2~x.app._.item_17.v1.3", "exact instance"),
    ]
    for text, label in cases:
        pattern = GtsPattern.parse(text)
        assert pattern.matches(gid) == baseline_match(text, gid.text), text
        m = pattern.matches

        def ours(m: Callable[[GtsId], bool] = m) -> int:
            for _ in range(n):
                m(gid)
            return n

        def base(text: str = text) -> int:
            for _ in range(n // 4):
                baseline_match(text, gid.text)
            return n // 4

        line(f"match: {label}", *compare(ours, base, rounds), "token compare")


def bench_refusal(n: int, rounds: int) -> None:
    print("refusing a 10,000-character id vs. validating a normal one")
    huge = "gts." + "a" * 9996
    normal = "gts.x.core.events.type.v1~x.app._.item_1.v1"

    def valid_normal() -> int:
        for _ in range(n):
            is_valid_gts_id(normal)
        return n

    def valid_huge() -> int:
        for _ in range(n):
            is_valid_gts_id(huge)
        return n

    def parse_huge() -> int:
        k = max(1, n // 20)
        for _ in range(k):
            with contextlib.suppress(GtsError):
                GtsId.parse(huge)
        return k

    def spec_huge() -> int:
        k = max(1, n // 100)
        for _ in range(k):
            SPEC_RE.match(huge)
        return k

    normal_rate = rate(valid_normal, rounds)
    huge_rate = rate(valid_huge, rounds)
    print(f"  {'is_valid_gts_id(normal id)':<44} {normal_rate:>13,.0f}/s")
    print(
        f"  {'is_valid_gts_id(10,000-char id)':<44} {huge_rate:>13,.0f}/s   "
        f"(x{huge_rate / normal_rate:.2f} of normal)"
    )
    print(
        f"  {'GtsId.parse(10,000-char id) -> GtsIdError':<44} "
        f"{rate(parse_huge, rounds):>13,.0f}/s   (builds the error message)"
    )
    print(
        f"  {'spec regex on the 10,000-char id (baseline)':<44} "
        f"{rate(spec_huge, rounds):>13,.0f}/s   (no length check: scans the text)"
    )


SCHEMA_ID = "gts.x.bench.orders.order.v1~"
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "gts://" + SCHEMA_ID,
    "type": "object",
    "required": ["id", "sku", "qty", "price"],
    "properties": {
        "id": {"type": "string"},
        "sku": {"type": "string", "minLength": 3, "maxLength": 32},
        "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
        "price": {"type": "number", "exclusiveMinimum": 0},
        "note": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "state": {"enum": ["new", "paid", "shipped"]},
    },
    "additionalProperties": False,
}
INSTANCE: dict[str, Any] = {
    "id": SCHEMA_ID + "x.bench._.order_1.v1",
    "sku": "SKU-001",
    "qty": 3,
    "price": 12.5,
    "tags": ["a", "b"],
    "state": "paid",
}


def bench_instances(n: int, rounds: int) -> None:
    print("instance validation (small instance against a registered schema)")
    try:
        from jsonschema import Draft7Validator  # type: ignore[import-untyped]

        from plugway.gts import GtsStore
    except ImportError as exc:  # the store lives in another module of this package
        print(f"  skipped: {exc}")
        return
    store = GtsStore()
    store.register(SCHEMA)
    try:
        store.validate_instance_document(INSTANCE, SCHEMA_ID)
    except (GtsError, AttributeError, TypeError) as exc:
        print(f"  skipped: GtsStore.validate_instance_document is not usable yet: {exc}")
        return
    validate_ours = store.validate_instance_document
    validator = Draft7Validator(SCHEMA)
    validate_base = validator.validate

    def ours() -> int:
        for _ in range(n):
            validate_ours(INSTANCE, SCHEMA_ID)
        return n

    def base() -> int:
        k = max(1, n // 20)
        for _ in range(k):
            validate_base(INSTANCE)
        return k

    line("GtsStore.validate_instance_document", *compare(ours, base, rounds), "Draft7")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args(argv)
    n, rounds = (20_000, 3) if args.quick else (100_000, 7)
    print(
        f"python {sys.version.split()[0]}, {n:,} ops per round, "
        f"median of {rounds} rounds, CPU time, gc on"
    )
    gc.collect()
    bench_ids(n, rounds)
    bench_match(n, rounds)
    bench_refusal(n, rounds)
    bench_instances(n // 2, rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
