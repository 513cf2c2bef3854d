"""``plugway plugins host`` through the plugway CLI, and the public names of remote plugins."""

from __future__ import annotations

import sys
from pathlib import Path

from remote_support import ECHO_CONTRACT, HostProcess, Item, echo_plugin

import plugway.plugins as plugins
from plugway.plugins import RemoteHost, RemotePlugin, RemotePluginError, SecurityContext


def test_the_remote_client_is_part_of_the_public_face() -> None:
    assert {"RemoteHost", "RemotePlugin", "RemotePluginError"} <= set(plugins.__all__)
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
