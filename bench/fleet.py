"""Propagation delay in a fleet: from a routing change's commit to "serving" on every replica.

Starts ``--replicas`` real ``plugway serve`` processes on one fresh PostgreSQL database (the
local server by default), then makes ``--changes`` routing changes through replica 1. For each
change, the clock starts when the PUT answers (the revision is committed by then) and stops,
per other replica, when a watcher thread polling that replica's admin API (every ``--poll``
ms) first sees the new revision served; the poll period adds up to its length to every
figure, so the real delay is a little lower. Prints p50/p99/max, next to what designs that
poll the database would give (a poll every 1 s: Unleash's server; every 15 s: its SDKs'
default). Target (issue 9): p99 <= 100 ms. Nothing is asserted.

    .venv/bin/python bench/fleet.py [--changes 100] [--replicas 3] [--poll 5] [--url URL]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import yaml

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT

TOKEN = "bench-fleet"
GW = "/plugins/v1/gateways/doc_search"
DS = DOC_SEARCH_CONTRACT.type_id
_SERVING = re.compile(r"serving on (http://\S+)")


def _database(server_url: str) -> tuple[str, str]:
    name = f"plugway_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    parts = urlsplit(server_url)
    return name, urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--poll", type=float, default=5.0, help="watcher poll period, ms")
    parser.add_argument(
        "--url",
        default=os.environ.get("PLUGWAY_TEST_POSTGRES_URL")
        or "postgresql://root@127.0.0.1:5432/postgres",
        help="PostgreSQL server (a database is created there and dropped after)",
    )
    args = parser.parse_args()
    name, url = _database(args.url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="plugway-bench-fleet-") as tmp:
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
        with psycopg.connect(args.url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
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


if __name__ == "__main__":
    main()
