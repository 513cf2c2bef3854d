"""Sticky bucketing: a fast stable key hash and weighted rendezvous hashing over fixed buckets.

A key is hashed (CRC-32 of salt + key, then a 64-bit multiplicative mix: stable across processes,
platforms and restarts, unlike ``hash()``) into one of 65,536 buckets. Each bucket is assigned a
variant by weighted rendezvous hashing: variant *i* scores ``-w_i / ln(u_i)`` where ``u_i`` is a
uniform number drawn from (salt, variant identity, bucket); the highest score wins. ``u_i`` never
depends on the weights or on the order of the variants, so raising one variant's weight can only
move buckets -- and with them keys -- *into* that variant, and dropping a variant only moves its
own keys. The assignment is computed per bucket when a router is compiled, so a call pays one hash
and one table read. Rollouts use the same hash: a key is in iff its basis-point bucket is below the
rollout size, so raising the size only moves keys into the target.
"""

from __future__ import annotations

import hashlib
import math
import sys
import zlib
from array import array
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "BUCKET_BITS",
    "N_BUCKETS",
    "bucket_of",
    "build_table",
    "key_hash",
    "rendezvous_choice",
    "rollout_bucket",
    "salt_state",
    "variant_uniforms",
]

BUCKET_BITS = 16
N_BUCKETS = 1 << BUCKET_BITS
BUCKET_SHIFT = 64 - BUCKET_BITS
MIX = 0x9E3779B97F4A7C15  # odd 64-bit constant (2^64 / golden ratio): spreads low bits upward
MASK64 = (1 << 64) - 1
_TWO64 = float(1 << 64)


def salt_state(salt: str) -> int:
    """The CRC-32 state after the salt: hashing ``key`` from it equals hashing ``salt + key``."""
    return zlib.crc32(salt.encode("utf-8", "surrogatepass") + b"\x00")


def key_hash(state: int, key: str) -> int:
    """A stable, well-spread 64-bit hash of ``key`` under a salt state (see ``salt_state``)."""
    return (zlib.crc32(key.encode(), state) * MIX) & MASK64


def bucket_of(h: int) -> int:
    """The rendezvous bucket (0..65535) of a key hash."""
    return h >> BUCKET_SHIFT


def rollout_bucket(h: int) -> int:
    """The basis-point bucket (0..9999) of a key hash: in the rollout iff below its size."""
    return (h * 10_000) >> 64


@lru_cache(maxsize=32)
def variant_uniforms(salt: str, label: str) -> array[float]:
    """``-ln(u)`` for every bucket, u uniform in (0,1) from (salt, variant identity, bucket).

    SHAKE-256 is an extendable-output hash: one call gives the 65,536 stable 64-bit draws.
    """
    seed = f"{salt}\x00{label}".encode("utf-8", "surrogatepass")  # any text a document holds
    raw = hashlib.shake_256(seed).digest(8 * N_BUCKETS)
    words = array("Q")
    words.frombytes(raw)
    if sys.byteorder == "big":
        words.byteswap()
    log = math.log
    return array("d", [-log((w + 0.5) / _TWO64) for w in words])


def rendezvous_choice(salt: str, bucket: int, variants: Sequence[tuple[str, int]]) -> int | None:
    """Index of the winning ``(label, weight)`` for one bucket; None if every weight is 0.

    The reference definition; ``build_table`` computes the same for all buckets at once.
    """
    best: int | None = None
    best_score = 0.0
    for i, (label, weight) in enumerate(variants):
        if weight <= 0:
            continue
        score = weight / variant_uniforms(salt, label)[bucket]
        if best is None or score > best_score:
            best, best_score = i, score
    return best


def build_table(salt: str, variants: Sequence[tuple[str, int]]) -> bytes | None:
    """For every bucket, the index of its variant (a byte each); None if every weight is 0."""
    if len(variants) > 255:
        raise ValueError("at most 255 variants")
    live = [(i, label, w) for i, (label, w) in enumerate(variants) if w > 0]
    if not live:
        return None
    first_i, first_label, first_w = live[0]
    best = [first_w / x for x in variant_uniforms(salt, first_label)]
    idx = bytearray([first_i]) * N_BUCKETS
    for i, label, w in live[1:]:
        scores = [w / x for x in variant_uniforms(salt, label)]
        for b, (s, cur) in enumerate(zip(scores, best, strict=True)):
            if s > cur:
                best[b] = s
                idx[b] = i
    return bytes(idx)
