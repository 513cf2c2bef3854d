"""What one request costs the server in CPU: the figure that decides how much a 2-core machine
serves, and how much room a server leaves its plugin hosts.

One run, two real servers side by side, measured in interleaved rounds:

* ``floor``: uvicorn with its h11 protocol serving a FastAPI app of one route that answers
  ``{"status": "ok"}`` (what any FastAPI service pays per request);
* ``plugway``: ``plugway serve`` on its embedded default (every shipped module, the request
  guard, the host check, metrics), asked ``/healthz``, a local search
  (``/doc-search/v1/search``) and the same search through the generic call route.

Requests go one at a time over one kept-alive connection from a lean client (h11 over asyncio
streams). It prints the median server CPU per request (user + system of the server process,
``/proc``) and the median wall time per request, each next to the floor. Nothing is asserted.

    .venv/bin/python bench/server_requests.py [--requests 1500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h11

FLOOR_APP = """
import sys
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="h11", log_level="warning")
"""
TOKEN = "bench-server-requests-" + "x" * 24
SEARCH = "/doc-search/v1/search?q=circuit+breaker&limit=3"
CALL = "/plugins/v1/gateways/doc_search/call/search"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after 60 s")


async def _drive(port: int, method: str, target: str, body: bytes, n: int) -> float:
    """``n`` requests one after the other on one connection; seconds in all."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    headers = [("Host", f"127.0.0.1:{port}"), ("X-Tenant-Id", "t1")]
    if body:
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    t0 = time.perf_counter()
    for _ in range(n):
        out = conn.send(h11.Request(method=method, target=target, headers=headers))
        if body:
            out += conn.send(h11.Data(data=body))
        writer.write(out + conn.send(h11.EndOfMessage()))
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response) and event.status_code != 200:
                raise SystemExit(f"{method} {target}: {event.status_code}")
            elif isinstance(event, h11.EndOfMessage):
                conn.start_next_cycle()
                break
    elapsed = time.perf_counter() - t0
    writer.close()
    return elapsed


def main(requests: int, rounds: int) -> None:
    floor_port, plugway_port = _free_port(), _free_port()
    data = tempfile.mkdtemp(prefix="plugway-bench-")
    env = dict(os.environ, PLUGWAY__SERVER__PORT=str(plugway_port), PLUGWAY__DATA_DIR=data)
    env["PLUGWAY__SERVER__ADMIN_TOKEN"] = TOKEN
    floor = subprocess.Popen([sys.executable, "-c", FLOOR_APP, str(floor_port)])
    plugway = subprocess.Popen(
        [sys.executable, "-m", "plugway", "serve"], env=env, stderr=subprocess.DEVNULL
    )
    call = json.dumps({"query": "circuit breaker", "limit": 3}).encode()
    cases = {
        "floor: GET /healthz": (floor, floor_port, "GET", "/healthz", b""),
        "plugway: GET /healthz": (plugway, plugway_port, "GET", "/healthz", b""),
        "plugway: GET local search": (plugway, plugway_port, "GET", SEARCH, b""),
        "plugway: POST call/search": (plugway, plugway_port, "POST", CALL, call),
    }
    try:
        _wait_listening(floor_port, floor)
        _wait_listening(plugway_port, plugway)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _proc, port, method, target, body in cases.values():  # warm-up
            asyncio.run(_drive(port, method, target, body, 100))
        for _ in range(rounds):
            for name, (proc, port, method, target, body) in cases.items():
                cpu = _cpu_seconds(proc.pid)
                wall = asyncio.run(_drive(port, method, target, body, requests))
                samples[name].append(((_cpu_seconds(proc.pid) - cpu) / requests, wall / requests))
    finally:
        for proc in (floor, plugway):
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{rounds} rounds of {requests} requests per case, interleaved; medians")
    print(f"{'case':28} {'server CPU us':>14} {'x floor':>8} {'wall us':>8} {'x floor':>8}")
    floor_cpu = floor_wall = 0.0
    for name, rows in samples.items():
        cpu = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        if name.startswith("floor"):
            floor_cpu, floor_wall = cpu, wall
        print(
            f"{name:28} {cpu * 1e6:14.0f} {cpu / floor_cpu:8.2f} "
            f"{wall * 1e6:8.0f} {wall / floor_wall:8.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(args.requests, args.rounds)
