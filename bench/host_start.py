"""How long a plugin host takes to start, and how much CPU: what every relaunch of a crashed
host costs the machine.

One run, each mode ``--launches`` times, interleaved:

* ``host``: ``python -m plugway.cli._host <plugin> --listen 127.0.0.1:0`` as the supervisor
  starts it, timed from the spawn to its handshake line, then stopped with SIGTERM;
* ``floor``: a Python process that imports what any plugway host needs at the least (pydantic,
  uvicorn, httpx) and prints a line: Python's own start-up plus those libraries.

It prints the median wall time to the handshake (or the line) and the median CPU time of the
whole child (user + system, start to exit) per mode, and the host's figures over the floor's.
Nothing is asserted.

    .venv/bin/python bench/host_start.py [--launches 7] [--plugin bm25_ranker]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

FLOOR = "import pydantic, uvicorn, httpx; print('ready', flush=True); import sys; sys.stdin.read()"


def _launch(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first stdout line, CPU seconds of the child until it exited)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    wall = time.perf_counter() - t0
    if not line:
        raise SystemExit(f"{argv[:4]}: exited before its first line (code {proc.wait()})")
    proc.send_signal(signal.SIGTERM)
    proc.stdin.close()
    proc.wait(timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(launches: int, plugin: str) -> None:
    env = dict(os.environ, PLUGWAY_PLUGIN_SECRET="bench-secret-" + "x" * 32)
    env.pop("PLUGWAY_REGISTRY_URL", None)
    modes = {
        "floor (python + pydantic, uvicorn, httpx)": [sys.executable, "-c", FLOOR],
        f"host ({plugin})": [
            sys.executable,
            "-m",
            "plugway.cli._host",
            plugin,
            "--listen",
            "127.0.0.1:0",
        ],
    }
    samples: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(launches):
        for name, argv in modes.items():
            samples[name].append(_launch(argv, env))
    print(f"{launches} launches per mode, interleaved")
    print(f"{'mode':44} {'to ready ms':>12} {'CPU ms':>8}")
    medians = {}
    for name, rows in samples.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        medians[name] = (wall, cpu)
        print(f"{name:44} {wall * 1e3:12.0f} {cpu * 1e3:8.0f}")
    (fw, fc), (hw, hc) = medians.values()
    print(f"host over the floor: {hw / fw:.2f}x the time to ready, {hc / fc:.2f}x the CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--launches", type=int, default=7)
    parser.add_argument("--plugin", default="bm25_ranker")
    args = parser.parse_args()
    main(args.launches, args.plugin)
