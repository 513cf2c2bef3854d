"""The plugin host's HTTP face: a small ASGI app over :class:`PluginHost`, served by uvicorn.

The app is plain ASGI, not FastAPI: a host answers one kind of request, and on the hot path a
dictionary lookup by path, a bearer check and one body read are all it needs. It serves
``POST <plugin path>/<method>`` (the wire protocol, :mod:`plugway.plugins._wire`),
``GET /v1/health`` and ``GET /openapi.json`` (built from the contracts' annotations). Every
route wants the secret (``Authorization: Bearer``), compared as bytes in constant time.

A call whose caller hangs up (the gateway's deadline fired) is cancelled in the host at its
next ``await``. :func:`run_host` listens on loopback TCP (port 0: a free one) or on a Unix
socket created 0600, prints the handshake line ``PLUGWAY-PLUGIN-HOST listening <url>
<protocol>`` on stdout once it accepts calls (stdout carries nothing else; logs go to stderr),
keeps the registry lease (:mod:`plugway.server._plugin_lease`) and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import uvicorn

from plugway.plugins._host import PluginHost
from plugway.plugins._wire import (
    BEARER_PREFIX,
    HANDSHAKE_PREFIX,
    MAX_BODY_BYTES,
    PROTOCOL,
    ErrorType,
    error_body,
)
from plugway.server._plugin_lease import RegistryLease

__all__ = [
    "HostAddress",
    "PluginHostApp",
    "host_http_protocol",
    "parse_listen",
    "run_host",
]

_log = logging.getLogger("plugway.plugins.host")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_GRACE_SECONDS = 5


class PluginHostApp:
    """The ASGI app of one host (see the module docstring). ``secret`` None: no check (tests
    and callers that sit behind their own access control only)."""

    def __init__(
        self,
        host: PluginHost,
        secret: bytes | None,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        cancel_on_disconnect: bool = True,
    ) -> None:
        self.host = host
        self._expected = secret
        self._routes = host.routes
        self._max_body = max_body_bytes
        self._cancel_on_disconnect = cancel_on_disconnect
        self._openapi = json.dumps(host.openapi()).encode()
        self._health = json.dumps(host.describe()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not served
        if not self._authorized(scope):
            await self._error(send, "unauthorized", "missing or wrong secret")
            return
        path: str = scope["path"]
        served = self._routes.get(path)
        if served is None:
            if scope["method"] == "GET" and path in ("/openapi.json", "/v1/health"):
                doc = self._openapi if path == "/openapi.json" else self._health
                await _respond(send, 200, doc)
                return
            await self._error(send, "not_found", f"no plugin method at {path}")
            return
        if scope["method"] != "POST":
            await self._error(send, "method_not_allowed", "plugin methods are called with POST")
            return
        body = await self._body(receive)
        if body is None:  # over the limit
            await self._error(send, "too_large", f"request body over {self._max_body} bytes")
            return
        if self._cancel_on_disconnect:
            task = asyncio.current_task()
            assert task is not None
            watcher = asyncio.ensure_future(_watch_disconnect(receive, task))
            try:
                status, answer = await served.invoke(body)
            except asyncio.CancelledError:
                if watcher.done() and not watcher.cancelled() and watcher.result():
                    _log.info("%s: the caller hung up; call cancelled", path)
                    return  # nobody to answer
                raise
            finally:
                watcher.cancel()
        else:
            status, answer = await served.invoke(body)
        await _respond(send, status, answer)

    def _authorized(self, scope: Scope) -> bool:
        expected = self._expected
        if expected is None:
            return True
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, token = value[:7], value[7:]
                # compare_digest on bytes: constant time, and non-ASCII input is no error
                return scheme.lower() == BEARER_PREFIX and hmac.compare_digest(token, expected)
        return False

    async def _body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    async def _error(send: Send, type_: ErrorType, message: str) -> None:
        status, body = error_body(type_, message)
        await _respond(send, status, body)


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _watch_disconnect(receive: Receive, task: asyncio.Task[Any]) -> bool:
    """Cancel ``task`` when the client disconnects (True then); cancelled once it answers."""
    message = await receive()
    if message["type"] == "http.disconnect":
        task.cancel()
        return True
    return False


# -- listening -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostAddress:
    """Where a host listens: loopback TCP (``host``, ``port``; 0 = a free port) or ``uds``."""

    host: str = "127.0.0.1"
    port: int = 0
    uds: str | None = None


def parse_listen(text: str) -> HostAddress:
    """``127.0.0.1:0``, ``:8123``, ``8123``, ``unix:/run/x.sock`` -> HostAddress (ValueError)."""
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise ValueError("unix: needs a socket path")
        if len(os.fsencode(path)) > 107:
            raise ValueError(f"socket path {path!r} is longer than 107 bytes")
        return HostAddress(uds=path)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address {text!r}: want HOST:PORT, PORT or unix:/path")
    return HostAddress(host=host, port=int(port))


def _bind(address: HostAddress) -> tuple[socket.socket, str]:
    """A listening socket and the URL callers use; a Unix socket is created 0600."""
    if address.uds is not None:
        path = address.uds
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # a stale file from a host that died: take the path over
            else:
                raise OSError(errno.EADDRINUSE, f"another process serves {path}")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket file is born 0600: only this user may connect
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(512)
        return sock, f"unix:{path}"
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address.host, address.port))
    sock.listen(512)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return sock, f"http://{shown}:{port}"


def host_http_protocol() -> str:
    """uvicorn's HTTP implementation for a plugin host: ``httptools`` (llhttp, in C) when it is
    installed, else ``h11``. h11 parses in Python (~0.4 ms a request in ``bench/remote.py``);
    a host needs none of the main server's h11 protocol subclass (``server/_protocol.py``)."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: :func:`run_host` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


