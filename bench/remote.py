"""Calls/s of an out-of-process plugin through a gateway, against the bare HTTP round trip.

One run, 16 concurrent callers in one event loop, each mode for ``--seconds`` per round:

* ``floor``: a bare round trip with httpx (same pooled ``AsyncClient`` settings as the remote
  plugin) to a minimal ASGI endpoint on uvicorn (the host's HTTP implementation, httptools when
  installed) in its own process, same request and answer
  bytes as a real call -- what HTTP/JSON over httpx + uvicorn costs at the least;
* ``remote``: ``await gw.client.lookup(ctx, key, n)`` through a Gateway whose plugin is a
  RemotePlugin of a plugin host process (``python -m plugway.cli._host``);
* ``in-process``: the same gateway call to the same plugin class in this process.

It prints calls/s (median of ``--repeats`` rounds, modes interleaved so that a noisy neighbour
hits all of them) and the overhead of ``remote`` over the floor in time per call. Targets
(issue 8): overhead <= 30 %, >= 2,000 calls/s through one host. Nothing is asserted.

    .venv/bin/python bench/remote.py [--seconds 3] [--repeats 3] [--callers 16] [--uds]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from plugway.plugins import Gateway, PluginContract, PluginDeclaration, PluginSetup, SecurityContext
from plugway.plugins.remote import RemoteHost, RemotePlugin

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Answer:
    key: str
    n: int
    served_by: str


class LookupPlugin(Protocol):
    async def lookup(self, ctx: SecurityContext, key: str, n: int) -> Answer: ...


CONTRACT: PluginContract[LookupPlugin] = PluginContract(
    LookupPlugin, type_id="gts.x.core.modkit.plugin.v1~x.bench.lookup.plugin.v1.0~", name="lookup"
)


class Lookup:
    async def lookup(self, ctx: SecurityContext, key: str, n: int) -> Answer:
        return Answer(key, n + 1, "lookup")


def _build(setup: PluginSetup) -> LookupPlugin:
    return Lookup()


plugin = PluginDeclaration(
    contract=CONTRACT, segment="x.bench.lookup.plugin.v1", vendor="bench", factory=_build
)
PATH = "/v1/lookup/x.bench.lookup.plugin.v1"
SECRET = "bench-secret"
CTX = SecurityContext("tenant-1", "user-1", {"region": "eu"})
REQUEST = (
    b'{"context":{"tenant_id":"tenant-1","subject_id":"user-1","attributes":{"region":"eu"}},'
    b'"args":{"key":"k-42","n":41}}'
)
ANSWER = b'{"result":{"key":"k-42","n":42,"served_by":"lookup"}}'


# -- the floor's server: run as ``bench/remote.py --floor-server ADDRESS`` -------------------------


async def _floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(ANSWER)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


def _floor_server(address: str) -> None:
    import uvicorn

    from plugway.server._plugin_host import host_http_protocol

    uds = address[len("unix:") :] if address.startswith("unix:") else None
    config = uvicorn.Config(
        _floor_app,
        port=0,
        uds=uds,
        http=host_http_protocol(),  # the host's server stack
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        if uds is not None:
            url = address
        else:
            port = server.servers[0].sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}"
        print(f"PLUGWAY-PLUGIN-HOST listening {url} floor", flush=True)
        await serving

    asyncio.run(run())


# -- processes ---------------------------------------------------------------------------------


def _spawn(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().split()
    if len(line) < 3 or line[0] != "PLUGWAY-PLUGIN-HOST":
        proc.kill()
        raise SystemExit(f"{cmd}: no handshake line")
    return proc, line[2]


async def _run(
    call: Callable[[], Awaitable[Any]], callers: int, seconds: float
) -> tuple[float, float]:
    """(calls/s, p50 µs) of ``callers`` tasks calling back to back for ``seconds``."""
    stop = time.perf_counter() + seconds
    samples: list[int] = []

    async def worker() -> None:
        clock = time.perf_counter_ns
        while time.perf_counter() < stop:
            t0 = clock()
            await call()
            samples.append(clock() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(callers)))
    elapsed = time.perf_counter() - t0
    return len(samples) / elapsed, statistics.median(samples) / 1000


async def bench(args: argparse.Namespace) -> None:
    env = dict(os.environ, PYTHONPATH=str(HERE), PYTHONUNBUFFERED="1")
    env["PLUGWAY_PLUGIN_SECRET"] = SECRET
    tmp = Path(tempfile.mkdtemp(prefix="plugway-bench-"))
    host_listen = f"unix:{tmp}/host.sock" if args.uds else "127.0.0.1:0"
    floor_listen = f"unix:{tmp}/floor.sock" if args.uds else "tcp"
    host_cmd = [sys.executable, "-m", "plugway.cli._host", "remote:plugin", "--listen", host_listen]
    host_cmd += ["--log-level", "WARNING"]
    floor_cmd = [sys.executable, str(HERE / "remote.py"), "--floor-server", floor_listen]
    host, host_url = _spawn(host_cmd, env)
    floor, floor_endpoint = _spawn(floor_cmd, env)
    remote_host = RemoteHost(host_url, secret=SECRET)
    floor_host = RemoteHost(floor_endpoint, secret=SECRET)  # same client settings, bare POSTs
    remote_gw = Gateway("lookup-remote", CONTRACT)
    remote_gw.add_plugin(plugin.spec(), RemotePlugin(CONTRACT, remote_host, PATH))
    local_gw = Gateway("lookup-local", CONTRACT)
    local_gw.add_plugin(plugin.spec(), Lookup())
    floor_client = floor_host.client
    floor_url = floor_host.url(f"{PATH}/lookup")
    floor_send = floor_host.send
    remote_client, local_client = remote_gw.client, local_gw.client

    async def floor_call() -> None:
        status, answer = await floor_send(floor_url, REQUEST)
        if status != 200 or answer != ANSWER:
            raise RuntimeError(f"floor answered {status}")

    async def client_floor_call() -> None:
        response = await floor_client.post(f"{PATH}/lookup", content=REQUEST)
        if response.status_code != 200 or response.content != ANSWER:
            raise RuntimeError(f"floor answered {response.status_code}")

    def remote_call() -> Awaitable[Answer]:
        return remote_client.lookup(CTX, "k-42", 41)

    def local_call() -> Awaitable[Answer]:
        return local_client.lookup(CTX, "k-42", 41)

    modes: dict[str, Callable[[], Awaitable[Any]]] = {
        "floor (bare httpx)": floor_call,
        "floor via AsyncClient": client_floor_call,
        "remote (gateway)": remote_call,
        "in-process (gateway)": local_call,
    }
    answer = await remote_call()
    if answer != Answer("k-42", 42, "lookup"):
        raise SystemExit(f"remote answered {answer!r}")
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    try:
        for call in modes.values():  # warm-up: connections, caches
            await _run(call, args.callers, 0.5)
        for _ in range(args.repeats):
            for name, call in modes.items():
                results[name].append(await _run(call, args.callers, args.seconds))
    finally:
        await remote_host.aclose()
        await floor_host.aclose()
        for proc in (host, floor):
            proc.terminate()
            proc.wait()
    transport = "unix socket" if args.uds else "loopback TCP"
    print(f"{args.callers} concurrent callers, {transport}, {args.repeats} x {args.seconds} s")
    print(f"{'mode':24} {'calls/s':>10} {'p50 µs':>9}")
    rate: dict[str, float] = {}
    for name, runs in results.items():
        rate[name] = statistics.median(r for r, _ in runs)
        p50 = statistics.median(p for _, p in runs)
        print(f"{name:24} {rate[name]:>10,.0f} {p50:>9,.0f}")
    floor_rate, remote_rate = rate["floor (bare httpx)"], rate["remote (gateway)"]
    overhead = floor_rate / remote_rate - 1.0
    print(
        f"remote overhead over the floor: {overhead:+.0%} time per call "
        f"(target <= +30 %); through one host: {remote_rate:,.0f} calls/s (target >= 2,000)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--uds", action="store_true", help="Unix sockets instead of TCP")
    parser.add_argument("--floor-server", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        _floor_server(args.floor_server)
        return
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
