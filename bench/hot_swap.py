"""Routing hot swaps under load against a real ``plugway serve``: failed requests and p50/p99.

The script starts ``plugway serve`` on a free loopback port (``--port 0``), in a temporary data
folder, with a config file that sets ``server.admin_token``. Then ``--clients`` concurrent
clients (``httpx.AsyncClient``, one connection each, all in this process) call the doc_search
gateway route ``GET /doc-search/v1/search?q=...`` with ``X-Tenant-Id``/``X-Subject-Id`` headers
(a different subject each request, so sticky splits spread the calls over both rankers), back to
back, for ``--seconds``:

1. without swaps (the baseline);
2. with ``--swaps`` routing swaps through ``PUT /plugins/v1/gateways/doc_search/routing``, spread
   evenly over the phase (back to back when a swap falls behind schedule), alternating two valid
   routings -- a sticky split of subjects between the built-in ``tfidf_ranker`` and
   ``bm25_ranker``, and the same split behind a tenant rule -- with weights changing every swap.

Both phases run in this one event loop against the same server, after a short warm-up that is
not counted, interleaved in ``--rounds`` rounds (each round: ``seconds / rounds`` without swaps,
then as long with its share of the swaps), so drift in the machine's load hits both alike;
``--rounds 1`` runs the whole baseline first, then the whole swap phase.

It prints requests, failed requests (non-2xx or transport errors: must be 0), p50/p99 latency
per phase, the ratio p99(with)/p99(without) next to the target (swaps raise p99 by at most
1.5x, issue 7), what each swap cost, and any error lines in the server's log. The clients run
in this one process, on the same machine as the server, so the latencies include the client's
own scheduling, alike in both phases. Nothing asserts a time; the
exit code is 1 when a request failed or a swap was refused, 0 otherwise.

    .venv/bin/python bench/hot_swap.py [--seconds 20] [--swaps 200] [--clients 16] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

TOKEN = "bench-hot-swap-token"
GATEWAY = "doc_search"
SEARCH = "/doc-search/v1/search"
ROUTING = f"/plugins/v1/gateways/{GATEWAY}/routing"
QUERIES = (
    "rendezvous hashing",
    "consistent hashing",
    "circuit breaker",
    "coffee",
    "routing rules",
    "tenant",
    "plugin contract",
    "event loop",
)
TARGET_RATIO = 1.5
WARMUP_SECONDS = 2.0
REQUEST_TIMEOUT = 10.0  # a request slower than this counts as failed (a stall)
_SERVING_RE = re.compile(r"serving on (http://\S+)")


# -- the server ------------------------------------------------------------------------------


class Server:
    """One ``plugway serve`` child over ``root`` (config file, data folder, log file)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "config.yaml"
        self.log_path = root / "server.log"
        config = {"server": {"admin_token": TOKEN}, "data_dir": str(root / "data")}
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [sys.executable, "-m", "plugway", "serve", "--host", "127.0.0.1", "--port", "0"]
        cmd += ["--config", str(self.config_path)]
        with self.log_path.open("wb") as log:  # a file, never a pipe: the server cannot block
            self.proc = subprocess.Popen(
                cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"plugway serve exited with {self.proc.returncode}:\n{self.log()}"
                )
            if not self.url and (m := _SERVING_RE.search(self.log())):
                self.url = m.group(1)
            if self.url and self._healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"plugway serve was not healthy within {timeout} s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def rss_kib(self) -> int | None:
        if self.proc is None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text(encoding="ascii")
        except OSError:
            return None
        m = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(m.group(1)) if m else None

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="plugway-hot-swap-") as tmp:
        srv = Server(Path(tmp))
        try:
            srv.start()
            yield srv
        finally:
            code = srv.stop()
            print(f"\nserver stopped (SIGTERM), exit code {code}")
            log = srv.log().splitlines()
            for what, pattern in (("error", r"ERROR|CRITICAL|Traceback"), ("warning", r"WARNING")):
                lines = [ln for ln in log if re.search(pattern, ln)]
                print(f"{what} lines in the server log: {len(lines)}")
                for ln in lines[:8]:
                    print(f"  {ln[:300]}")


