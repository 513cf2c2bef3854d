"""A supervised host's limits (lower CPU priority, capped address space, no core files) and the
resync that host liveness changes run off the event loop."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from plugway.plugins._coalesced import Coalesced
from plugway.plugins._confine import confine
from plugway.plugins._settings import HostSettings


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_host_runs_below_the_servers_priority_with_its_memory_capped(
    child: subprocess.Popen[bytes],
) -> None:
    assert confine(child.pid, nice=7, memory_limit_mb=300) == []
    assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(
        19, os.getpriority(os.PRIO_PROCESS, 0) + 7
    )
    assert resource.prlimit(child.pid, resource.RLIMIT_AS) == (300 << 20, 300 << 20)
    assert resource.prlimit(child.pid, resource.RLIMIT_CORE) == (0, 0)  # no core file per crash


def test_core_dumps_are_left_as_they_were_when_asked_for(
    child: subprocess.Popen[bytes],
) -> None:
    before = resource.prlimit(child.pid, resource.RLIMIT_CORE)
    assert confine(child.pid, nice=0, memory_limit_mb=None, core_dumps=True) == []
    assert resource.prlimit(child.pid, resource.RLIMIT_CORE) == before
    assert resource.prlimit(child.pid, resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY


def test_a_capped_host_fails_to_allocate_past_its_limit() -> None:
    code = "import sys; sys.stdin.readline(); b = bytearray(600 << 20)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert confine(proc.pid, nice=0, memory_limit_mb=200) == []
    _, err = proc.communicate(b"go\n", timeout=30)
    assert proc.returncode != 0 and b"MemoryError" in err


def test_limits_that_cannot_be_applied_are_named() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    missed = confine(proc.pid, nice=3, memory_limit_mb=100)
    assert [m.split(":")[0] for m in missed] == [
        "nice 3",
        "memory_limit_mb 100",
        "core_dumps false",
    ]


def test_host_settings_default_to_a_lower_priority_and_refuse_bad_limits() -> None:
    host = HostSettings(name="h", entry_point=["x"])
    assert (host.nice, host.memory_limit_mb, host.core_dumps) == (10, None, False)
    with pytest.raises(ValueError, match="nice"):
        HostSettings(name="h", entry_point=["x"], nice=20)
    with pytest.raises(ValueError, match="memory_limit_mb"):
        HostSettings(name="h", entry_point=["x"], memory_limit_mb=1)


def test_host_args_name_only_the_placeholders_the_supervisor_fills() -> None:
    ok = HostSettings(name="h", executable="x", args=["--to", "{registry_url}", "{{literal}}"])
    assert ok.args == ["--to", "{registry_url}", "{{literal}}"]
    with pytest.raises(ValueError, match=r"args\[1\]: unknown placeholder \{x\}; the known"):
        HostSettings(name="h", executable="x", args=["-c", "d = {x}"])
    with pytest.raises(ValueError, match=r"args\[0\]: .*write \{\{ and \}\} for braces"):
        HostSettings(name="h", executable="x", args=["{unclosed"])


def test_outside_an_event_loop_a_request_runs_at_once() -> None:
    ran: list[str] = []
    Coalesced(lambda: ran.append(threading.current_thread().name), "t").request()
    assert ran == [threading.current_thread().name]


async def test_on_the_event_loop_requests_run_in_a_thread_folded_together() -> None:
    ran: list[str] = []
    gate = threading.Event()

    def resync() -> None:
        gate.wait(timeout=10)
        ran.append(threading.current_thread().name)

    work = Coalesced(resync, "test-resync")
    for _ in range(5):  # a burst while the first run waits: one more run, not five
        work.request()
    await asyncio.sleep(0.05)
    for _ in range(5):
        work.request()
    gate.set()
    await asyncio.to_thread(work.wait)
    assert len(ran) == 2 and all(n.startswith("test-resync") for n in ran)


async def test_a_failing_run_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def resync() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("registry away")

    work = Coalesced(resync, "test-resync")
    work.request()
    await asyncio.sleep(0.05)
    work.request()
    await asyncio.to_thread(work.wait)
    assert len(calls) == 2
    assert "test-resync failed" in caplog.text and "registry away" in caplog.text


async def test_after_the_wait_requests_are_dropped() -> None:
    ran: list[int] = []
    work = Coalesced(lambda: ran.append(1), "test-resync")
    work.request()
    await asyncio.to_thread(work.wait)
    work.request()  # the gateway is stopping: nothing runs any more
    await asyncio.sleep(0.05)
    assert ran == [1]
