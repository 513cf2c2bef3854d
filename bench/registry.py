"""Types Registry benchmark: bulk registration into SQLite and indexed pattern queries.

Prints each figure next to a baseline measured in the same run:
- registration: bulk ``register_many`` (one transaction per call) vs one call per entity
  (one fsynced transaction each), plus raw ``executemany`` of the same rows (the storage floor);
- pattern query matching 10 entities, p50 over many random groups, at 1,000 / 10,000 / 100,000
  entities: the registry's indexed query vs a full scan (load every row, filter with
  ``GtsPattern.matches``) and vs a single range on ``GtsPattern.prefix`` (what the index would
  give without splitting at segments that omit the minor version).

Run: ``.venv/bin/python bench/registry.py`` (about a minute on two cores).
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugway.gts import GtsPattern
from plugway.registry import EntityQuery, ScanQuery, TypesRegistry, open_backend
from plugway.registry._backend import prefix_upper_bound

BASE = "gts.x.bench.load.item.v1~"
DRAFT7 = "http://json-schema.org/draft-07/schema#"
SIZES = (1_000, 10_000, 100_000)
GROUP = 11  # one derived type + 10 instances: a group pattern matches exactly 10 entities


def group_type(g: int) -> str:
    return f"{BASE}g{g:05d}.bench.items.item.v1~"


def dataset(n: int) -> list[dict[str, Any]]:
    """``n`` entities: the base type, then groups of a derived type and its 10 instances."""
    docs: list[dict[str, Any]] = [
        {"$id": f"gts://{BASE}", "$schema": DRAFT7, "type": "object", "properties": {}}
    ]
    g = 0
    while len(docs) < n:
        t = group_type(g)
        docs.append(
            {
                "$id": f"gts://{t}",
                "$schema": DRAFT7,
                "type": "object",
                "allOf": [{"$ref": f"gts://{BASE}"}, {"properties": {"n": {"type": "integer"}}}],
            }
        )
        for j in range(GROUP - 1):
            docs.append({"id": f"{t}g{g:05d}.bench.items.i{j}.v1", "n": j, "name": f"item {j}"})
        g += 1
    return docs[:n]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def p50(fn: Callable[[int], object], pool: list[int], reps: int, seed: int = 1) -> float:
    """Median time of ``fn(group)`` over ``reps`` calls on groups drawn from ``pool``."""
    rng = random.Random(seed)
    samples = []
    for _ in range(reps):
        g = rng.choice(pool)
        t0 = time.perf_counter()
        fn(g)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def bench_registration(tmp: Path) -> None:
    n = 50_000
    docs = dataset(n)
    batch = 5_000
    runs = []
    for r in range(3):  # median of three fresh databases: the machine is shared
        reg = TypesRegistry(open_backend("sqlite", tmp / f"bulk{r}.db"))
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            reg.register_many(docs[k : k + batch])
        runs.append(time.perf_counter() - t0)
        assert reg.count() == n + 1  # + the built-in plugin base type
        reg.close()
    bulk = n / statistics.median(runs)

    single_n = 300
    reg = TypesRegistry(open_backend("sqlite", tmp / "single.db"))
    dt_single = timed(lambda: [reg.register(d) for d in docs[:single_n]])
    reg.close()
    single = single_n / dt_single

    con = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE e (gts_id TEXT PRIMARY KEY, content TEXT NOT NULL, rev INTEGER) WITHOUT ROWID"
    )
    rows = [
        (d.get("id") or d["$id"][6:], json.dumps(d, sort_keys=True), i) for i, d in enumerate(docs)
    ]

    def raw() -> None:
        for k in range(0, n, batch):
            con.execute("BEGIN")
            con.executemany("INSERT INTO e VALUES (?,?,?)", rows[k : k + batch])
            con.execute("COMMIT")

    raw_rate = n / timed(raw)
    con.close()
    print("registration into SQLite (WAL, synchronous=FULL), 50,000 entities")
    print(
        f"  register_many, batches of {batch:,}   {bulk:>10,.0f} entities/s   (target >= 20,000; "
        f"median of 3, best {n / min(runs):,.0f})"
    )
    print(
        f"  baseline register() one by one   {single:>10,.0f} entities/s   "
        f"bulk is x{bulk / single:,.1f}"
    )
    print(
        f"  floor: raw executemany, no checks {raw_rate:>9,.0f} rows/s       "
        f"registry reaches {bulk / raw_rate:.0%} of it"
    )


def bench_validation(tmp: Path) -> None:
    """The cost of validation: switch_to_ready over everything, then validated registration."""
    n = 10_000
    docs = dataset(n)
    reg = TypesRegistry(open_backend("sqlite", tmp / "ready.db"))
    t_plain = timed(lambda: reg.register_many(docs))
    t_switch = timed(reg.switch_to_ready)
    more = dataset(n + 5_500)[n:]
    t_ready = timed(lambda: reg.register_many(more))
    assert reg.count() == len(docs) + len(more) + 1
    reg.close()
    print()
    print("validation (GtsStore checks: schema rules, derivation, instance JSON Schema)")
    print(f"  register_many before ready (no checks) {n / t_plain:>9,.0f} entities/s  (baseline)")
    print(
        f"  switch_to_ready over {n:,} entities   {n / t_switch:>9,.0f} entities/s  "
        f"({t_switch:.2f} s)"
    )
    print(
        f"  register_many after ready (validated) {len(more) / t_ready:>9,.0f} entities/s  "
        f"x{(len(more) / t_ready) / (n / t_plain):.2f} of the baseline"
    )


def bench_queries(tmp: Path) -> None:
    print()
    print("pattern query matching 10 entities (p50), indexed vs baselines on the same data")
    header = (
        f"  {'entities':>8}  {'sqlite':>9}  {'memory':>9}  {'full scan':>10}  "
        f"{'x':>6}  {'1-range':>9}  {'x':>6}"
    )
    print(header)
    for size in SIZES:
        bench_size(tmp, size)
    print("  (x = baseline time / sqlite indexed time; target: indexed <= 1 ms, flat across sizes)")


def bench_size(tmp: Path, size: int) -> None:
    docs = dataset(size)
    groups = (size - 1) // GROUP
    # the same 64 query patterns at every size (a server sees repeated queries): the pattern is
    # parsed and compiled once, so the figures compare storage, not pattern compilation
    pool = random.Random(size).sample(range(groups), min(64, groups))
    sqlite_reg = TypesRegistry(open_backend("sqlite", tmp / f"q{size}.db"))
    mem_reg = TypesRegistry(open_backend("memory"))
    for reg in (sqlite_reg, mem_reg):
        for k in range(0, len(docs), 5_000):
            reg.register_many(docs[k : k + 5_000])

    def query(reg: TypesRegistry, g: int) -> None:
        page = reg.list(EntityQuery(pattern=group_type(g) + "*", limit=100))
        assert len(page.items) == 10, len(page.items)

    backend = sqlite_reg.backend

    def full_scan(g: int) -> None:
        pat = GtsPattern.parse(group_type(g) + "*")
        hits = [
            s.row.to_entity(s.revision) for s in backend.iter_all() if pat.matches(s.row.gts_id)
        ]
        assert len(hits) == 10

    def one_range(g: int) -> None:
        pat = GtsPattern.parse(group_type(g) + "*")
        rows = backend.scan(
            ScanQuery(
                lo=pat.prefix,
                hi=prefix_upper_bound(pat.prefix),
                pattern_text=pat.text,
                matches=pat.matches,
                limit=101,
            )
        )
        assert len(rows) == 10

    reps = 400
    sq = p50(lambda g: query(sqlite_reg, g), pool, reps)
    mq = p50(lambda g: query(mem_reg, g), pool, reps)
    scan_reps = max(5, min(60, 200_000 // size))
    fs = p50(full_scan, pool, scan_reps)
    orng = p50(one_range, pool, scan_reps)
    print(
        f"  {size:>8,}  {sq * 1e3:>7.3f}ms  {mq * 1e3:>7.3f}ms  {fs * 1e3:>8.2f}ms  "
        f"x{fs / sq:>5,.0f}  {orng * 1e3:>7.2f}ms  x{orng / sq:>5,.0f}"
    )
    sqlite_reg.close()
    mem_reg.close()


def bench_pattern_compile() -> None:
    """What a never-seen pattern adds to its first query (plugway.gts; size-independent)."""
    n = 2_000
    t_lenient = timed(
        lambda: [GtsPattern.parse(f"{BASE}c{i:05d}.bench.items.item.v1~*") for i in range(n)]
    )
    print(
        f"  a never-seen pattern adds its compilation once: {t_lenient / n * 1e6:.0f} us "
        "(GtsPattern.parse, independent of registry size)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="plugway-bench-") as d:
        tmp = Path(d)
        bench_registration(tmp)
        bench_validation(tmp)
        bench_queries(tmp)
        bench_pattern_compile()


if __name__ == "__main__":
    main()
