"""Fixtures: every registry test runs on every backend (SQLite on a real file, PostgreSQL on a
real server, a fresh schema per test; see ``tests/_postgres.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugway.registry import TypesRegistry, open_backend


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeRegistry = Callable[[], TypesRegistry]


@pytest.fixture
def make_registry(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MakeRegistry]:
    """Opens a registry on the test's backend; SQLite reopens the same real file each time,
    PostgreSQL the same schema."""
    opened: list[TypesRegistry] = []
    url = str(request.getfixturevalue("postgres_url")) if kind == "postgresql" else None

    def make() -> TypesRegistry:
        if kind == "sqlite":
            backend = open_backend("sqlite", tmp_path / "registry.db")
        elif kind == "postgresql":
            backend = open_backend("postgresql", url=url)
        else:
            backend = open_backend("memory")
        reg = TypesRegistry(backend)
        opened.append(reg)
        return reg

    yield make
    for reg in opened:
        reg.close()


@pytest.fixture
def registry(make_registry: MakeRegistry) -> TypesRegistry:
    return make_registry()
