"""uvicorn's h11 protocol, with problem documents and the limits it lacks below the app.

- uvicorn answers a request h11 cannot parse (a malformed request line, a header block beyond
  ``h11_max_incomplete_event_size``) with a plain-text ``400 Invalid HTTP request received.``;
  plugway answers a problem document, ``431`` when it is the size of the headers. h11 enforces
  that size only while the head is incomplete, so a head that arrives whole in one read is
  measured here too.
- uvicorn has no time limit on receiving a request's head: ``timeout_keep_alive`` runs only
  between requests, and only after a first response, so a client that opens connections and
  sends nothing, or a header line per minute, keeps each connection (and its file descriptor)
  for ever. A timer per connection, armed while a request's head is awaited, closes it after
  ``header_timeout`` (``408`` if part of a head came).
- ``limit_concurrency`` answers a plain-text 503 beyond the limit; this protocol applies the same
  limit (connections or requests in progress) and answers a problem document.

Used through :class:`PlugwayConfig` (which carries ``header_timeout``) and
``http=PlugwayH11Protocol``.
"""

from __future__ import annotations

import asyncio
import http
import json
from collections.abc import Sequence
from typing import Any

import h11
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from plugway.server._problems import PROBLEM_CONTENT_TYPE, ProblemCode, ProblemError

__all__ = ["PlugwayConfig", "PlugwayH11Protocol", "raw_problem"]

# h11's own default for the largest incomplete event (the header block being received).
_H11_DEFAULT_MAX_EVENT = 16 * 1024


def raw_problem(
    status: int, code: str, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """A complete ``HTTP/1.1`` response carrying a problem document, ending the connection.

    For answers given before (or instead of) an ASGI request cycle, where there is no app to
    render them.
    """
    body = json.dumps(ProblemError(status, code, detail).to_dict(), separators=(",", ":"))
    data = body.encode("ascii")
    lines = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        f"content-type: {PROBLEM_CONTENT_TYPE}",
        f"content-length: {len(data)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + data


class PlugwayConfig(uvicorn.Config):
    """``uvicorn.Config`` plus ``header_timeout``: seconds a connection may take to deliver a
    request's line and headers (None: no limit, uvicorn's own behaviour)."""

    def __init__(self, *args: Any, header_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout


def _problem_app(
    status: int, code: str, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> Any:
    """A one-answer ASGI app, for refusals decided once a request's head has been parsed."""
    body = json.dumps(ProblemError(status, code, detail).to_dict(), separators=(",", ":"))
    data = body.encode("ascii")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode("ascii")),
                    (b"content-length", str(len(data)).encode("ascii")),
                    (b"connection", b"close"),
                    *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data, "more_body": False})

    return app


class PlugwayH11Protocol(H11Protocol):
    """One HTTP/1.1 connection: uvicorn's, with the head timeout, connection limit and problem
    documents described in the module docstring."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's own check would answer plain text: the same limit is applied in _admit.
        self._max_connections = self.limit_concurrency
        self.limit_concurrency = None
        self._inner_app = self.app
        self.app = self._admit
        timeout = getattr(config, "header_timeout", None)
        self._header_timeout: float | None = timeout
        self._head_timer: asyncio.TimerHandle | None = None

    @property
    def _max_header_bytes(self) -> int:
        size = self.config.h11_max_incomplete_event_size
        return _H11_DEFAULT_MAX_EVENT if size is None else size

    # -- the head timeout ----------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._header_timeout is not None and self._head_timer is None:
            self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # a new request's head starts arriving
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_timer()  # the head is complete (or refused)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a head came: say why the connection ends
            self.logger.warning(
                "request head not complete after %gs: closing", self._header_timeout
            )
            self.transport.write(
                raw_problem(
                    408,
                    ProblemCode.REQUEST_TIMEOUT,
                    f"the request line and headers did not arrive within "
                    f"{self._header_timeout:g} seconds",
                )
            )
        self.transport.close()

    # -- refusals once a head is parsed -------------------------------------------------------

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The connection limit and the exact header size, then the app."""
        limit = self._max_connections
        # This connection and this request's task are already counted, hence ">".
        if limit is not None and (len(self.connections) > limit or len(self.tasks) > limit):
            self.logger.warning("more than %d connections or requests at once: 503", limit)
            refuse = _problem_app(
                503,
                ProblemCode.SERVER_BUSY,
                f"the server is at its limit of {limit} connections; retry shortly",
                [("retry-after", "1")],
            )
            await refuse(scope, receive, send)
            return
        size = len(scope["raw_path"]) + len(scope["query_string"])
        size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if size > self._max_header_bytes:
            refuse = _problem_app(
                431,
                ProblemCode.REQUEST_HEADERS_TOO_LARGE,
                f"the request line and headers exceed {self._max_header_bytes} bytes",
            )
            await refuse(scope, receive, send)
            return
        await self._inner_app(scope, receive, send)

    def send_400_response(self, msg: str) -> None:
        """h11 refused the bytes received (uvicorn has logged it): say why, then close."""
        self._disarm_head_timer()
        if len(self.conn.trailing_data[0]) > self._max_header_bytes:
            data = raw_problem(
                431,
                ProblemCode.REQUEST_HEADERS_TOO_LARGE,
                f"the request line and headers exceed {self._max_header_bytes} bytes",
            )
        else:
            data = raw_problem(
                400,
                ProblemCode.REQUEST_MALFORMED,
                "the request is not valid HTTP/1.1 (request line or header fields malformed)",
            )
        self.transport.write(data)
        self.transport.close()
