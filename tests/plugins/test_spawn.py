"""Starting host processes off the event loop: real child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading

import pytest

from plugway.plugins._spawn import spawn

ENV = dict(os.environ)


async def test_the_child_runs_with_its_output_streamed_and_its_exit_status() -> None:
    code = "import sys; print('hello'); print('oops', file=sys.stderr); sys.exit(3)"
    proc = await spawn([sys.executable, "-c", code], ENV)
    assert await proc.stdout.readline() == b"hello\n"
    assert await proc.stderr.readline() == b"oops\n"
    assert await proc.wait() == 3
    assert proc.returncode == 3
    assert await proc.stdout.read() == b""  # the pipe ends with the process


async def test_started_runs_in_a_worker_thread_with_the_pid_and_the_child_leads_its_group() -> None:
    seen: list[tuple[int, int]] = []
    proc = await spawn(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        ENV,
        started=lambda pid: seen.append((pid, threading.get_ident())),
    )
    try:
        assert seen == [(proc.pid, seen[0][1])]
        assert seen[0][1] != threading.get_ident()  # not the loop's thread
        assert os.getpgid(proc.pid) == proc.pid  # a session of its own: stopped as a group
        assert proc.returncode is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL


async def test_the_loop_keeps_turning_while_a_child_starts() -> None:
    turns = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)

    def slow_start(pid: int) -> None:
        threading.Event().wait(0.3)  # a start that takes a while (here: the limits step)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    before = turns
    proc = await spawn([sys.executable, "-c", "pass"], ENV, started=slow_start)
    stop.set()
    await task
    assert turns - before > 10  # the loop ran other work during the start
    assert await proc.wait() == 0


async def test_a_launch_cancelled_while_starting_leaves_no_child_behind() -> None:
    pids: list[int] = []
    gate = threading.Event()

    def held(pid: int) -> None:
        pids.append(pid)
        gate.wait(5)  # the launch is cancelled while the start is still in its thread

    launch = asyncio.ensure_future(
        spawn([sys.executable, "-c", "import time; time.sleep(30)"], ENV, started=held)
    )
    while not pids:
        await asyncio.sleep(0.01)
    launch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await launch
    gate.set()
    for _ in range(200):
        try:
            os.kill(pids[0], 0)
        except ProcessLookupError:
            break  # killed and reaped
        await asyncio.sleep(0.025)
    else:
        pytest.fail(f"child {pids[0]} still runs after its launch was cancelled")
