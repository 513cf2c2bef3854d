"""The out-of-process plugins of one gateway, as the registry describes them.

An instance document with an ``endpoint`` (``{url, path, protocol, heartbeat_s, ttl_s}``) and
a ``contract_version``, and no implementation in the ClientHub, is a plugin served by a plugin
host. :class:`RemotePool` turns it into a :class:`RemotePlugin` (kept while the document stays
the same), shares one :class:`RemoteHost` -- one connection pool -- per endpoint URL, closes it
when the last plugin of that URL leaves, and has the host probed (:class:`HostLiveness`): the
plugins of a host that is down are left out of the routing until it answers again.

The secret sent to a host: the one a supervisor generated for it (:meth:`launched`), else
``remote_secrets[url]``, ``remote_secrets[plugin id]``, ``remote_secret``, and last
``$PLUGWAY_PLUGIN_SECRET`` of this process.

A plugin that a host launched here serves is always called there, whatever endpoint the
registry holds: in a fleet every replica launches its own copy of the hosts in its config (with
a secret of its own), and the registry keeps whichever copy registered last. A launch here
serves a plugin when the instance is at the launch's URL *and* stamped with its host's name
(``endpoint.host``, which the registry route sets from the launch's own token): a host cannot
make this replica send it another host's calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._contract import ContractVersion, PluginContract
from ._host_credentials import HOST_FIELD
from ._liveness import HostLiveness
from ._remote import RemoteHost, RemotePlugin
from ._wire import PROTOCOL
from .errors import PluginContractError, PluginVersionError

__all__ = ["Endpoint", "RemoteHostStatus", "RemotePool"]

SECRET_ENV = "PLUGWAY_PLUGIN_SECRET"
_DEFAULT_HEARTBEAT = 5.0

_log = logging.getLogger("plugway.plugins.remote")


@dataclass(frozen=True, slots=True)
class RemoteHostStatus:
    """A plugin host a gateway calls, as its probes see it (``/health``)."""

    url: str
    state: Literal["up", "down"]
    plugins: tuple[str, ...]
    last_answer_s: float  # seconds since it last answered a probe (or since first seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state": self.state,
            "plugins": list(self.plugins),
            "last_answer_s": round(self.last_answer_s, 3),
        }


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The ``endpoint`` of an instance document (the registry's schema checked its form)."""

    url: str
    path: str
    protocol: str
    heartbeat_s: float
    ttl_s: float

    @classmethod
    def from_document(cls, plugin_id: str, doc: Mapping[str, Any]) -> Endpoint:
        raw = doc.get("endpoint")
        if not isinstance(raw, Mapping):
            raise PluginContractError(plugin_id, None, "field 'endpoint' must be an object")
        url, path, protocol = raw.get("url"), raw.get("path"), raw.get("protocol")
        if not (isinstance(url, str) and isinstance(path, str) and isinstance(protocol, str)):
            raise PluginContractError(plugin_id, None, "endpoint needs url, path and protocol")
        if protocol != PROTOCOL:
            raise PluginContractError(
                plugin_id, None, f"endpoint protocol {protocol!r} is not {PROTOCOL!r}"
            )
        heartbeat = float(raw.get("heartbeat_s") or _DEFAULT_HEARTBEAT)
        ttl = float(raw.get("ttl_s") or 3 * heartbeat)
        return cls(url, path, protocol, heartbeat, ttl)


