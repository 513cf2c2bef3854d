"""Choosing a backend from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ._backend import RegistryBackend
from ._errors import RegistryError
from ._memory import MemoryBackend
from ._sqlite import SqliteBackend


def open_backend(
    kind: Literal["memory", "sqlite", "postgresql"],
    path: Path | str | None = None,
    *,
    url: str | None = None,
) -> RegistryBackend:
    """``"memory"`` (nothing persisted), ``"sqlite"`` at ``path`` (created if missing) or
    ``"postgresql"`` at ``url`` (``postgresql://user:password@host:port/database``)."""
    if kind != "postgresql" and url is not None:
        raise RegistryError(
            f"a registry URL is only for the postgresql backend, not {kind!r} "
            "(set registry.backend: postgresql or drop registry.url)"
        )
    if kind == "memory":
        return MemoryBackend()
    if kind == "sqlite":
        if path is None:
            raise RegistryError("the sqlite registry backend needs a database path")
        return SqliteBackend(Path(path))
    if kind == "postgresql":
        if url is None:
            raise RegistryError(
                "the postgresql registry backend needs a URL (registry.url or "
                "PLUGWAY__REGISTRY__URL, e.g. postgresql://user@127.0.0.1:5432/plugway)"
            )
        from ._postgres import PostgresBackend  # psycopg is loaded only for this backend

        return PostgresBackend(url)
    raise RegistryError(
        f"unknown registry backend {kind!r}: expected 'memory', 'sqlite' or 'postgresql'"
    )
