"""Load isolation of out-of-process plugins, end to end: a real ``plugway serve`` supervising
three misbehaving plugin hosts, and an A/B split between an in-process and a hosted plugin.

* ``slow``: blocks its host's event loop for 2 s per call; ``abort``: ``os.abort()`` on every
  search it gets here; ``hog``: keeps 32 MiB more per call (its host caps its address space).
  While they misbehave, every call routed to them is answered by its fallback (no request with
  a fallback fails), the routing ``timeout`` cuts the slow one, its breaker opens, and the
  supervisor restarts the aborted host. The server's own requests keep their latency: the p99
  of ``/healthz`` and of a search served in process is measured under load (a fixed rate from
  a lean client) IN THIS RUN with the same calls sent first to the good plugin, then to the bad
  ones (the bad plugins are called on one fixed schedule in both runs), and the ratio is
  printed (the target is 1.5x) with the CPU time of the server and of the other processes in
  each run, not asserted: on a 2-core machine the relaunched
  hosts' Python start-ups and the hog's page faults run on the second core, and the server's
  same work then takes more CPU time whatever the hosts' priority; tests assert no timing.
  What is asserted is functional: every call answered, by its fallback when its plugin
  misbehaved, the timeout, the breaker and the restart.
* A/B: 50/50 on ``tenant_id`` between BM25 in process and BM25 in a supervised host, over
  100,000 keys by ``explain-bulk``: within +-1 %, and the same assignment of every key after
  the host is SIGKILLed and relaunched on another port by the supervisor.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import h11
import httpx
import pytest
from _server_process import ServerFactory, ServerProcess
from remote_e2e_support import hosted_bm25
from remote_isolation_support import aborting_bm25, hog_bm25, slow_bm25
from remote_routing_support import (
    BM25,
    GATEWAY,
    PYTHONPATH,
    assign,
    plugin_ids,
    put_routing,
    search,
    server_config,
    wait_for,
)

SLOW, ABORTING, HOG, HOSTED = (
    slow_bm25.plugin_id,
    aborting_bm25.plugin_id,
    hog_bm25.plugin_id,
    hosted_bm25.plugin_id,
)
CONCURRENCY = 8
RATE = 200.0  # requests per second, both kinds together: about half of one core of the server
# here, so the p99 measures the server's answers, not a queue in front of a saturated machine
CONNECTIONS = 16
REQUESTS = 1000  # per phase and per kind (/healthz, local search)
PACE = 0.1  # seconds between two rounds of calls to the misbehaving plugins
_LISTENING = re.compile(r"plugin host (\S+) \(pid (\d+)\) listening on (\S+)")


def _host(name: str, ref: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "entry_point": ref,
        "heartbeat": 0.5,
        "restart": {"backoff_initial": 0.2, "backoff_max": 1.0},
        **more,
    }


@pytest.fixture
def bad_hosts(server_factory: ServerFactory) -> ServerProcess:
    hosts = [
        # a TTL longer than a few blocked calls: the breaker, not liveness, takes it out
        _host("slow", "remote_isolation_support:slow_bm25", heartbeat=5.0),
        _host("abort", "remote_isolation_support:aborting_bm25"),
        # the supervisor caps the hog's address space: the plugin itself sets no limit
        _host("hog", "remote_isolation_support:hog_bm25", memory_limit_mb=384),
    ]
    config = server_config({"hosts": hosts, "breaker": {"failure_threshold": 3, "cooldown": 600}})
    return server_factory(config=config, env={"PYTHONPATH": PYTHONPATH}).start()


def _rule(mode: str, plugin: str) -> dict[str, Any]:
    return {
        "name": mode,
        "match": {"attributes": {"mode": [mode]}},
        "target": {"plugin": plugin},
        "fallback": [{"plugin": BM25}],
    }


async def _load(url: str) -> dict[str, list[float]]:
    """REQUESTS calls of /healthz and of a search served in process, alternately, sent at RATE
    per second over CONNECTIONS kept-alive connections (an open loop: a slow answer does not
    slow the sending down). A lean client (h11 over asyncio streams), so that the load
    generator leaves the server most of the machine."""
    latencies: dict[str, list[float]] = {"healthz": [], "local": []}
    targets = {"healthz": "/healthz", "local": "/doc-search/v1/search?q=circuit+breaker&limit=3"}
    address = httpx.URL(url)
    start = time.perf_counter() + 0.1

    async def connection(first: int) -> None:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        conn = h11.Connection(h11.CLIENT)
        try:
            for i in range(first, 2 * REQUESTS, CONNECTIONS):
                kind = ("healthz", "local")[i % 2]
                await asyncio.sleep(max(0.0, start + i / RATE - time.perf_counter()))
                t0 = time.perf_counter()
                status = await _get(reader, writer, conn, address.netloc.decode(), targets[kind])
                latencies[kind].append(time.perf_counter() - t0)
                assert status == 200, (kind, status)
        finally:
            writer.close()

    await asyncio.gather(*(connection(c) for c in range(CONNECTIONS)))
    return latencies


async def _get(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    conn: h11.Connection,
    host: str,
    target: str,
) -> int:
    """One GET on a kept-alive connection; its status code (the body is read and dropped)."""
    request = h11.Request(method="GET", target=target, headers=[("Host", host)])
    writer.write(conn.send(request) + conn.send(h11.EndOfMessage()))
    status = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            conn.start_next_cycle()
            return status
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError(f"the server closed the connection during GET {target}")


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


class _Misbehaviour(threading.Thread):
    """Calls each bad plugin every ``PACE`` seconds (each call has a fallback) and records every
    answer. A fixed schedule, so the run with the good plugin and the run with the bad ones get
    the same traffic: calls the bad plugins hold up are made up for afterwards."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.answers: list[tuple[str, int, dict[str, Any]]] = []

    def run(self) -> None:
        due = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.wait(max(0.0, due - time.monotonic())):
                due += PACE
                for mode in ("slow", "abort", "hog"):
                    r = http.post(
                        f"{GATEWAY}/call/search",
                        json={"query": "abort circuit breaker", "limit": 3},
                        headers={"X-Attr-Mode": mode},
                    )
                    self.answers.append((mode, r.status_code, r.json()))


