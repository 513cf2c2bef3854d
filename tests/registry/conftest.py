"""Fixtures: every registry test runs on both backends (SQLite on a real file)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugway.registry import TypesRegistry, open_backend


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeRegistry = Callable[[], TypesRegistry]


@pytest.fixture
def make_registry(kind: str, tmp_path: Path) -> Iterator[MakeRegistry]:
    """Opens a registry on the test's backend; SQLite reopens the same real file each time."""
    opened: list[TypesRegistry] = []

    def make() -> TypesRegistry:
        backend = (
            open_backend("sqlite", tmp_path / "registry.db")
            if kind == "sqlite"
            else (open_backend("memory"))
        )
        reg = TypesRegistry(backend)
        opened.append(reg)
        return reg

    yield make
    for reg in opened:
        reg.close()


@pytest.fixture
def registry(make_registry: MakeRegistry) -> TypesRegistry:
    return make_registry()