class RemotePool:
    """Remote plugins and hosts of one gateway (see the module docstring)."""

    def __init__(
        self,
        contract: PluginContract[Any],
        *,
        gateway: str,
        secrets: Mapping[str, str] | None = None,
        default_secret: str | None = None,
    ) -> None:
        self.contract = contract
        self.gateway = gateway
        self._secrets = dict(secrets or {})
        self._default_secret = default_secret or os.environ.get(SECRET_ENV) or None
        self._supervised: dict[str, tuple[str, str]] = {}  # launch URL -> (secret, host)
        self._own: dict[str, tuple[str, str]] = {}  # plugin id -> (URL, host) of its launch here
        self._hosts: dict[str, RemoteHost] = {}
        self._plugins: dict[str, tuple[tuple[Any, ...], RemotePlugin]] = {}
        self._lock = threading.Lock()
        self.liveness = HostLiveness(name=f"gateway {gateway}")
        self._closing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop, on_change: Any) -> None:
        """Probe the hosts from now on; ``on_change()`` when one goes down or comes back."""
        self._loop = loop
        self.liveness.start(loop, on_change)

    # -- secrets ----------------------------------------------------------------------------------

    def secret_for(self, url: str, plugin_id: str) -> str | None:
        launch = self._supervised.get(url)
        return (
            (launch[0] if launch is not None else None)
            or self._secrets.get(url)
            or self._secrets.get(plugin_id)
            or self._default_secret
        )

    def launched(self, url: str, secret: str, host: str) -> None:
        """A supervisor's launch of ``host`` listens at ``url``, with the secret it generated."""
        with self._lock:
            self._supervised[url] = (secret, host)
            remote = self._hosts.get(url)
        if remote is not None:
            remote.set_secret(secret)

    # -- plugins ----------------------------------------------------------------------------------

    def plugin(self, plugin_id: str, doc: Mapping[str, Any]) -> tuple[RemotePlugin | None, str]:
        """(the plugin of an instance document or None while its host is down, its version);
        PluginContractError for an endpoint it cannot use, PluginVersionError for another
        MAJOR of the contract."""
        endpoint = Endpoint.from_document(plugin_id, doc)
        raw_version = doc.get("contract_version")
        try:
            version = (
                self.contract.version
                if raw_version is None
                else ContractVersion.parse(str(raw_version))
            )
        except ValueError as exc:
            raise PluginContractError(plugin_id, None, str(exc)) from None
        if version.major != self.contract.version.major:
            raise PluginVersionError(
                plugin_id,
                f"implements contract {version}, the gateway's is {self.contract.version} "
                "(another MAJOR)",
            )
        raw_endpoint = doc.get("endpoint")
        stamp = raw_endpoint.get(HOST_FIELD) if isinstance(raw_endpoint, Mapping) else None
        with self._lock:
            launch = self._supervised.get(endpoint.url)
            owner = self._own.get(plugin_id)
            if (
                launch is not None
                and stamp == launch[1]
                and (owner is None or owner[1] == stamp)  # first come, or the same host again
            ):
                self._own[plugin_id] = (endpoint.url, stamp)  # a host launched here serves it
            elif owner is not None:
                # another replica registered its copy of a host this one launches too (the
                # registry keeps the endpoint registered last), or a launch of another host
                # here claims it: call the launch here that has it
                endpoint = dataclasses.replace(endpoint, url=owner[0])
            key = (endpoint.url, endpoint.path, str(version))
            host = self._hosts.get(endpoint.url)
            if host is None:
                secret = self.secret_for(endpoint.url, plugin_id)
                host = self._hosts[endpoint.url] = RemoteHost(endpoint.url, secret=secret)
            cached = self._plugins.get(plugin_id)
            if cached is not None and cached[0] == key:
                plugin = cached[1]
            else:
                plugin = RemotePlugin(
                    self.contract, host, endpoint.path, plugin_id=plugin_id, version=version
                )
                self._plugins[plugin_id] = (key, plugin)
        self.liveness.watch(host, heartbeat_s=endpoint.heartbeat_s, ttl_s=endpoint.ttl_s)
        if self.liveness.is_down(endpoint.url):
            return None, str(version)
        return plugin, str(version)

    def retain(self, plugin_ids: set[str]) -> None:
        """Keep only these plugins; close the hosts none of them uses any more."""
        with self._lock:
            for gone in set(self._plugins) - plugin_ids:
                del self._plugins[gone]
                self._own.pop(gone, None)
            used = {key[0] for key, _ in self._plugins.values()}
            unused = [self._hosts.pop(url) for url in list(self._hosts) if url not in used]
        for host in unused:
            _log.info("gateway %s: plugin host %s has no plugin left", self.gateway, host)
            self.liveness.forget(host.endpoint)
            self._close_later(host)

    def status(self) -> list[RemoteHostStatus]:
        """The hosts this gateway calls that no supervisor launched (started by hand, or by
        another replica), by URL: up or down, and the plugins each serves."""
        with self._lock:
            served: dict[str, list[str]] = {}
            for plugin_id, (key, _) in self._plugins.items():
                if key[0] not in self._supervised:  # any launch's address, an exited one's too
                    served.setdefault(key[0], []).append(plugin_id)
        out = []
        for url in sorted(served):
            seen = self.liveness.state(url)
            down, age = seen if seen is not None else (False, 0.0)
            state: Literal["up", "down"] = "down" if down else "up"
            out.append(RemoteHostStatus(url, state, tuple(sorted(served[url])), age))
        return out

    def hosts(self) -> dict[str, RemoteHost]:
        with self._lock:
            return dict(self._hosts)

    def _close_later(self, host: RemoteHost) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def close() -> None:
            task = loop.create_task(host.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            close()
        else:
            loop.call_soon_threadsafe(close)

    async def aclose(self) -> None:
        """Stop probing and close every host's connections (at shutdown)."""
        await self.liveness.aclose()
        with self._lock:
            hosts = list(self._hosts.values())
            self._hosts.clear()
            self._plugins.clear()
        for host in hosts:
            with contextlib.suppress(Exception):
                await host.aclose()
        for task in list(self._closing):
            with contextlib.suppress(Exception):
                await task
