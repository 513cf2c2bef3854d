"""``plugway plugins host`` through the plugway CLI, and the public names of remote plugins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from remote_support import ECHO_CONTRACT, HostProcess, Item, echo_plugin

import plugway.plugins as plugins
from plugway.plugins import SecurityContext
from plugway.plugins.errors import RemotePluginError
from plugway.plugins.remote import RemoteHost, RemotePlugin


def test_the_remote_client_is_part_of_the_public_face() -> None:
    import plugway.plugins.errors as errors
    import plugway.plugins.remote as remote

    assert {"RemoteHost", "RemotePlugin"} <= set(remote.__all__)
    assert "RemotePluginError" in errors.__all__
    assert issubclass(RemotePluginError, plugins.PluginError)


async def test_plugway_plugins_host_serves_a_plugin(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "plugway", "plugins", "host", "remote_support:echo_plugin"]
    proc = HostProcess([], tmp_path, argv=cmd).start()
    try:
        assert proc.url is not None and proc.url.startswith("http://127.0.0.1:")
        host = RemoteHost(proc.url, secret=proc.secret)
        try:
            health = await host.health()
            assert [p["id"] for p in health["plugins"]] == [echo_plugin.plugin_id]
            remote = RemotePlugin(
                ECHO_CONTRACT, host, health["plugins"][0]["path"], plugin_id=echo_plugin.plugin_id
            )
            echoed = await remote.echo(SecurityContext("t", "u"), [Item("a", 1)])  # type: ignore[attr-defined]
            assert echoed.served_by == "remote" and echoed.items == (Item("a", 1),)
        finally:
            await host.aclose()
        assert proc.stop() == 0
    finally:
        proc.close()


async def test_the_plugin_config_file_reaches_the_factory(tmp_path: Path) -> None:
    config = tmp_path / "plugins.yaml"
    config.write_text("remote_support:echo_plugin:\n  note: from the file\n")
    cmd = [sys.executable, "-m", "plugway", "plugins", "host", "remote_support:echo_plugin"]
    proc = HostProcess([], tmp_path, argv=[*cmd, "--plugin-config", str(config)]).start()
    try:
        assert proc.url is not None
        host = RemoteHost(proc.url, secret=proc.secret)
        try:
            health = await host.health()
            remote = RemotePlugin(
                ECHO_CONTRACT, host, health["plugins"][0]["path"], plugin_id=echo_plugin.plugin_id
            )
            echoed = await remote.echo(SecurityContext("t", "u"), [])  # type: ignore[attr-defined]
            assert echoed.note == "from the file"
        finally:
            await host.aclose()
        assert proc.stop() == 0
    finally:
        proc.close()


def _refusal(tmp_path: Path, text: str) -> str:
    """What ``plugway plugins host`` says on stderr when refusing the plugin config ``text``."""
    config = tmp_path / "plugins.yaml"
    config.write_text(text)
    host = [sys.executable, "-m", "plugway", "plugins", "host", "remote_support:echo_plugin"]
    out = subprocess.run(
        [*host, "--plugin-config", str(config), "--no-secret", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent,
    )
    assert out.returncode == 2, out
    return out.stderr


def test_a_plugin_config_file_repeating_a_key_is_refused_like_the_server_config(
    tmp_path: Path,
) -> None:
    said = _refusal(
        tmp_path, "remote_support:echo_plugin: {note: a}\nremote_support:echo_plugin: {note: b}\n"
    )
    assert "plugins.yaml" in said and "line 2" in said and "duplicate key" in said


def test_a_plugin_config_file_that_is_not_a_mapping_of_mappings_is_refused(
    tmp_path: Path,
) -> None:
    assert "must be a mapping, got a list" in _refusal(tmp_path, "- a\n- b\n")
    assert "mapping of plugin reference to config" in _refusal(tmp_path, "a: 1\n")