def _measured(srv: ServerProcess) -> tuple[dict[str, list[float]], float, float]:
    """One measured run of ``_load``; the CPU seconds the server spent meanwhile, and those of
    every other process but this one (the plugin hosts, mostly)."""
    assert srv.proc is not None and srv.url is not None
    server, machine, mine = _cpu_seconds(srv.proc.pid), _machine_busy_seconds(), _own_seconds()
    latencies = asyncio.run(_load(srv.url))
    server = _cpu_seconds(srv.proc.pid) - server
    others = _machine_busy_seconds() - machine - server - (_own_seconds() - mine)
    return latencies, server, others


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all processors have spent busy so far, every process together."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


def test_misbehaving_hosted_plugins_never_slow_the_server_and_always_fall_back(
    bad_hosts: ServerProcess,
) -> None:
    srv = bad_hosts
    assert srv.url is not None
    with srv.client() as http:
        wait_for(lambda: {SLOW, ABORTING, HOG} <= plugin_ids(http), "the bad plugins join", srv.log)
        # the slow host runs below the server's CPU priority (the default nice of 10)
        component = http.get("/health").json()["components"]["gts.x.core.plugins.health.v1~"]
        slow_pid = next(h["pid"] for h in component["hosts"] if h["name"] == "slow")
        assert os.getpriority(os.PRIO_PROCESS, slow_pid) >= 10

        def routing(bad: bool) -> dict[str, Any]:
            # the run without the bad plugins sends the same traffic to the good one
            return {
                "timeout": 0.5,
                "rules": [
                    _rule("slow", SLOW if bad else BM25),
                    _rule("abort", ABORTING if bad else BM25),
                    _rule("hog", HOG if bad else BM25),
                    {"name": "rest", "target": {"plugin": BM25}},
                ],
            }

        put_routing(http, routing(bad=False))
        assert search(http, "t")["plugin"] == BM25

        good = _Misbehaviour(srv.url)
        good.start()
        try:
            wait_for(lambda: len(good.answers) >= 6, "the modes are called", srv.log)
            asyncio.run(_load(srv.url))  # warm-up (every route has been called), not measured
            baseline, base_cpu, base_others = _measured(srv)
        finally:
            good.stop.set()
            good.join(timeout=60)
        assert {b["outcome"]["plugin"] for _, _, b in good.answers} == {BM25}

        put_routing(http, routing(bad=True))
        bad = _Misbehaviour(srv.url)
        bad.start()
        try:
            wait_for(lambda: len(bad.answers) >= 6, "the bad plugins are called", srv.log)
            loaded, loaded_cpu, loaded_others = _measured(srv)
            # keep going until the supervisor has relaunched the aborted host at least once
            wait_for(lambda: srv.log().count("killed by SIGABRT") >= 1, "a crash", srv.log)
            wait_for(
                lambda: len([m for m in _LISTENING.finditer(srv.log()) if m[1] == "abort"]) >= 2,
                "the aborted host is relaunched",
                srv.log,
            )
            # ... and until the memory hog has run out of memory in its own process
            wait_for(
                lambda: any(
                    m == "hog" and b["outcome"]["plugin"] == BM25 for m, _, b in list(bad.answers)
                ),
                "the memory hog fails and its fallback serves",
                srv.log,
                timeout=120,
            )
        finally:
            bad.stop.set()
            bad.join(timeout=60)

        ratios = {k: _p99(loaded[k]) / _p99(baseline[k]) for k in baseline}
        print(
            "\np99 without/with the bad plugins: "
            + ", ".join(
                f"{k} {_p99(baseline[k]) * 1e3:.2f} ms / {_p99(loaded[k]) * 1e3:.2f} ms "
                f"(ratio {ratios[k]:.2f})"
                for k in baseline
            )
            + f"; {len(bad.answers)} calls to the bad plugins meanwhile; server CPU "
            f"meanwhile {base_cpu:.2f} s / {loaded_cpu:.2f} s, other processes' "
            f"{base_others:.2f} s / {loaded_others:.2f} s"
        )
        # Latency is reported, never asserted (bench/ measures speed; a test must not fail on a
        # loaded machine): on 2 cores the relaunched hosts' start-ups compete with the server.

        # every call with a fallback was answered, by the fallback when its plugin misbehaved
        assert bad.answers and all(status == 200 for _, status, _ in bad.answers), [
            a for a in bad.answers if a[1] != 200
        ][:3]
        by_mode: dict[str, Counter[str]] = {m: Counter() for m in ("slow", "abort", "hog")}
        for mode, _, body in bad.answers:
            by_mode[mode][body["outcome"]["plugin"]] += 1
            first = body["outcome"]["attempts"][0]
            if mode == "slow":
                assert first["plugin"] == SLOW and first["error"] is not None
                assert body["outcome"]["plugin"] == BM25
        assert set(by_mode["slow"]) == {BM25}  # never served in time: cut at 0.5 s every time
        assert set(by_mode["abort"]) == {BM25}
        assert by_mode["hog"][BM25] > 0  # its memory ran out in its own process: fallback
        slow_errors = [
            b["outcome"]["attempts"][0]["error"] for m, _, b in bad.answers if m == "slow"
        ]
        assert any(e == "timed out" for e in slow_errors), slow_errors[:3]
        assert any("circuit open" in e for e in slow_errors), slow_errors[:3]
        circuits = {p["id"]: p["circuit"] for p in http.get(GATEWAY).json()["plugins"]}
        assert circuits.get(SLOW) == "open"
        print(f"served per mode: { {m: dict(c) for m, c in by_mode.items()} }")
        assert http.get("/healthz").status_code == 200
    assert srv.running


