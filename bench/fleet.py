"""Propagation delay in a fleet: from a routing change's commit to "serving" on every replica.

Starts ``--replicas`` real ``plugway serve`` processes on one fresh PostgreSQL database (the
local server by default), then makes ``--changes`` routing changes through replica 1. For each
change, the clock starts when the PUT answers (the revision is committed by then) and stops,
per other replica, when a watcher thread polling that replica's admin API (every ``--poll``
ms) first sees the new revision served; the poll period adds up to its length to every
figure, so the real delay is a little lower. Prints p50/p99/max, next to what designs that
poll the database would give (a poll every 1 s: Unleash's server; every 15 s: its SDKs'
default). Target (issue 9): p99 <= 100 ms.

The same run then measures the PostgreSQL registry backend next to SQLite, each in its own
throwaway store (PostgreSQL: a new database on the server, one fresh schema per store, dropped
at the end; SQLite: files in a temporary folder), on the data of ``bench/registry.py``:

- bulk registration: ``TypesRegistry.register_many`` in batches of 5,000 into a fresh store,
  ``--register`` entities, median of ``--runs`` stores; PostgreSQL's rate as a share of SQLite's
  (target >= 50 %);
- pattern query matching 10 entities, p50 over ``--reps`` queries, at each of ``--sizes``
  (default 1,000 / 10,000 / 100,000 entities: flat means the 100,000 figure is about the
  1,000 one); target on PostgreSQL: <= 2 ms at 100,000.

Nothing is asserted: figures are printed with their ratios. The server is ``--url``, else
``$PLUGWAY_BENCH_POSTGRES_URL``, else ``$PLUGWAY_TEST_POSTGRES_URL``, else the local server.
About two minutes with the defaults.

    .venv/bin/python bench/fleet.py [--changes 100] [--replicas 3] [--poll 5] [--url URL]
        [--register 50000] [--runs 5] [--sizes 1000,10000,100000] [--reps 400]
        [--skip-propagation] [--skip-registry]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import yaml
from psycopg import sql

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT
from plugway.registry import EntityQuery, TypesRegistry, open_backend
from registry import GROUP, dataset, group_type, p50  # bench/registry.py: the same data

TOKEN = "bench-fleet"
GW = "/plugins/v1/gateways/doc_search"
DS = DOC_SEARCH_CONTRACT.type_id
_SERVING = re.compile(r"serving on (http://\S+)")


@contextlib.contextmanager
def _database(server_url: str) -> Iterator[str]:
    """A new database on the server of ``server_url`` (its URL), dropped on exit."""
    name = f"plugway_bench_{secrets.token_hex(4)}"
    ident = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(ident))
    parts = urlsplit(server_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(server_url, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _schema(database_url: str) -> str:
    """A new empty schema in ``database_url``'s database: a URL whose search_path is it (the
    database is dropped at the end, its schemas with it)."""
    name = f"s_{secrets.token_hex(4)}"
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={name}"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _start(root: Path, index: int, config: Path) -> tuple[subprocess.Popen[bytes], str]:
    data = root / f"replica{index}"
    data.mkdir()
    log = data / "log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
    env["PLUGWAY_DATA_DIR"] = str(data)
    cmd = [sys.executable, "-m", "plugway", "serve", "--config", str(config), "--port", "0"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _SERVING.search(log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"replica {index} did not start:\n{log.read_text(errors='replace')}")


class Watcher(threading.Thread):
    """Polls one replica and records when each revision is first seen served."""

    def __init__(self, url: str, poll: float) -> None:
        super().__init__(daemon=True)
        self.url, self.poll = url, poll
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        last = 0
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.stop.is_set():
                n = int(http.get(GW).json()["revision"])
                now = time.perf_counter()
                for k in range(last + 1, n + 1):
                    self.seen.setdefault(k, now)
                last = max(last, n)
                time.sleep(self.poll)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_propagation(args: argparse.Namespace, server_url: str) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    with (
        _database(server_url) as url,
        tempfile.TemporaryDirectory(prefix="plugway-bench-fleet-") as tmp,
    ):
        try:
            root = Path(tmp)
            config = root / "config.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "server": {"admin_token": TOKEN},
                        "registry": {"backend": "postgresql", "url": url},
                    }
                )
            )
            urls = []
            for i in range(args.replicas):
                proc, served_at = _start(root, i + 1, config)
                procs.append(proc)
                urls.append(served_at)
            watchers = [Watcher(u, args.poll / 1000) for u in urls[1:]]
            for w in watchers:
                w.start()
            committed: dict[int, float] = {}
            auth = {"Authorization": f"Bearer {TOKEN}"}
            plugins = [DS + "plugway.builtin.bm25_ranker.plugin.v1"]
            plugins.append(DS + "plugway.builtin.tfidf_ranker.plugin.v1")
            with httpx.Client(base_url=urls[0], headers=auth, timeout=10) as http:
                for i in range(args.changes):
                    doc = {"default": {"plugin": plugins[i % 2]}, "timeout": 1.0 + i}
                    r = http.put(f"{GW}/routing", json=doc)
                    r.raise_for_status()
                    committed[int(r.json()["revision"])] = time.perf_counter()
                    time.sleep(0.02)  # changes 20 ms apart: each one measured on its own
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(
                all(n in w.seen for n in committed) for w in watchers
            ):
                time.sleep(0.05)
            for w in watchers:
                w.stop.set()
            delays = [
                max(0.0, w.seen[n] - t) * 1000
                for w in watchers
                for n, t in committed.items()
                if n in w.seen
            ]
            missing = len(committed) * len(watchers) - len(delays)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
    print(
        f"fleet propagation: {args.changes} changes through replica 1, "
        f"seen on {len(watchers)} other replicas (poll {args.poll:g} ms)"
    )
    print(
        f"  LISTEN/NOTIFY  p50 {statistics.median(delays):7.1f} ms   "
        f"p99 {_pct(delays, 99):7.1f} ms   max {max(delays):7.1f} ms   "
        f"(n={len(delays)}, never seen: {missing}; target p99 <= 100 ms)"
    )
    for period, who in ((1.0, "poll every 1 s (Unleash server)"), (15.0, "poll every 15 s (SDK)")):
        print(f"  {who:<32} expected p50 {period * 500:7.0f} ms   p99 {period * 990:7.0f} ms")


# --------------------------------------------------------------------------- registry backends

BATCH = 5_000  # entities per register_many call, as in bench/registry.py


class Stores:
    """Fresh registries of both backends: SQLite files in ``tmp``, PostgreSQL schemas in one
    throwaway database."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp, self.database_url = tmp, database_url
        self.made = 0

    def open(self, kind: str) -> TypesRegistry:
        self.made += 1
        if kind == "sqlite":
            return TypesRegistry(open_backend("sqlite", self.tmp / f"r{self.made}.db"))
        return TypesRegistry(open_backend("postgresql", url=_schema(self.database_url)))


