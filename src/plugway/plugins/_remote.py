"""The client side of out-of-process plugins: a plugin object whose methods call a plugin host.

A :class:`RemoteHost` is one host's connection pool (httpx, HTTP/1.1 keep-alive over TCP, or
a Unix socket for ``unix:/path`` endpoints) and its secret; every
plugin served by that host shares it. A :class:`RemotePlugin` has one ``async def`` per
contract method -- a closure carrying the contract method's ``__signature__`` and annotations,
so ``contract.bind(spec, plugin)`` checks it like a local implementation -- that encodes the
call (:mod:`._wire`), posts it and decodes the answer.

Every failure is a :class:`RemotePluginError` (a ``PluginError``), so the gateway counts it
against the plugin: fallback and breaker work as for a local plugin. A ``contract_error`` answer
raises the contract's own exception again (:mod:`._passthrough`), which the gateway passes
through to the caller as it does a local plugin's. The gateway's own deadline cuts a call: an
awaited httpx request is cancellable, and httpx then closes the connection, which tells the host
to cancel the plugin's coroutine. httpx's ``timeout`` is only a backstop for callers without a
deadline.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from ._context import SecurityContext
from ._contract import ContractVersion, PluginContract
from ._passthrough import rebuild_contract_error
from ._wire import (
    MethodCodec,
    RemoteCallError,
    RemoteTransportError,
    WireError,
    contract_codec,
)

__all__ = ["DEFAULT_HTTP_TIMEOUT", "DEFAULT_MAX_CONNECTIONS", "RemoteHost", "RemotePlugin"]

DEFAULT_HTTP_TIMEOUT = 30.0  # backstop only: the gateway's deadline (default 10 s) cuts first
DEFAULT_MAX_CONNECTIONS = 8
_UNIX = "unix:"
_JSON = b"application/json"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The one TLS context of every host connection. httpx builds one per transport when not
    given one, loading the CA bundle each time (~20 ms here): a host that joins would stall
    the event loop for the lanes' worth of them."""
    return httpx.create_ssl_context()


