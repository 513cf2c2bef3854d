"""Plugins and a host process for the out-of-process tests.

``ECHO_CONTRACT`` has one method per behaviour under test: ``echo`` returns its arguments and
the context it received (typed: a dataclass, a tuple, an optional); in the host, ``fail``
raises, ``block`` blocks the event loop with ``time.sleep``, ``nap`` awaits (and says on stderr
when it is cancelled), ``abort`` calls ``os.abort()`` and ``wrong`` returns a value that breaks
its annotation. ``echo_plugin`` is the declaration a host serves
(``remote_support:echo_plugin``); ``local_plugin`` is a well-behaved in-process fallback.

:class:`HostProcess` runs ``python -m plugway.cli._host`` (or any ``argv``) as a child, reads
its handshake line from stdout (bounded wait) and sends its stderr to a file, so no pipe can
fill up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from plugway.plugins import PluginContract, PluginDeclaration, PluginSetup, SecurityContext

HERE = Path(__file__).resolve().parent
ECHO_TYPE_ID = "gts.x.core.modkit.plugin.v1~x.plugway.test_echo.plugin.v1.0~"


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    qty: int


@dataclass(frozen=True, slots=True)
class Echoed:
    served_by: str
    tenant_id: str
    subject_id: str
    attributes: dict[str, str]
    items: tuple[Item, ...]
    note: str | None = None
    tags: list[str] = field(default_factory=list)


class EchoPlugin(Protocol):
    async def echo(
        self, ctx: SecurityContext, items: list[Item], note: str | None = None
    ) -> Echoed: ...

    async def fail(self, ctx: SecurityContext, message: str) -> int: ...

    async def block(self, ctx: SecurityContext, seconds: float) -> str: ...

    async def abort(self, ctx: SecurityContext) -> str: ...

    async def nap(self, ctx: SecurityContext, seconds: float) -> str: ...

    async def wrong(self, ctx: SecurityContext) -> int: ...


ECHO_CONTRACT: PluginContract[EchoPlugin] = PluginContract(
    EchoPlugin, type_id=ECHO_TYPE_ID, name="echo"
)


class EchoImpl:
    def __init__(self, name: str, default_note: str | None = None) -> None:
        self.name = name
        self.default_note = default_note  # the ``note`` of its config block, if any

    async def echo(
        self, ctx: SecurityContext, items: list[Item], note: str | None = None
    ) -> Echoed:
        return Echoed(
            self.name,
            ctx.tenant_id,
            ctx.subject_id,
            dict(ctx.attributes),
            tuple(items),
            self.default_note if note is None else note,
            [type(i).__name__ for i in items],
        )

    async def fail(self, ctx: SecurityContext, message: str) -> int:
        if self.name == "remote":
            raise ValueError(message)
        return len(message)

    async def block(self, ctx: SecurityContext, seconds: float) -> str:
        time.sleep(seconds)  # blocks the host's event loop on purpose
        return self.name

    async def abort(self, ctx: SecurityContext) -> str:
        if self.name == "remote":
            os.abort()
        return self.name

    async def nap(self, ctx: SecurityContext, seconds: float) -> str:
        if self.name != "remote":
            return self.name
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            print(f"nap of {seconds} s cancelled", file=sys.stderr, flush=True)
            raise
        return self.name

    async def wrong(self, ctx: SecurityContext) -> int:
        if self.name == "remote":
            return "not a number"  # type: ignore[return-value]
        return 0


def _remote(setup: PluginSetup) -> EchoPlugin:
    return EchoImpl("remote", setup.config.get("note"))


def _local(setup: PluginSetup) -> EchoPlugin:
    return EchoImpl("local")


echo_plugin = PluginDeclaration(
    contract=ECHO_CONTRACT,
    segment="x.tests.remote_echo.plugin.v1",
    vendor="tests",
    priority=10,
    factory=_remote,
)

local_plugin = PluginDeclaration(
    contract=ECHO_CONTRACT,
    segment="x.tests.local_echo.plugin.v1",
    vendor="tests",
    priority=20,
    factory=_local,
)


class HostProcess:
    """One ``plugway plugins host`` child process (see the module docstring)."""

    def __init__(
        self,
        refs: list[str],
        root: Path,
        *,
        secret: str | None = "test-secret",
        listen: str = "127.0.0.1:0",
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.argv = argv  # a whole command (another language's plugin); the secret goes in env
        self.refs = refs
        self.root = root
        self.secret = secret
        self.listen = listen
        self.extra_args = extra_args
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.starts = 0
        self.log_path = root / "host-0.log"

    def command(self) -> list[str]:
        if self.argv is not None:
            return [*self.argv, *self.extra_args]
        cmd = [sys.executable, "-m", "plugway.cli._host", *self.refs, "--listen", self.listen]
        if self.secret is None:
            cmd.append("--no-secret")
        else:
            secret_file = self.root / "secret"
            secret_file.write_text(self.secret, encoding="utf-8")
            secret_file.chmod(0o600)
            cmd += ["--secret-file", str(secret_file)]
        return [*cmd, *self.extra_args]

    def start(self, timeout: float = 60.0) -> HostProcess:
        self.starts += 1
        self.log_path = self.root / f"host-{self.starts}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        env["PYTHONUNBUFFERED"] = "1"
        if self.argv is not None and self.secret is not None:
            env["PLUGWAY_PLUGIN_SECRET"] = self.secret
        env.update(self.extra_env)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        self.url = self._handshake(timeout)
        return self

    def _handshake(self, timeout: float) -> str:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
            elif proc.poll() is not None:
                break
        words = line.decode().split()
        if len(words) != 4 or words[:2] != ["PLUGWAY-PLUGIN-HOST", "listening"]:
            self.kill()
            raise RuntimeError(f"no handshake line (got {line!r}); log:\n{self.log()}")
        return words[2]

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"host ignored SIGTERM:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(RuntimeError):
                self.stop(timeout=10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
