"""Settings resolution for ``serve``: the embedded default, the token file, overrides, binding."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from plugway.modkit import ConfigError, Module, ModuleContext, Runtime, module, parse_settings
from plugway.server import ADMIN_TOKEN_FILE, ServeError, load_or_create_token, resolve_settings
from plugway.server._serve import _bind, _start


def test_embedded_default_uses_the_data_dir_env_and_makes_a_token(tmp_path: Path) -> None:
    data = tmp_path / "d"
    prepared = resolve_settings(None, {"PLUGWAY_DATA_DIR": str(data)})
    assert prepared.embedded
    assert prepared.settings.data_dir == data.resolve()
    assert data.is_dir()
    assert prepared.settings.registry.backend == "sqlite"
    assert prepared.settings.registry_path == data.resolve() / "registry.sqlite3"
    token = prepared.settings.server.admin_token
    assert token and len(token) >= 32
    assert prepared.token_file == data.resolve() / ADMIN_TOKEN_FILE
    assert (data / ADMIN_TOKEN_FILE).read_text().strip() == token
    assert (data / ADMIN_TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    assert prepared.token_created  # the one start whose log shows the token
    # A restart keeps the token.
    again = resolve_settings(None, {"PLUGWAY_DATA_DIR": str(data)})
    assert again.settings.server.admin_token == token
    assert not again.token_created


def test_embedded_default_data_dir_is_dot_plugway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prepared = resolve_settings(None, {})
    assert prepared.settings.data_dir == tmp_path.resolve() / ".plugway"
    assert (tmp_path / ".plugway" / ADMIN_TOKEN_FILE).exists()


def test_configured_token_wins_and_nothing_is_generated(tmp_path: Path) -> None:
    env = {"PLUGWAY_DATA_DIR": str(tmp_path), "PLUGWAY__SERVER__ADMIN_TOKEN": "tok"}
    prepared = resolve_settings(None, env)
    assert prepared.settings.server.admin_token == "tok"
    assert prepared.token_file is None
    assert not (tmp_path / ADMIN_TOKEN_FILE).exists()


def test_config_file_without_token_runs_without_one(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'x'}\nserver:\n  port: 9999\n")
    prepared = resolve_settings(config, {}, host="0.0.0.0", port=1234)
    assert not prepared.embedded
    assert prepared.settings.server.admin_token is None
    assert (prepared.settings.server.host, prepared.settings.server.port) == ("0.0.0.0", 1234)
    assert (tmp_path / "x").is_dir()


def test_invalid_config_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  port: high\n")
    with pytest.raises(ConfigError, match=r"server\.port"):
        resolve_settings(config, {})


def test_token_file_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / ADMIN_TOKEN_FILE).mkdir()
    with pytest.raises(ServeError, match=ADMIN_TOKEN_FILE):
        load_or_create_token(tmp_path)


def test_empty_token_file_is_refilled(tmp_path: Path) -> None:
    (tmp_path / ADMIN_TOKEN_FILE).write_text("\n")
    token = load_or_create_token(tmp_path)
    assert token and (tmp_path / ADMIN_TOKEN_FILE).read_text().strip() == token


def test_bind_reports_a_busy_port() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}"):
            _bind("127.0.0.1", port)
    finally:
        holder.close()
    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.getsockname()[1] != 0
    finally:
        sock.close()


@module(name="stuck_in_init")
class StuckInInit(Module):
    """Never finishes init on its own: only cancellation ends it."""

    entered: asyncio.Event | None = None
    stopped = False

    async def init(self, ctx: ModuleContext) -> None:
        assert StuckInInit.entered is not None
        StuckInInit.entered.set()
        await asyncio.Event().wait()

    async def stop(self, ctx: ModuleContext) -> None:
        StuckInInit.stopped = True


@module(name="aa_first")
class First(Module):
    stopped = False

    async def stop(self, ctx: ModuleContext) -> None:
        First.stopped = True


async def test_a_stop_signal_during_start_up_cancels_it(tmp_path: Path) -> None:
    StuckInInit.entered = asyncio.Event()
    settings = parse_settings({"registry": {"backend": "memory"}, "data_dir": str(tmp_path)})
    runtime = Runtime(settings, [First, StuckInInit])
    stop = asyncio.Event()
    starting = asyncio.create_task(_start(runtime, stop))
    await asyncio.wait_for(StuckInInit.entered.wait(), timeout=30)
    stop.set()
    assert await asyncio.wait_for(starting, timeout=30) is False
    assert runtime.state == "failed"
    assert First.stopped  # the module whose init completed was stopped
    await runtime.stop()


async def test_start_up_failure_is_reported_not_raised(tmp_path: Path) -> None:
    @module(name="broken")
    class Broken(Module):
        async def init(self, ctx: ModuleContext) -> None:
            raise RuntimeError("no database")

    settings = parse_settings({"registry": {"backend": "memory"}, "data_dir": str(tmp_path)})
    runtime = Runtime(settings, [Broken])
    assert await _start(runtime, asyncio.Event()) is False
    assert runtime.state == "failed"