# -- the load ---------------------------------------------------------------------------------


@dataclass
class Request:
    at: float  # seconds since the run started (after the warm-up)
    latency: float  # seconds
    what: str  # the request
    outcome: str  # the failure, or "" when it succeeded


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, every request (ok or not)
    failures: list[Request] = field(default_factory=list)
    slowest: list[Request] = field(default_factory=list)  # the SLOWEST_KEPT slowest
    revisions_seen: set[int] = field(default_factory=set)
    fallbacks: int = 0
    elapsed: float = 0.0
    sent: dict[int, int] = field(default_factory=dict)  # requests sent, by client

    def quantile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    def keep_if_slow(self, req: Request) -> None:
        if len(self.slowest) < SLOWEST_KEPT or req.latency > self.slowest[-1].latency:
            self.slowest.append(req)
            self.slowest.sort(key=lambda r: -r.latency)
            del self.slowest[SLOWEST_KEPT:]


@dataclass
class Swaps:
    revisions: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end), run clock
    refused: list[str] = field(default_factory=list)
    attempted: int = 0  # PUTs that got an answer or an error
    pending: int = 0  # swaps not done when the hard time cap stopped the phase


SLOWEST_KEPT = 5


async def client_loop(
    http: httpx.AsyncClient, index: int, stop: asyncio.Event, t0: float, phase: Phase
) -> None:
    n = phase.sent.get(index, 0)  # new subjects in every round
    try:
        while not stop.is_set():
            q = QUERIES[(index + n) % len(QUERIES)]
            headers = {"X-Tenant-Id": f"tenant-{index % 4}", "X-Subject-Id": f"user-{index}-{n}"}
            n += 1
            what = f"GET {SEARCH}?q={q}&limit=3 {headers}"
            at = time.monotonic() - t0
            start = time.perf_counter()
            outcome = ""
            try:
                r = await http.get(SEARCH, params={"q": q, "limit": 3}, headers=headers)
            except httpx.HTTPError as exc:
                outcome = repr(exc)
            else:
                if not 200 <= r.status_code < 300:
                    outcome = f"{r.status_code} {r.text[:300]}"
                else:
                    body = r.json()
                    phase.revisions_seen.add(int(body["revision"]))
                    phase.fallbacks += bool(body.get("fallback"))
            req = Request(at, time.perf_counter() - start, what, outcome)
            phase.latencies.append(req.latency)
            phase.keep_if_slow(req)
            if outcome:
                phase.failures.append(req)
    finally:
        phase.sent[index] = n


def routing_doc(i: int, tfidf: str, bm25: str) -> dict[str, Any]:
    """Swap ``i``: weights change every swap; even swaps a bare split, odd ones behind a rule."""
    w = 10 + (i * 7) % 81  # 10..90
    split = {
        "key": "subject_id",
        "variants": [{"plugin": tfidf, "weight": w}, {"plugin": bm25, "weight": 100 - w}],
    }
    rules: list[dict[str, Any]] = [{"name": f"ab-{i % 2}", "split": split}]
    if i % 2:
        rules.insert(
            0, {"name": "pinned", "match": {"tenant": ["tenant-0"]}, "target": {"plugin": bm25}}
        )
    return {"rules": rules}


