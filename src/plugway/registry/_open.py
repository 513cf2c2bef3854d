"""Choosing a backend from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ._backend import RegistryBackend
from ._errors import RegistryError
from ._memory import MemoryBackend
from ._sqlite import SqliteBackend


def open_backend(
    kind: Literal["memory", "sqlite"], path: Path | str | None = None
) -> RegistryBackend:
    """``"memory"`` (nothing persisted) or ``"sqlite"`` at ``path`` (created if missing)."""
    if kind == "memory":
        return MemoryBackend()
    if kind == "sqlite":
        if path is None:
            raise RegistryError("the sqlite registry backend needs a database path")
        return SqliteBackend(Path(path))
    raise RegistryError(f"unknown registry backend {kind!r}: expected 'memory' or 'sqlite'")