class RemoteHost:
    """One plugin host as callers reach it: ``http://127.0.0.1:PORT`` or ``unix:/path``.

    ``secret`` is sent as ``Authorization: Bearer <secret>`` (UTF-8) on every request. The pool
    keeps up to ``max_connections`` keep-alive connections; HTTP/1.1 has one call in flight per
    connection, so more callers queue for one (8 connections served 16 callers as fast as 16
    did in ``bench/remote.py``). Close it with :meth:`aclose` when the host's plugins leave.

    Calls go to a transport directly (:meth:`send`): ``AsyncClient``'s per-request steps (URL
    merging, cookies, auth and redirect flows, hooks) were about a quarter of the client's CPU
    per call in ``bench/remote.py``, and a plugin call needs none of them. Each pooled
    connection is a *lane*: a one-connection ``httpx.AsyncHTTPTransport``, handed to one call
    at a time from a LIFO queue (callers beyond ``max_connections`` wait in the queue). One
    transport with ``max_connections`` connections measured half as fast: httpcore's pool
    scans every connection (a ``poll`` per idle one) on each request and response close, and
    requests that queue in it are retried over and over. ``transport`` (tests) replaces the
    lanes: every call then goes to it.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        secret: str | bytes | None,
        timeout: float = DEFAULT_HTTP_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, not {max_connections}")
        uds: str | None = None
        if endpoint.startswith(_UNIX):
            uds = endpoint[len(_UNIX) :]
            if not uds:
                raise ValueError(f"endpoint {endpoint!r}: a unix endpoint needs a socket path")
            base_url = "http://plugin-host"  # the host part is not used with a Unix socket
        elif endpoint.startswith(("http://", "https://")):
            base_url = endpoint.rstrip("/")
        else:
            raise ValueError(f"endpoint {endpoint!r} must be http(s)://host:port or unix:/path")
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        tls = _tls_context()
        self._lanes: list[httpx.AsyncBaseTransport] = []
        self._free: asyncio.LifoQueue[httpx.AsyncBaseTransport] | None = None
        if transport is None:
            self._lanes = [
                httpx.AsyncHTTPTransport(uds=uds, limits=one, verify=tls)
                for _ in range(max_connections)
            ]
            self._free = asyncio.LifoQueue()
            for lane in self._lanes:
                self._free.put_nowait(lane)
            limits = httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
            transport = httpx.AsyncHTTPTransport(uds=uds, limits=limits, verify=tls)  # health
        self.transport = transport
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._base_url = base_url
        self._headers: list[tuple[bytes, bytes]] = []
        self.set_secret(secret)
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}

    def set_secret(self, secret: str | bytes | None) -> None:
        """Send ``secret`` from now on (a supervised host relaunched with a new one)."""
        headers = {b"content-type": _JSON, b"accept": _JSON}
        if secret:
            raw = secret.encode() if isinstance(secret, str) else secret
            headers[b"authorization"] = b"Bearer " + raw  # UTF-8 bytes, as the host compares
        self.client.headers = httpx.Headers(headers)
        self._headers = [(b"host", httpx.URL(self._base_url).netloc), *headers.items()]

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of ``path`` on this host (built once per method by RemotePlugin)."""
        return httpx.URL(self._base_url + path)

    async def send(self, url: httpx.URL, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` to ``url``: (status, answer body). httpx errors propagate."""
        headers = [*self._headers, (b"content-length", str(len(body)).encode())]
        request = httpx.Request(
            "POST", url, headers=headers, content=body, extensions=self._extensions
        )
        free = self._free
        if free is None:
            return await _exchange(self.transport, request)
        lane = await free.get()
        try:
            return await _exchange(lane, request)
        finally:
            free.put_nowait(lane)

    async def health(self) -> dict[str, Any]:
        """``GET /v1/health`` of the host (liveness probe; needs the secret like a call)."""
        try:
            response = await self.client.get("/v1/health")
        except httpx.HTTPError as exc:
            raise RemoteTransportError("-", "health", _transport_text(self, exc)) from exc
        if response.status_code != 200:
            error = WireError.from_json(response.content, response.status_code)
            raise RemoteCallError("-", "health", response.status_code, error)
        doc: dict[str, Any] = response.json()
        return doc

    async def aclose(self) -> None:
        await self.client.aclose()
        for lane in self._lanes:
            await lane.aclose()

    def __repr__(self) -> str:
        return f"RemoteHost({self.endpoint!r})"


async def _exchange(
    transport: httpx.AsyncBaseTransport, request: httpx.Request
) -> tuple[int, bytes]:
    response = await transport.handle_async_request(request)
    try:
        content = await response.aread()
    except BaseException:
        await response.aclose()  # cancelled mid-answer: the connection is dropped
        raise
    return response.status_code, content


def _transport_text(host: RemoteHost, exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return f"host {host.endpoint}: {type(exc).__name__}: {text}"


class RemotePlugin:
    """A plugin served by a plugin host: one async method per contract method.

    ``path`` is the plugin's route prefix on the host (``/v1/<contract>/<segment>``, as the
    host prints it and registers it in ``endpoint.path``). ``version`` is the contract version
    the remote plugin implements: methods of later minors are left out, so the gateway serves
    them from the contract's defaults as it would for a local plugin of that version.
    Attributes of its own start with ``_plugway_``; the contract's methods are plain attributes.
    """

    def __init__(
        self,
        contract: PluginContract[Any],
        host: RemoteHost,
        path: str,
        *,
        plugin_id: str | None = None,
        version: ContractVersion | str | None = None,
    ) -> None:
        implemented = contract.version if version is None else ContractVersion.parse(version)
        if implemented.major != contract.version.major:
            raise ValueError(
                f"remote plugin implements {implemented}, contract is {contract.version}"
            )
        self._plugway_host = host
        self._plugway_path = "/" + path.strip("/")
        self._plugway_id = plugin_id or self._plugway_path
        self._plugway_contract = contract
        codec = contract_codec(contract)
        for name, method in contract.methods.items():
            if method.added_in <= implemented.minor:
                self.__dict__[name] = self._method(codec.methods[name], method.hints)

    def _method(self, codec: MethodCodec, hints: Any) -> Callable[..., Awaitable[Any]]:
        host, plugin = self._plugway_host, self._plugway_id
        url = host.url(f"{self._plugway_path}/{codec.method}")
        name = codec.method
        decode = codec.decode_answer
        encode = codec.encode_call
        send = host.send
        passthrough = self._plugway_contract.passthrough

        async def call(ctx: SecurityContext, /, *args: Any, **kwargs: Any) -> Any:
            body = encode(plugin, ctx, args, kwargs)
            try:
                status, answer = await send(url, body)
            except httpx.HTTPError as exc:
                raise RemoteTransportError(plugin, name, _transport_text(host, exc)) from exc
            if status == 200:
                return decode(plugin, answer)
            error = WireError.from_json(answer, status)
            own = rebuild_contract_error(error, passthrough) if status == 422 else None
            if own is not None:
                own.add_note(f"raised by out-of-process plugin {plugin!r}, method {name!r}")
                raise own
            raise RemoteCallError(plugin, name, status, error)

        contract_method = self._plugway_contract.methods[name]
        call.__name__ = name
        call.__qualname__ = f"RemotePlugin.{name}"
        call.__signature__ = contract_method.signature  # type: ignore[attr-defined]
        call.__annotations__ = dict(hints)
        return call

    def __repr__(self) -> str:
        return f"<RemotePlugin {self._plugway_id} at {self._plugway_host.endpoint}>"