def test_an_ab_split_between_in_process_and_hosted_is_even_and_sticky_across_a_host_restart(
    server_factory: ServerFactory,
) -> None:
    config = server_config({"hosts": [_host("hosted", "remote_e2e_support:hosted_bm25")]})
    srv = server_factory(config=config, env={"PYTHONPATH": PYTHONPATH}).start()
    keys = [f"tenant-{i}" for i in range(100_000)]
    with srv.client() as http:
        wait_for(lambda: HOSTED in plugin_ids(http), "the hosted plugin joins", srv.log)
        put_routing(
            http,
            {
                "rules": [
                    {
                        "name": "ab",
                        "split": {
                            "key": "tenant_id",
                            "variants": [
                                {"plugin": BM25, "weight": 50},
                                {"plugin": HOSTED, "weight": 50},
                            ],
                        },
                        "fallback": [{"plugin": BM25}],
                    }
                ]
            },
        )
        before = assign(http, keys)
        counts = Counter(before)
        share = counts[HOSTED] / len(keys)
        print(f"\nA/B over {len(keys)} keys: {dict(counts)} (hosted share {share:.4f})")
        assert set(counts) == {BM25, HOSTED} and abs(share - 0.5) <= 0.01
        sample = [k for k, p in zip(keys, before, strict=True) if p == HOSTED][:20]
        for tenant in sample:
            assert search(http, tenant)["plugin"] == HOSTED

        (pid, url) = next(
            (int(m[2]), m[3]) for m in _LISTENING.finditer(srv.log()) if m[1] == "hosted"
        )
        os.kill(pid, signal.SIGKILL)

        def relaunched() -> bool:
            found = [m for m in _LISTENING.finditer(srv.log()) if m[1] == "hosted"]
            return len(found) >= 2

        wait_for(relaunched, "the supervisor relaunches the host", srv.log)

        def moved_and_routed() -> bool:
            doc = http.get(f"/types-registry/v1/entities/{HOSTED}").json()["content"]
            if doc["endpoint"]["url"] == url or HOSTED not in plugin_ids(http):
                return False
            out = search(http, sample[0])
            return out["plugin"] == HOSTED and not out["fallback"]

        wait_for(moved_and_routed, "the relaunched host serves again", srv.log)
        after = assign(http, keys)
        assert after == before  # sticky: every key to the same plugin
        for tenant in sample:
            out = search(http, tenant)
            assert out["plugin"] == HOSTED and not out["fallback"]
