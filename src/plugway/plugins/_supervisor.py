"""The supervised plugin hosts of one gateway: which to launch, when, and with what.

A gateway's settings name its hosts (``plugins.gateways.<gw>.hosts``, or a plugin entry
switched to ``out_of_process: true``; a rescan may add or remove one while serving). Once the
server has an address (its URL is in the hub as :class:`ServerAddress`), :class:`Supervisor`
launches each one as a :class:`~._supervised_host.SupervisedHost`, which keeps it running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ._host_credentials import GatewayHosts
from ._settings import HostSettings
from ._supervised_host import HostStatus, SupervisedHost

__all__ = ["ServerAddress", "Supervisor"]

_WAIT_FOR_ADDRESS = 0.05


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """The URL this server serves on (registered in the hub by ``plugway serve``)."""

    url: str


class Supervisor:
    """The supervised hosts of one gateway (see the module docstring)."""

    def __init__(
        self,
        hosts: Sequence[HostSettings],
        *,
        on_ready: Callable[[str, str, str], None],
        on_exit: Callable[[str, str], None] | None = None,
        credentials: GatewayHosts | None,
        address: Callable[[], ServerAddress | None],
        plugin_configs: Mapping[str, Mapping[str, Any]] | None = None,
        config_dir: Path | None = None,
    ) -> None:
        self._settings = list(hosts)
        self._on_ready = on_ready
        self._on_exit = on_exit
        self._credentials = credentials
        self._address = address
        self._configs = dict(plugin_configs or {})
        self._config_dir = config_dir
        self.hosts: list[SupervisedHost] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stops: set[asyncio.Task[None]] = set()  # hosts removed while serving, stopping

    def start(self) -> None:
        """Launch the hosts once the server has an address (in a task: never blocks)."""
        self._loop = asyncio.get_running_loop()
        self._launch_pending()

    def add(self, settings: HostSettings, plugin_configs: Mapping[str, Any] | None = None) -> None:
        """Supervise one more host (a plugin that a rescan found); from any thread."""
        self._on_loop(self._add, settings, dict(plugin_configs or {}))

    def remove(self, name: str) -> None:
        """Stop and forget the host ``name`` (its plugin's package is gone); from any thread."""
        self._on_loop(self._remove, name)

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            raise RuntimeError("the supervisor has not started")
        self._loop.call_soon_threadsafe(fn, *args)

    def _add(self, settings: HostSettings, plugin_configs: dict[str, Any]) -> None:
        if any(s.name == settings.name for s in self._settings):
            return
        self._configs.update(plugin_configs)
        self._settings.append(settings)
        self._launch_pending()

    def _remove(self, name: str) -> None:
        assert self._loop is not None
        self._settings = [s for s in self._settings if s.name != name]
        for host in [h for h in self.hosts if h.name == name]:
            self.hosts.remove(host)
            if self._credentials is not None:
                self._credentials.forget(name)
            stopping = self._loop.create_task(host.stop(), name=f"stop plugin host {name}")
            self._stops.add(stopping)
            stopping.add_done_callback(self._stops.discard)

    def _launch_pending(self) -> None:
        """Launch the hosts not launched yet, unless a launch task is on its way already (it
        waits for the server's address, then launches every host listed by then)."""
        launched = {h.name for h in self.hosts}
        pending = [s for s in self._settings if s.name not in launched]
        if pending and self._loop is not None and (self._task is None or self._task.done()):
            self._task = self._loop.create_task(self._launch_all(), name="plugin-host supervisor")

    async def _launch_all(self) -> None:
        address = self._address()
        while address is None:
            await asyncio.sleep(_WAIT_FOR_ADDRESS)
            address = self._address()
        launched = {h.name for h in self.hosts}
        for settings in self._settings:  # nothing awaited here: no host is added meanwhile
            if settings.name in launched:
                continue
            host = SupervisedHost(
                settings,
                registry_url=address.url,
                credentials=self._credentials,
                on_ready=self._on_ready,
                on_exit=self._on_exit,
                plugin_config=self._config_file(settings),
            )
            self.hosts.append(host)
            host.start()

    def _config_file(self, settings: HostSettings) -> Path | None:
        configs = {ep: self._configs[ep] for ep in settings.entry_point if ep in self._configs}
        if not configs or self._config_dir is None:
            return None
        self._config_dir.mkdir(parents=True, exist_ok=True)
        path = self._config_dir / f"{settings.name}.yaml"
        path.write_text(yaml.safe_dump(configs), encoding="utf-8")
        path.chmod(0o600)
        return path

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await asyncio.gather(
            *(h.stop() for h in self.hosts), *list(self._stops), return_exceptions=True
        )

    def status(self) -> list[HostStatus]:
        """Every host, the ones not launched yet (no server address so far) as ``starting``."""
        launched = {h.name: h.status() for h in list(self.hosts)}
        return [
            launched.get(s.name) or HostStatus(s.name, "starting", None, None, 0, None, None)
            for s in self._settings
        ]
