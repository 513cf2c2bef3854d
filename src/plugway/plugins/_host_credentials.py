"""Who a supervised plugin host is: the token of its launch, and the plugins it has claimed.

Each launch of a supervised host gets a token of its own (``PLUGWAY_TOKEN``). The token works
on this server, while that launch runs, and for nothing but registering that host's plugin
instances. The registry route (``modules/types_registry``) asks :meth:`HostLaunch.admit`
about every item a launch registers. An item passes only when it is an instance of the host's
gateway's contract and is served at the launch's own URL. Its plugin id must also be free: not
claimed by another host here, and not stored as registered by the admin or by another host.
A passing item is stamped with the host's name (``endpoint.host``). A gateway calls a launch
here only for instances stamped with that launch's name (``RemotePool``). So a host cannot take
over another's plugins, whatever it sends.

A token is looked up by its SHA-256 digest, so the lookup time tells nothing about the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["DEFAULT_MAX_PLUGINS", "GatewayHosts", "HostCredentials", "HostLaunch"]

DEFAULT_MAX_PLUGINS = 64  # plugin ids one supervised host may hold (HostSettings.max_plugins)
_POLL = 0.02  # seconds between looks for a launch's handshake
HOST_FIELD = "host"  # endpoint.host: the supervised host that registered an instance


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


@dataclass(frozen=True, slots=True)
class HostLaunch:
    """One running launch of a supervised host, as its token identifies it.

    ``host`` is ``<gateway>/<name>``. ``type_id`` is the gateway's contract: every instance the
    launch registers must be of it. ``url`` is where the launch listens, known from its
    handshake (None until the supervisor has read that). ``max_plugins`` bounds the plugin ids
    the host may hold, so a runaway host cannot fill the registry and the routing.
    """

    host: str
    type_id: str
    url: str | None
    max_plugins: int
    _owner: HostCredentials

    def admit(self, doc: Any, stored: Mapping[str, Any] | None) -> str | None:
        """Admit ``doc`` for this launch, claiming its plugin id (None), or say why not.

        ``stored`` is the registry's current document for the same id, if it holds one.
        """
        plugin_id = doc.get("id") if isinstance(doc, Mapping) else None
        if not isinstance(plugin_id, str) or not plugin_id.startswith(self.type_id):
            return (
                f"supervised host {self.host} registers instances of its gateway's contract "
                f"({self.type_id}...) only"
            )
        endpoint = doc.get("endpoint")
        url = endpoint.get("url") if isinstance(endpoint, Mapping) else None
        if url != self.url:
            return (
                f"endpoint.url must be the URL supervised host {self.host} listens on "
                f"({self.url}), not {url!r}"
            )
        if stored is not None:
            stored_endpoint = stored.get("endpoint")
            by = stored_endpoint.get(HOST_FIELD) if isinstance(stored_endpoint, Mapping) else None
            if by is None:
                return (
                    f"{plugin_id} is registered by the admin or by a host started by hand, not "
                    "by a supervised host: remove it with the admin token first"
                )
            if by != self.host and self._owner.known(str(by)):
                return f"{plugin_id} is served by supervised host {by}"
        return self._owner.claim(plugin_id, self.host, self.max_plugins)

    def stamped(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """``doc`` with ``endpoint.host`` set to this host (once :meth:`admit` said None)."""
        endpoint = dict(doc["endpoint"])
        endpoint[HOST_FIELD] = self.host
        return {**doc, "endpoint": endpoint}


class HostCredentials:
    """The tokens of this server's supervised host launches (see the module docstring); one
    per server, shared by every gateway's supervisor and the registry route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._launches: dict[bytes, HostLaunch] = {}  # token digest -> launch
        self._digest_of: dict[str, bytes] = {}  # host -> its running launch's token digest
        self._known: set[str] = set()  # hosts supervised here, launched or between launches
        self._claims: dict[str, str] = {}  # plugin id -> host that registered it here
        self._held: dict[str, set[str]] = {}  # host -> the plugin ids it claimed (the inverse)

    def gateway(self, gateway: str, type_id: str) -> GatewayHosts:
        """The view one gateway's supervisor uses for its hosts."""
        return GatewayHosts(self, gateway, type_id)

    def launch_of(self, authorization: str | None) -> HostLaunch | None:
        """The launch whose token this ``Authorization`` header carries, if any."""
        token = _bearer(authorization)
        if token is None:
            return None
        with self._lock:
            return self._launches.get(_digest(token))

    async def wait_listening(
        self, authorization: str | None, *, within: float
    ) -> HostLaunch | None:
        """The launch of this token once its handshake was read (its ``url`` is set), waiting up
        to ``within`` seconds; None when the token is not, or no longer, a launch's."""
        deadline = time.monotonic() + within
        while True:
            launch = self.launch_of(authorization)
            if launch is None or launch.url is not None or time.monotonic() >= deadline:
                return launch
            await asyncio.sleep(_POLL)

    def known(self, host: str) -> bool:
        """Whether ``host`` is supervised by this server now (running or to be relaunched)."""
        with self._lock:
            return host in self._known

    def claim(self, plugin_id: str, host: str, max_plugins: int) -> str | None:
        """Let ``host`` hold ``plugin_id`` here (None), or say why not: another host got it
        first, or ``host`` holds ``max_plugins`` ids already."""
        with self._lock:
            owner = self._claims.get(plugin_id)
            if owner == host:
                return None
            if owner is not None:
                return f"{plugin_id} is served by supervised host {owner}"
            held = self._held.setdefault(host, set())
            if len(held) >= max_plugins:
                return (
                    f"supervised host {host} holds {len(held)} plugin ids already, its "
                    f"max_plugins: {plugin_id} is not registered"
                )
            self._claims[plugin_id] = host
            held.add(plugin_id)
            return None

    def _issue(self, host: str, type_id: str, max_plugins: int) -> str:
        token = secrets.token_urlsafe(32)
        digest = _digest(token)
        with self._lock:
            old = self._digest_of.pop(host, None)
            if old is not None:
                self._launches.pop(old, None)
            self._launches[digest] = HostLaunch(host, type_id, None, max_plugins, self)
            self._digest_of[host] = digest
            self._known.add(host)
        return token

    def _listening(self, host: str, url: str) -> None:
        with self._lock:
            digest = self._digest_of.get(host)
            if digest is not None:
                self._launches[digest] = replace(self._launches[digest], url=url)

    def _ended(self, host: str) -> None:
        with self._lock:
            digest = self._digest_of.pop(host, None)
            if digest is not None:
                self._launches.pop(digest, None)

    def _forget(self, host: str) -> None:
        self._ended(host)
        with self._lock:
            self._known.discard(host)
            for plugin_id in self._held.pop(host, ()):
                del self._claims[plugin_id]


class GatewayHosts:
    """One gateway's side of :class:`HostCredentials`: a host is named as in its settings."""

    __slots__ = ("_credentials", "gateway", "type_id")

    def __init__(self, credentials: HostCredentials, gateway: str, type_id: str) -> None:
        self._credentials = credentials
        self.gateway = gateway
        self.type_id = type_id

    def ref(self, name: str) -> str:
        """The host as the registry's ``endpoint.host`` names it."""
        return f"{self.gateway}/{name}"

    def issue(self, name: str, *, max_plugins: int = DEFAULT_MAX_PLUGINS) -> str:
        """A token for a new launch of host ``name``, which may hold up to ``max_plugins``
        plugin ids; the previous launch's token stops working."""
        return self._credentials._issue(self.ref(name), self.type_id, max_plugins)

    def listening(self, name: str, url: str) -> None:
        """The launch of ``name`` handshook: it listens at ``url``."""
        self._credentials._listening(self.ref(name), url)

    def ended(self, name: str) -> None:
        """The launch of ``name`` exited: its token stops working (the host is still ours)."""
        self._credentials._ended(self.ref(name))

    def forget(self, name: str) -> None:
        """Host ``name`` is no longer supervised: its token and its claims go."""
        self._credentials._forget(self.ref(name))
