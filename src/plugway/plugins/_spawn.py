"""Starting a plugin host process without holding up the event loop.

``asyncio.create_subprocess_exec`` forks and waits for the child's ``exec`` on the loop's
thread: 1-10 ms per launch here, a stall of every request in flight each time a crash-looping
host is relaunched. :func:`spawn` starts the process in a worker thread, then hands its stdout
and stderr to the loop as stream readers and its exit status to a future (a thread per child
waits for it, as asyncio's own threaded child watcher does).

The child's stdin is a pipe the server never writes and never closes while it runs: the
*lifeline*. However the server ends (an orderly stop, a crash, SIGKILL) the kernel closes its
end, the child reads end-of-file and knows it has been left on its own (:data:`LIFELINE_ENV`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO

__all__ = ["LIFELINE_ENV", "HostProcess", "spawn"]

LIFELINE_ENV = "PLUGWAY_HOST_LIFELINE"
"""Set to ``stdin`` for a supervised host: end-of-file on stdin means its server is gone."""


class HostProcess:
    """A started host: its pid, stdout and stderr readers, and its exit."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        exited: asyncio.Future[int],
    ) -> None:
        self._popen = popen  # holds the lifeline (its stdin) open for as long as it is alive
        self.pid = popen.pid
        self.stdout = stdout
        self.stderr = stderr
        self._exited = exited

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), None while it runs."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        """Its exit status, once it has exited (cancelling the wait leaves the process be)."""
        return await asyncio.shield(self._exited)


async def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    started: Callable[[int], None] = lambda pid: None,
) -> HostProcess:
    """Start ``argv`` in a session (process group) of its own, stdin the lifeline, stdout and
    stderr piped; ``started(pid)`` runs in the worker thread right after the start (to set
    limits before the child has done much)."""
    loop = asyncio.get_running_loop()

    def start() -> subprocess.Popen[bytes]:
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        started(popen.pid)
        return popen

    pending = loop.run_in_executor(None, start)
    try:
        popen = await asyncio.shield(pending)
    except asyncio.CancelledError:
        # the start goes on in its thread: the child must not outlive the launch that wanted it
        pending.add_done_callback(_kill_started)
        raise
    assert popen.stdout is not None and popen.stderr is not None
    exited: asyncio.Future[int] = loop.create_future()
    _watch_exit(loop, popen, exited)
    stdout = await _reader(loop, popen.stdout)
    stderr = await _reader(loop, popen.stderr)
    return HostProcess(popen, stdout, stderr, exited)


async def _reader(loop: asyncio.AbstractEventLoop, pipe: IO[bytes]) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


def _watch_exit(
    loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes], exited: asyncio.Future[int]
) -> None:
    def settle(code: int) -> None:
        if not exited.done():
            exited.set_result(code)

    def wait() -> None:
        code = popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(settle, code)

    threading.Thread(target=wait, name=f"plugin host {popen.pid} exit", daemon=True).start()


def _kill_started(pending: asyncio.Future[subprocess.Popen[bytes]]) -> None:
    if pending.cancelled() or pending.exception() is not None:
        return
    popen = pending.result()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    threading.Thread(target=popen.wait, daemon=True).start()  # reaped, not left a zombie