def _load(reg: TypesRegistry, docs: list[dict[str, object]]) -> float:
    """Seconds to register ``docs`` in batches of :data:`BATCH`."""
    t0 = time.perf_counter()
    for k in range(0, len(docs), BATCH):
        reg.register_many(docs[k : k + BATCH])
    return time.perf_counter() - t0


def bench_registration(stores: Stores, n: int, runs: int) -> None:
    docs = dataset(n)
    times: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    for _ in range(runs):  # the backends alternate, the median counts: the machine is shared
        for kind, kept in times.items():
            reg = stores.open(kind)
            kept.append(_load(reg, docs))
            count = reg.count()
            reg.close()
            if count != n + 1:  # + the built-in plugin base type
                raise SystemExit(f"{kind}: {count} entities stored, expected {n + 1}")
    rates = {kind: n / statistics.median(kept) for kind, kept in times.items()}
    best = {kind: n / min(kept) for kind, kept in times.items()}
    print()
    print(
        f"registry bulk registration, {n:,} entities, register_many in batches of {BATCH:,} "
        f"(median of {runs} fresh stores)"
    )
    print(
        f"  sqlite      {rates['sqlite']:>9,.0f} entities/s   best {best['sqlite']:>9,.0f}   "
        "baseline (WAL, synchronous=FULL)"
    )
    print(
        f"  postgresql  {rates['postgresql']:>9,.0f} entities/s   "
        f"best {best['postgresql']:>9,.0f}   "
        f"{rates['postgresql'] / rates['sqlite']:.0%} of sqlite, target >= 50 % "
        f"({_durability(stores.database_url)})"
    )


