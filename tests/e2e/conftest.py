"""Fixtures for end-to-end tests: a real ``plugway serve`` process per test.

``server_factory(config=None, env=None)`` returns an unstarted :class:`ServerProcess` rooted in
its own tmp folder (call ``.start()``); every process it made is stopped at teardown.
``server`` is one already started on the embedded default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _server_process import ServerFactory, ServerProcess


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    made: list[ServerProcess] = []

    def make(
        config: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> ServerProcess:
        root = tmp_path / f"srv{len(made)}"
        root.mkdir()
        srv = ServerProcess(root, config=config, env=env)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()


@pytest.fixture
def server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory().start()