def _watch_lifeline(loop: asyncio.AbstractEventLoop, fd: int, server: uvicorn.Server) -> None:
    """Stop in order once ``fd`` reads end-of-file: the server holding its other end is gone."""

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return  # nothing is ever written; whatever comes is ignored
        loop.remove_reader(fd)
        if not server.should_exit:
            _log.warning("the server that launched this host is gone: stopping")
            server.should_exit = True

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)


async def run_host(
    host: PluginHost,
    *,
    listen: HostAddress,
    secret: bytes | None,
    registry_url: str | None = None,
    registry_token: str | None = None,
    heartbeat_s: float = 5.0,
    out: IO[str] | None = None,
    lifeline: int | None = None,
) -> int:
    """Serve ``host`` until SIGTERM/SIGINT, or end-of-file on file descriptor ``lifeline`` (the
    pipe of the server that launched it); the exit code (0 after an orderly stop)."""
    out = out if out is not None else sys.stdout
    try:
        sock, url = _bind(listen)
    except OSError as exc:
        _log.error("cannot listen on %s: %s", listen, exc)
        return 2
    app = PluginHostApp(host, secret)
    config = uvicorn.Config(
        app,
        http=host_http_protocol(),
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=_GRACE_SECONDS,
        timeout_keep_alive=30,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
            installed.append(int(sig))
    if lifeline is not None:
        _watch_lifeline(loop, lifeline, server)
    lease = None
    if registry_url:
        docs = host.instance_documents(url, heartbeat_s=heartbeat_s, ttl_s=3 * heartbeat_s)
        lease = RegistryLease(registry_url, registry_token, docs, heartbeat_s=heartbeat_s)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()
            return 1
        for p in host.plugins:
            _log.info(
                "serving %s (contract %s) at %s%s", p.plugin_id, p.instance.version, url, p.path
            )
        print(f"{HANDSHAKE_PREFIX} listening {url} {PROTOCOL}", file=out, flush=True)
        if lease is not None:
            lease.start()
        await serving
    finally:
        if lease is not None:
            await lease.stop()
        for signum in installed:
            loop.remove_signal_handler(signum)
        if lifeline is not None:
            loop.remove_reader(lifeline)
        sock.close()
        if listen.uds is not None:
            with contextlib.suppress(OSError):
                Path(listen.uds).unlink()
    _log.info("plugin host stopped")
    return 0
