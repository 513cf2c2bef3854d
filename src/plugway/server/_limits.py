"""The request guard: authentication before the body, a byte limit per route, a body timeout.

An ASGI middleware in front of every route of the app, so that nothing a client sends is parsed
before the server knows it may be:

- a route that declares ``Security(ADMIN_BEARER)`` has the admin token checked (see
  :class:`AdminAccess`) *before* its endpoint runs, i.e. before its body is read: an
  unauthenticated client cannot make the server parse 100 MB of JSON. The route is the one the
  app's router picked (``scope["route"]``, in place by the time the endpoint asks for its body:
  the checks run on that first ``receive``), so every module's guarded routes get this without
  code of their own and no route name is known here;
- a request body is limited to ``server.max_body_bytes``, or to the :class:`BodyLimit` that the
  route declares (``dependencies=[Depends(BodyLimit(...))]``). A ``Content-Length`` above the
  limit is refused up front; a chunked body is counted as it arrives and refused the moment it
  passes the limit (413), never buffered whole first;
- a client that stops sending a body it announced is answered 408 after ``body_timeout``.

Refusals are problem documents sent with ``Connection: close``: the rest of the body is never
read, so the connection cannot be reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plugway.server._auth import ADMIN_BEARER, HOST_BEARER, AdminAccess
from plugway.server._problems import ProblemCode, ProblemError, problem_response

__all__ = ["BodyLimit", "RequestGuard", "install_request_guard"]


class BodyLimit:
    """Declares a route's own body limit, for routes that take more (or less) than the default.

    ``bytes`` is a number or a function read at each request (a module's config is only known
    after ``init``)::

        @router.post("/bulk", dependencies=[Depends(BodyLimit(lambda: config.max_body_bytes))])
    """

    def __init__(self, limit: int | Callable[[], int]) -> None:
        self._limit = limit

    @property
    def bytes(self) -> int:
        return self._limit() if callable(self._limit) else self._limit

    async def __call__(self) -> None:
        """Nothing to do at request time: :class:`RequestGuard` enforces it (async, so FastAPI
        does not send it to a worker thread)."""


@dataclass(frozen=True, slots=True)
class _RouteRules:
    guarded: bool
    body_limit: BodyLimit | None
    host_token_too: bool  # the route takes the host token as well (it limits what it allows)


_NO_RULES = _RouteRules(guarded=False, body_limit=None, host_token_too=False)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _rules_of(route: BaseRoute) -> _RouteRules:
    if not isinstance(route, APIRoute):
        return _NO_RULES
    calls = list(_calls(route.dependant))
    limits = [c for c in calls if isinstance(c, BodyLimit)]
    return _RouteRules(
        guarded=any(c is ADMIN_BEARER or c is HOST_BEARER for c in calls),
        host_token_too=any(c is HOST_BEARER for c in calls),
        body_limit=limits[0] if limits else None,
    )


class _Refused(Exception):
    """Raised into the app from ``receive`` once the body is refused; the guard answers."""


@dataclass(slots=True)
class _Exchange:
    """What the guard knows about one request while the app runs."""

    limit: int
    received: int = 0
    body_done: bool = False
    refusal: ProblemError | None = None
    response_started: bool = False


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        ProblemCode.REQUEST_TOO_LARGE,
        f"the request body is larger than {limit} bytes, the most this route accepts",
        headers={"Connection": "close"},
    )


def _too_slow(timeout: float) -> ProblemError:
    return ProblemError(
        408,
        ProblemCode.REQUEST_TIMEOUT,
        f"the request body stopped arriving: nothing received for {timeout:g} seconds",
        headers={"Connection": "close"},
    )


class RequestGuard:
    """The ASGI middleware described in the module docstring; see :func:`install_request_guard`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access: AdminAccess,
        max_body_bytes: int,
        body_timeout: float | None = None,
    ) -> None:
        self.app = app
        self._access = access
        self._max_body = max_body_bytes
        self._body_timeout = body_timeout
        self._rules: dict[int, tuple[object, _RouteRules]] = {}

    def _route_rules(self, scope: Scope) -> _RouteRules:
        """The rules of the route the router picked for this request (none before routing)."""
        route = scope.get("route")
        if not isinstance(route, BaseRoute):
            return _NO_RULES
        cached = self._rules.get(id(route))
        if cached is None or cached[0] is not route:
            cached = (route, _rules_of(route))
            self._rules[id(route)] = cached
        return cached[1]

    def _admit(self, scope: Scope) -> tuple[int, ProblemError | None]:
        """At the first ``receive``: the body limit, or why the body must not be read at all."""
        rules = self._route_rules(scope)
        if rules.guarded:
            authorization = _header(scope, b"authorization")
            refusal = self._access.refusal(
                None if authorization is None else authorization.decode("latin-1"),
                host=rules.host_token_too,
            )
            if refusal is not None:
                refusal.headers.setdefault("Connection", "close")
                return 0, refusal
        limit = rules.body_limit.bytes if rules.body_limit is not None else self._max_body
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return limit, _too_large(limit)
        return limit, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ex = _Exchange(limit=-1)
        timeout = self._body_timeout

        async def counting_receive() -> Message:
            if ex.limit < 0:
                ex.limit, ex.refusal = self._admit(scope)
            if ex.refusal is not None:
                raise _Refused(ex.refusal.detail)
            if ex.body_done or timeout is None:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), timeout)
                except TimeoutError:
                    ex.refusal = _too_slow(timeout)
                    raise _Refused(ex.refusal.detail) from None
            if message["type"] == "http.request":
                ex.received += len(message.get("body", b""))
                if not message.get("more_body", False):
                    ex.body_done = True
                if ex.received > ex.limit:
                    ex.refusal = _too_large(ex.limit)
                    raise _Refused(ex.refusal.detail)
            return message

        async def guarded_send(message: Message) -> None:
            if ex.refusal is not None and not ex.response_started:
                return  # the app's answer to the refused body (often a 400): ours replaces it
            if message["type"] == "http.response.start":
                ex.response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if ex.refusal is None:
                raise
        if ex.refusal is not None and not ex.response_started:
            response = problem_response(ex.refusal, str(scope.get("path", "")) or None)
            await response(scope, receive, send)


def install_request_guard(
    app: FastAPI,
    *,
    access: AdminAccess,
    max_body_bytes: int,
    body_timeout: float | None = None,
) -> None:
    """Put :class:`RequestGuard` in front of ``app``'s routes (the rules of a route are read from
    the route the router picks, so routers included later are covered too)."""
    app.add_middleware(
        RequestGuard,
        access=access,
        max_body_bytes=max_body_bytes,
        body_timeout=body_timeout,
    )
