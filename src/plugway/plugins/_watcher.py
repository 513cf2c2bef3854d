"""The config file watcher: one per process, for every gateway.

It polls the file's stamp (mtime, size, inode) and, when it changes, reads the file with the
start-up loader (``plugway.modkit.load_settings``): duplicate YAML keys are refused and
``PLUGWAY__…`` environment overrides apply on a reload exactly as they did at start-up, so the
routing a gateway serves never depends on whether it came from a start or a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from plugway.modkit import ConfigError, load_settings

from ._settings import PluginsSettings, parse_plugins_settings
from .errors import RoutingConfigError

__all__ = ["ConfigReading", "ConfigWatcher"]

_log = logging.getLogger("plugway.plugins.watcher")

_Stamp = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class ConfigReading:
    """One read of the config file: its ``plugins`` section, or why the file was refused."""

    path: Path
    settings: PluginsSettings | None
    error: str | None = None


def _stamp(path: Path) -> _Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ConfigWatcher:
    """Reads the config file again whenever it changes on disk.

    ``env`` is the environment whose ``PLUGWAY__…`` overrides apply (default: ``os.environ``,
    as at start-up). The stamp is taken at construction: the file as it was at start-up is not
    "a change".
    """

    def __init__(
        self, path: Path, *, interval: float, env: Mapping[str, str] | None = None
    ) -> None:
        self.path = path
        self.interval = interval
        self._env = None if env is None else dict(env)
        self._stamp = _stamp(path)

    def poll(self) -> ConfigReading | None:
        """Read the file if its stamp changed since the last poll; None when it did not.

        Never raises on bad input: an unreadable or invalid file is a reading with ``error``.
        """
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return None
        self._stamp = stamp
        return self.read()

    def read(self) -> ConfigReading:
        """Read and validate the file now, as the server does at start-up."""
        try:
            settings = load_settings(self.path, self._env)
            plugins = parse_plugins_settings(settings.plugins)
        except ConfigError as exc:
            problems = "; ".join(str(p) for p in exc.problems)
            return ConfigReading(self.path, None, f"{self.path}: refused: {problems}")
        except RoutingConfigError as exc:
            return ConfigReading(self.path, None, f"{self.path}: refused: {exc}")
        return ConfigReading(self.path, plugins)

    async def run(self, stop: asyncio.Event, on_change: Callable[[ConfigReading], None]) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set; hand each change over.

        The file is read in a worker thread; ``on_change`` runs on the event loop.
        """
        _log.info("watching %s every %gs for routing edits", self.path, self.interval)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            if stop.is_set():
                return
            reading = await asyncio.to_thread(self.poll)
            if reading is None:
                continue
            try:
                on_change(reading)
            except Exception:  # one bad apply must not end the watching
                _log.exception("applying %s failed", self.path)
