"""Only the configured host names are served: a defence against DNS rebinding.

A web page on a hostile site can make a browser resolve its own name to ``127.0.0.1`` and then
talk to a plugway on the user's machine; the only trace is the foreign ``Host`` header. By
default ``plugway serve`` answers only ``localhost``, ``127.0.0.1``, ``::1`` and the address it
binds (``server.allowed_hosts`` widens it; ``*`` allows every name, ``*.example.com`` a domain
and its subdomains). Anything else is a ``421`` problem document (Starlette's
``TrustedHostMiddleware`` answers plain text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from plugway.server._problems import ProblemCode, ProblemError, problem_response

__all__ = ["LOCAL_HOSTS", "HostGuard", "allowed_hosts", "host_name"]

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})


def allowed_hosts(configured: Sequence[str] | None, bind_host: str) -> tuple[str, ...]:
    """The names to serve: ``configured`` if given, else the local names and ``bind_host``
    (unless it is a wildcard address, which is no name a client would use)."""
    if configured is not None:
        return tuple(configured)
    names = list(LOCAL_HOSTS)
    bind = bind_host.strip("[]").lower()
    if bind not in _WILDCARD_BINDS and bind not in names:
        names.append(bind)
    return tuple(names)


def host_name(header: str) -> str:
    """The name in a ``Host`` header: no port, no IPv6 brackets, lower case, no final dot."""
    value = header.strip().lower()
    if value.startswith("["):
        name, _, _ = value[1:].partition("]")
    elif value.count(":") == 1:
        name = value.partition(":")[0]
    else:
        name = value  # a bare name, or an unbracketed IPv6 address
    return name.rstrip(".")


class HostGuard:
    """ASGI middleware answering ``421`` to a request whose ``Host`` is not allowed."""

    def __init__(self, app: ASGIApp, *, hosts: Iterable[str]) -> None:
        self.app = app
        names = {h.lower().rstrip(".") for h in hosts}
        self._any = "*" in names
        self._suffixes = tuple(n[1:] for n in names if n.startswith("*."))  # ".example.com"
        self._exact = frozenset(n for n in names if not n.startswith("*"))
        shown = sorted(names)
        self._shown = ", ".join(shown[:10]) + (", ..." if len(shown) > 10 else "")

    def allows(self, header: str | None) -> bool:
        if self._any:
            return True
        if not header:
            return False
        name = host_name(header)
        return name in self._exact or any(name.endswith(s) or name == s[1:] for s in self._suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._any:
            await self.app(scope, receive, send)
            return
        header = None
        for key, value in scope["headers"]:
            if key == b"host":
                header = value.decode("latin-1")
                break
        if self.allows(header):
            await self.app(scope, receive, send)
            return
        given = "no Host header" if not header else f"Host {host_name(header)!r}"
        problem = ProblemError(
            421,
            ProblemCode.REQUEST_HOST_NOT_ALLOWED,
            f"{given} is not served here (allowed: {self._shown}; see server.allowed_hosts)",
        )
        response = problem_response(problem, str(scope.get("path", "")) or None)
        await response(scope, receive, send)
