"""Sticky bucketing: a fast stable key hash and weighted rendezvous hashing over fixed buckets.

A key is hashed (CRC-32 of salt + key, then a 64-bit multiplicative mix: stable across processes,
platforms and restarts, unlike ``hash()``) into one of 65,536 buckets. Each bucket is assigned a
variant by weighted rendezvous hashing: variant *i* scores ``-w_i / ln(u_i)`` where ``u_i`` is a
uniform number drawn from (salt, variant identity, bucket) alone; the highest score wins. ``u_i``
never depends on the weights or on the order of the variants, so raising one variant's weight can
only move buckets -- and with them keys -- *into* that variant, and dropping a variant only moves
its own keys. A split computes a bucket's winner the first time a key lands in it and keeps it in
a 64 KiB table (:class:`BucketTable`), so compiling a routing costs nothing per bucket and a call
pays one hash and one table read. Rollouts use the same key hash: a key is in iff its basis-point
bucket is below the rollout size, so raising the size only moves keys into the target.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Sequence

__all__ = [
    "BUCKET_BITS",
    "BUCKET_SHIFT",
    "N_BUCKETS",
    "UNSET",
    "BucketTable",
    "bucket_of",
    "key_hash",
    "rendezvous_choice",
    "rollout_bucket",
    "salt_state",
]

BUCKET_BITS = 16
N_BUCKETS = 1 << BUCKET_BITS
BUCKET_SHIFT = 64 - BUCKET_BITS
MIX = 0x9E3779B97F4A7C15  # odd 64-bit constant (2^64 / golden ratio): spreads low bits upward
MASK64 = (1 << 64) - 1
MAX_VARIANTS = 255  # a table entry is one byte; 255 marks a bucket not computed yet
UNSET = 255
_UNFILLED = bytes([UNSET]) * N_BUCKETS  # every table's cells until its first bucket is filled
_TWO64 = float(1 << 64)


def _utf8(text: str) -> bytes:
    # any text a document holds, lone surrogates included (documents refuse them; tests may not)
    return text.encode("utf-8", "surrogatepass")


def salt_state(salt: str) -> int:
    """The CRC-32 state after the salt: hashing ``key`` from it equals hashing ``salt + key``."""
    return zlib.crc32(_utf8(salt) + b"\x00")


def key_hash(state: int, key: str) -> int:
    """A stable, well-spread 64-bit hash of ``key`` under a salt state (see ``salt_state``)."""
    return (zlib.crc32(key.encode(), state) * MIX) & MASK64


def bucket_of(h: int) -> int:
    """The rendezvous bucket (0..65535) of a key hash."""
    return h >> BUCKET_SHIFT


def rollout_bucket(h: int) -> int:
    """The basis-point bucket (0..9999) of a key hash: in the rollout iff below its size."""
    return (h * 10_000) >> 64


def _seed(salt: str, label: str) -> int:
    """A variant's 64-bit seed: BLAKE2b of (salt, variant identity), worked out once per split."""
    digest = hashlib.blake2b(_utf8(salt) + b"\x00" + _utf8(label), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _draw(seed: int, bucket: int) -> float:
    """``-ln(u)``, u uniform in (0, 1) from (variant seed, bucket): the SplitMix64 finaliser,
    a few integer operations, so filling a bucket of a 255-variant split stays cheap."""
    x = (seed + (bucket + 1) * MIX) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    x ^= x >> 31
    return -math.log((x + 0.5) / _TWO64)


def _choose(seeds: Sequence[int], weights: Sequence[int], bucket: int) -> int | None:
    best: int | None = None
    best_score = 0.0
    for i, weight in enumerate(weights):
        if weight <= 0:
            continue
        score = weight / _draw(seeds[i], bucket)
        if best is None or score > best_score:
            best, best_score = i, score
    return best


def rendezvous_choice(salt: str, bucket: int, variants: Sequence[tuple[str, int]]) -> int | None:
    """Index of the winning ``(label, weight)`` for one bucket; None if every weight is 0."""
    return _choose([_seed(salt, label) for label, _ in variants], [w for _, w in variants], bucket)


class BucketTable:
    """The winning variant of each bucket of one split, worked out when a key first lands there.

    ``cells[bucket]`` is the winner, or ``UNSET`` until :meth:`winner` works it out: a split
    reads the cell inline. Compiling a routing allocates nothing per bucket (every table starts
    on one shared read-only table); a table's own 64 KiB are allocated on its first fill.
    Concurrent fills (an explain in a worker thread) write the same value.
    """

    __slots__ = ("_seeds", "_weights", "cells")

    def __init__(self, salt: str, variants: Sequence[tuple[str, int]]) -> None:
        if len(variants) > MAX_VARIANTS:
            raise ValueError(f"at most {MAX_VARIANTS} variants")
        if not any(w > 0 for _, w in variants):
            raise ValueError("variant weights must not all be 0")
        self._seeds = tuple(_seed(salt, label) for label, _ in variants)
        self._weights = tuple(w for _, w in variants)
        self.cells: bytes | bytearray = _UNFILLED

    def winner(self, bucket: int) -> int:
        """The variant index of ``bucket`` (computed once, then a table read)."""
        cells = self.cells
        v = cells[bucket]
        if v == UNSET:
            choice = _choose(self._seeds, self._weights, bucket)
            assert choice is not None  # some weight is positive (checked above)
            if type(cells) is not bytearray:
                cells = self.cells = bytearray(_UNFILLED)
            cells[bucket] = v = choice
        return v