async def swapper(
    http: httpx.AsyncClient,
    first: int,
    n: int,
    spread: float,
    t0: float,
    rankers: tuple[str, str],
    out: Swaps,
) -> None:
    """Swaps ``first .. first+n-1``, spread evenly over ``spread`` seconds (back to back when
    one falls behind schedule)."""
    tfidf, bm25 = rankers
    start = time.monotonic()
    interval = spread / max(n, 1)
    for k in range(n):
        i = first + k
        delay = start + k * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        doc = routing_doc(i, tfidf, bm25)
        began = time.monotonic() - t0
        t = time.perf_counter()
        try:
            r = await http.put(ROUTING, params={"comment": f"bench swap {i}"}, json=doc)
        except httpx.HTTPError as exc:
            out.attempted += 1
            out.refused.append(f"swap {i}: PUT {ROUTING} -> {exc!r}")
            continue
        out.attempted += 1
        out.latencies.append(time.perf_counter() - t)
        out.spans.append((began, time.monotonic() - t0))
        if r.status_code != 200:
            out.refused.append(f"swap {i}: PUT {ROUTING} {doc} -> {r.status_code} {r.text[:300]}")
            continue
        out.revisions.append(int(r.json()["revision"]))


async def run_phase(
    clients: list[httpx.AsyncClient],
    phase: Phase,
    seconds: float,
    t0: float,
    swap: tuple[httpx.AsyncClient, int, int, tuple[str, str], Swaps] | None = None,
) -> None:
    """The clients back to back for ``seconds`` into ``phase``. With ``swap`` (admin client,
    first index, count, rankers, out): the swaps are spread over 90 % of ``seconds``; the phase
    lasts until they are all done, at most 3 x ``seconds`` (the rest then count as pending)."""
    stop = asyncio.Event()
    began = time.monotonic()
    loops = asyncio.gather(*(client_loop(c, i, stop, t0, phase) for i, c in enumerate(clients)))
    try:
        if swap is None:
            await asyncio.sleep(seconds)
        else:
            admin, first, n, rankers, out = swap
            before = out.attempted
            task = asyncio.ensure_future(swapper(admin, first, n, seconds * 0.9, t0, rankers, out))
            await asyncio.wait([task], timeout=3 * seconds)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                out.pending += n - (out.attempted - before)  # what the cap cut off
            rest = began + seconds - time.monotonic()
            if rest > 0:
                await asyncio.sleep(rest)
    finally:
        stop.set()
        await loops
    phase.elapsed += time.monotonic() - began


def ranker_ids(url: str) -> tuple[str, str]:
    r = httpx.get(f"{url}/plugins/v1/gateways/{GATEWAY}", timeout=10.0)
    r.raise_for_status()
    ids = [p["id"] for p in r.json()["plugins"]]
    tfidf = next(i for i in ids if i.endswith("tfidf_ranker.plugin.v1"))
    bm25 = next(i for i in ids if i.endswith("bm25_ranker.plugin.v1"))
    return tfidf, bm25


def ms(s: float) -> str:
    return f"{s * 1e3:8.2f}"


def overlapping_swap(req: Request, swaps: Swaps) -> str:
    end = req.at + req.latency
    for i, (a, b) in enumerate(swaps.spans):
        if a < end and b > req.at:
            return f"overlaps swap PUT #{i} ({a:.2f}..{b:.2f} s)"
    return "no swap in flight"