def _durability(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as c:
        got = c.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
        ).fetchone()
    assert got is not None
    return f"fsync={got[0]}, synchronous_commit={got[1]}"


def bench_queries(stores: Stores, sizes: list[int], reps: int) -> None:
    print()
    print(f"pattern query matching {GROUP - 1} entities, p50 of {reps} (the same data per size)")
    head = f"  {'entities':>8}  {'sqlite':>9}  {'postgresql':>10}  {'pg/sqlite':>9}"
    print(f"{head}  {'pg vs first':>11}")
    first: float | None = None
    pg_last = 0.0
    for size in sizes:
        docs = dataset(size)
        groups = (size - 1) // GROUP
        # the same 64 patterns at every size: the figures compare storage, not compilation
        pool = random.Random(size).sample(range(groups), min(64, groups))
        figures: dict[str, float] = {}
        for kind in ("sqlite", "postgresql"):
            reg = stores.open(kind)
            _load(reg, docs)

            def query(g: int, reg: TypesRegistry = reg) -> None:
                page = reg.list(EntityQuery(pattern=group_type(g) + "*", limit=100))
                if len(page.items) != GROUP - 1:
                    raise SystemExit(f"{len(page.items)} entities matched, expected {GROUP - 1}")

            for g in pool[:16]:  # warm: connections, caches, compiled patterns
                query(g)
            figures[kind] = p50(query, pool, reps)
            reg.close()
        pg_last = figures["postgresql"]
        first = pg_last if first is None else first
        print(
            f"  {size:>8,}  {figures['sqlite'] * 1e3:>7.3f}ms  {pg_last * 1e3:>8.3f}ms  "
            f"x{pg_last / figures['sqlite']:>8.2f}  x{pg_last / first:>10.2f}"
        )
    print(
        f"  (target on postgresql: <= 2 ms at {sizes[-1]:,} and flat across sizes; "
        "pg vs first = p50 / p50 at the first size)"
    )


def bench_registry(args: argparse.Namespace, server_url: str) -> None:
    with (
        _database(server_url) as database_url,
        tempfile.TemporaryDirectory(prefix="plugway-bench-registry-") as tmp,
    ):
        stores = Stores(Path(tmp), database_url)
        bench_registration(stores, args.register, args.runs)
        bench_queries(stores, args.sizes, args.reps)


def _sizes(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--poll", type=float, default=5.0, help="watcher poll period, ms")
    parser.add_argument(
        "--url",
        default=os.environ.get("PLUGWAY_BENCH_POSTGRES_URL")
        or os.environ.get("PLUGWAY_TEST_POSTGRES_URL")
        or "postgresql://root@127.0.0.1:5432/postgres",
        help="PostgreSQL server (databases are created there and dropped after)",
    )
    parser.add_argument("--register", type=int, default=50_000, help="entities registered")
    parser.add_argument("--runs", type=int, default=5, help="fresh stores per backend")
    parser.add_argument(
        "--sizes", type=_sizes, default=[1_000, 10_000, 100_000], help="query sizes, a,b,c"
    )
    parser.add_argument("--reps", type=int, default=400, help="queries per size and backend")
    parser.add_argument("--skip-propagation", action="store_true")
    parser.add_argument("--skip-registry", action="store_true")
    args = parser.parse_args()
    if not args.skip_propagation:
        bench_propagation(args, args.url)
    if not args.skip_registry:
        bench_registry(args, args.url)


if __name__ == "__main__":
    main()
