"""The admin bearer token: how a route declares it, how a request is checked against it.

A route that changes state declares ``Security(ADMIN_BEARER)``. That declaration is what the
server's request guard (``_limits``) looks for to check the token before the body is read, and
what puts *Authorize* in ``/docs``; :func:`bearer_guard` is the same check as a dependency.

Safe default: with no token configured, guarded routes are refused (403) unless the operator said
``server.allow_unauthenticated_writes: true`` (:class:`AdminAccess`).

*Host tokens* are narrower: only a route that declares ``Security(HOST_BEARER)`` accepts them
besides the admin token -- the registration of entities, where a host may register plugin
instances and nothing else (:func:`host_caller` says which host is calling). There are two
kinds: the token of one launch of a supervised host (``HostCredentials``, generated per launch,
limited to that host's own plugins), and ``server.host_token``, which an operator sets for
hosts started by hand.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from plugway.modkit import ClientHub
from plugway.plugins._host_credentials import HostCredentials, HostLaunch
from plugway.server._problems import ProblemCode, ProblemError

__all__ = [
    "ADMIN_ACCESS_STATE",
    "ADMIN_BEARER",
    "HOST_BEARER",
    "AdminAccess",
    "bearer_guard",
    "bearer_matches",
    "host_caller",
    "host_credentials",
]

ADMIN_ACCESS_STATE = "plugway_admin_access"
"""``app.state`` attribute holding the app's :class:`AdminAccess` (set by ``create_app``)."""


class _AdminBearer(HTTPBearer):
    """``HTTPBearer`` that also enforces the app's :class:`AdminAccess`, so every route that
    declares ``Security(ADMIN_BEARER)`` is refused without the token, body or no body, whether
    or not its module calls :func:`bearer_guard` (an app without an ``AdminAccess`` in its state,
    such as a bare test app, is not enforced here)."""

    def __init__(self, *, host_token_too: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_token_too = host_token_too

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        access = getattr(request.app.state, ADMIN_ACCESS_STATE, None)
        if isinstance(access, AdminAccess):
            refusal = access.refusal(request.headers.get("authorization"), host=self.host_token_too)
            if refusal is not None:
                raise refusal
        return await super().__call__(request)


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``, in constant time.

    Compared as bytes: ``hmac.compare_digest`` refuses ``str`` with non-ASCII characters, and a
    client may send any octet. Header values arrive decoded as latin-1, so encoding them back
    gives the octets on the wire; the token is compared as its UTF-8 octets.
    """
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        offered = given.strip().encode("latin-1")
    except UnicodeEncodeError:  # not from the wire (an in-process caller): cannot match
        return False
    return hmac.compare_digest(offered, token.encode("utf-8"))


def _unauthorized() -> ProblemError:
    return ProblemError(
        401,
        ProblemCode.AUTH_UNAUTHORIZED,
        "this operation needs the admin bearer token (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """Who may use the routes that declare ``Security(ADMIN_BEARER)``.

    With ``token`` set, the bearer of that token. Without one, nobody (403, so a server started
    with a config file and no token is not open to anyone who can reach it), unless
    ``allow_unauthenticated_writes`` says everybody.
    """

    token: str | None
    allow_unauthenticated_writes: bool = False
    host_token: str | None = None
    launches: HostCredentials | None = None  # the tokens of supervised hosts' launches

    def refusal(self, authorization: str | None, *, host: bool = False) -> ProblemError | None:
        """The problem to answer a request with this ``Authorization`` header, or None; with
        ``host`` host tokens are accepted too (the route limits what they may do)."""
        if host and (
            (self.host_token is not None and bearer_matches(authorization, self.host_token))
            or (self.launches is not None and self.launches.launch_of(authorization) is not None)
        ):
            return None
        if self.token is not None:
            return None if bearer_matches(authorization, self.token) else _unauthorized()
        if self.allow_unauthenticated_writes:
            return None
        return ProblemError(
            403,
            ProblemCode.AUTH_NO_ADMIN_TOKEN,
            "no admin token is configured (server.admin_token), so changes are refused; set "
            "one, or server.allow_unauthenticated_writes: true to accept them from anyone",
        )


_BEARER_DESCRIPTION = (
    "The admin token: `Authorization: Bearer <token>` (embedded default: the file "
    "`admin-token` in the data folder). Registering entities also takes a host token "
    "(a supervised host's own, or `server.host_token`), for plugin instances only."
)
ADMIN_BEARER = _AdminBearer(
    auto_error=False, scheme_name="admin_token", description=_BEARER_DESCRIPTION
)
"""Declares the admin bearer token in OpenAPI (so ``/docs`` offers *Authorize*) and requires it.
Add it to a guarded route with ``Security(ADMIN_BEARER)``; :func:`bearer_guard` is the same
check for a given token."""


HOST_BEARER = _AdminBearer(
    host_token_too=True,
    auto_error=False,
    scheme_name="admin_token",
    description=_BEARER_DESCRIPTION,
)
"""``ADMIN_BEARER`` that also accepts host tokens; the route must call :func:`host_caller`
and limit such a caller to what a plugin host does."""


def host_credentials(hub: ClientHub) -> HostCredentials:
    """The server's one :class:`HostCredentials`, in ``hub`` (registered there on first use:
    ``serve`` does it before the modules start, so every gateway's supervisor issues from it)."""
    found = hub.try_get(HostCredentials)
    if found is None:
        found = HostCredentials()
        hub.register(HostCredentials, found)
    return found


def host_caller(
    request: Request,
    admin_token: str | None,
    host_token: str | None,
    launches: HostCredentials | None,
) -> HostLaunch | Literal["host_token"] | None:
    """Which host a request comes from: a supervised host's launch (by its own token), the
    shared ``host_token``, or None (the admin token, or no host token at all)."""
    authorization = request.headers.get("authorization")
    if admin_token is not None and bearer_matches(authorization, admin_token):
        return None
    launch = launches.launch_of(authorization) if launches is not None else None
    if launch is not None:
        return launch
    if host_token is not None and bearer_matches(authorization, host_token):
        return "host_token"
    return None


def bearer_guard(token: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency that requires ``Authorization: Bearer <token>`` when ``token`` is set.

    With ``token`` None the guard lets everything through: the operator chose no admin token.
    (On an app made by ``create_app``, a route that also declares ``Security(ADMIN_BEARER)`` is
    then refused before it runs, unless ``server.allow_unauthenticated_writes`` is true.)
    """

    def guard(request: Request) -> None:
        if token is None:
            return
        if not bearer_matches(request.headers.get("authorization"), token):
            raise _unauthorized()

    return guard