def report(base: Phase, load: Phase, swaps: Swaps, wanted: int) -> bool:
    print(
        f"\n{'':22} {'requests':>9} {'failed':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'revisions seen':>15}"
    )
    for p in (base, load):
        print(
            f"{p.name:22} {len(p.latencies):9d} {len(p.failures):7d} "
            f"{len(p.latencies) / p.elapsed:7.0f} {ms(p.quantile(0.5))} {ms(p.quantile(0.99))} "
            f"{ms(max(p.latencies, default=float('nan')))} {len(p.revisions_seen):15d}"
        )
    ratio = load.quantile(0.99) / base.quantile(0.99)
    p50_ratio = load.quantile(0.5) / base.quantile(0.5)
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(
        f"\np99 with swaps / p99 without: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict}); "
        f"p50 ratio {p50_ratio:.2f}x; throughput ratio "
        f"{(len(load.latencies) / load.elapsed) / (len(base.latencies) / base.elapsed):.2f}x"
    )
    revs = swaps.revisions
    increasing = all(a < b for a, b in itertools.pairwise(revs))
    print(
        f"swaps acknowledged: {len(revs)} of {wanted} (revisions "
        f"{revs[0] if revs else '-'}..{revs[-1] if revs else '-'}, "
        f"{'strictly increasing' if increasing else 'NOT increasing'}); refused: "
        f"{len(swaps.refused)}; cut off by the time cap: {swaps.pending}"
    )
    if swaps.latencies:
        lat = sorted(swaps.latencies)
        print(
            f"PUT routing latency under load: p50 {statistics.median(lat) * 1e3:.1f} ms, "
            f"p99 {lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3:.1f} ms, "
            f"max {lat[-1] * 1e3:.1f} ms"
        )
    print(f"answers served by a fallback: without swaps {base.fallbacks}, with {load.fallbacks}")
    for p in (base, load):
        print(f"slowest requests, {p.name}:")
        for r in p.slowest:
            print(
                f"  {r.latency * 1e3:7.1f} ms at t={r.at:.2f} s ({overlapping_swap(r, swaps)}): "
                f"{r.what}{' -> ' + r.outcome if r.outcome else ''}"
            )
    for p in (base, load):
        for f in p.failures[:10]:
            print(f"FAILED ({p.name}, t={f.at:.2f} s): {f.what} -> {f.outcome}")
    for s in swaps.refused[:10]:
        print(f"SWAP REFUSED: {s}")
    return (
        not base.failures
        and not load.failures
        and not swaps.refused
        and not swaps.pending
        and increasing
    )


async def bench(
    url: str, rankers: tuple[str, str], clients: int, seconds: float, swaps: int, rounds: int
) -> tuple[Phase, Phase, Swaps]:
    """A warm-up, then ``rounds`` x (without swaps, with swaps), each ``seconds / rounds`` long:
    interleaved, so drift in the machine's load hits both phases alike. The clients and their
    connections are made once, before the warm-up, and serve every phase."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with contextlib.AsyncExitStack() as stack:
        http = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT)
            )
            for _ in range(clients)
        ]
        admin = await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, headers=auth, timeout=30.0)
        )
        await run_phase(http, Phase("warm-up"), WARMUP_SECONDS, time.monotonic())
        base, load, done = Phase("without swaps"), Phase(f"with {swaps} swaps"), Swaps()
        t0 = time.monotonic()
        first = 0
        for r in range(rounds):
            n = swaps // rounds + (r < swaps % rounds)
            await run_phase(http, base, seconds / rounds, t0)
            await run_phase(http, load, seconds / rounds, t0, (admin, first, n, rankers, done))
            first += n
    return base, load, done


def main(clients: int, seconds: float, swaps: int, rounds: int) -> int:
    with running_server() as srv:
        print(f"plugway serve at {srv.url} (pid {srv.proc.pid if srv.proc else '-'})")
        print(
            f"{clients} clients, one connection each, GET {SEARCH} back to back; a "
            f"{WARMUP_SECONDS:.0f} s warm-up, then {rounds} round(s) of {seconds / rounds:.1f} s "
            f"without swaps and {seconds / rounds:.1f} s with swaps ({seconds:.0f} s per phase)"
        )
        rankers = ranker_ids(srv.url)
        rss0 = srv.rss_kib()
        base, load, done = asyncio.run(bench(srv.url, rankers, clients, seconds, swaps, rounds))
        rss1 = srv.rss_kib()
        ok = report(base, load, done, swaps)
        if rss0 and rss1:
            print(
                f"server RSS: {rss0 / 1024:.0f} MiB after start, {rss1 / 1024:.0f} MiB at the end"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--swaps", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved rounds (1: all without, then all with)"
    )
    args = parser.parse_args()
    sys.exit(main(args.clients, args.seconds, args.swaps, max(1, args.rounds)))
