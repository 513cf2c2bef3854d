"""The remote plugins of a gateway, from instance documents, against a real host process:
one RemoteHost per endpoint URL (closed with its last plugin), secrets by URL or plugin id,
another MAJOR refused, and liveness: a stopped host is down after its TTL and up again when
it answers (SIGSTOP/SIGCONT), each change reported once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_support import ECHO_CONTRACT, HostProcess, Item, echo_plugin

from plugway.plugins import SecurityContext
from plugway.plugins._remote_pool import RemotePool
from plugway.plugins.errors import PluginContractError, PluginVersionError
from plugway.plugins.remote import RemotePlugin

PATH = "/v1/echo/x.tests.remote_echo.plugin.v1"


def _doc(url: str, *, version: str = "1.0", heartbeat: float = 0.2, **more: Any) -> dict[str, Any]:
    doc = echo_plugin.spec().instance_document()
    doc["contract_version"] = version
    doc["endpoint"] = {
        "url": url,
        "path": PATH,
        "protocol": "plugway-http/1",
        "heartbeat_s": heartbeat,
        "ttl_s": 3 * heartbeat,
        **more,
    }
    return doc


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostProcess]:
    proc = HostProcess(["remote_support:echo_plugin"], tmp_path).start()
    yield proc
    proc.close()


async def _until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


async def test_documents_become_plugins_sharing_one_host_per_url(host: HostProcess) -> None:
    assert host.url is not None
    pool = RemotePool(ECHO_CONTRACT, gateway="echo", secrets={echo_plugin.plugin_id: "test-secret"})
    try:
        plugin, version = pool.plugin(echo_plugin.plugin_id, _doc(host.url))
        assert isinstance(plugin, RemotePlugin) and version == "1.0"
        again, _ = pool.plugin(echo_plugin.plugin_id, _doc(host.url))
        assert again is plugin  # unchanged document: the same plugin object
        twin, _ = pool.plugin("twin", _doc(host.url))
        assert list(pool.hosts()) == [host.url]  # one pool of connections per host
        echoed = await plugin.echo(SecurityContext("t"), [Item("a", 2)])  # type: ignore[attr-defined]
        assert echoed.served_by == "remote" and twin is not plugin
        with pytest.raises(PluginVersionError, match="another MAJOR"):
            pool.plugin("v2", _doc(host.url, version="2.0"))
        with pytest.raises(PluginContractError, match="protocol"):
            pool.plugin("other", _doc(host.url, protocol="grpc"))
        pool.retain({"twin"})
        assert list(pool.hosts()) == [host.url]
        pool.retain(set())
        assert pool.hosts() == {}
    finally:
        await pool.aclose()


async def test_a_stopped_host_is_down_after_its_ttl_and_up_when_it_answers(
    host: HostProcess,
) -> None:
    assert host.url is not None and host.proc is not None
    pool = RemotePool(ECHO_CONTRACT, gateway="echo", default_secret="test-secret")
    changes: list[list[str]] = []
    pool.start(asyncio.get_running_loop(), lambda: changes.append(pool.liveness.down()))
    try:
        plugin, _ = pool.plugin(echo_plugin.plugin_id, _doc(host.url))
        assert plugin is not None
        os.kill(host.proc.pid, signal.SIGSTOP)
        try:
            await _until(lambda: pool.liveness.is_down(str(host.url)), "down")
            assert pool.plugin(echo_plugin.plugin_id, _doc(host.url))[0] is None
        finally:
            os.kill(host.proc.pid, signal.SIGCONT)
        await _until(lambda: not pool.liveness.is_down(str(host.url)), "up again")
        assert pool.plugin(echo_plugin.plugin_id, _doc(host.url))[0] is plugin
        assert changes == [[host.url], []]
    finally:
        await pool.aclose()


async def test_a_wrong_secret_is_no_sign_of_life(host: HostProcess) -> None:
    assert host.url is not None
    pool = RemotePool(ECHO_CONTRACT, gateway="echo", default_secret="wrong")
    pool.start(asyncio.get_running_loop(), lambda: None)
    try:
        pool.plugin(echo_plugin.plugin_id, _doc(host.url))
        await _until(lambda: pool.liveness.is_down(str(host.url)), "down")
        pool.launched(host.url, "test-secret", "echo/h")  # what a supervisor does after a launch
        await _until(lambda: not pool.liveness.is_down(str(host.url)), "up with the secret")
    finally:
        await pool.aclose()


async def test_another_replicas_endpoint_for_a_host_launched_here_changes_nothing(
    host: HostProcess,
) -> None:
    """Replicas that launch the same host overwrite each other's endpoint in the registry at
    every heartbeat; each keeps calling its own copy, and its gateway recompiles nothing."""
    from plugway.plugins import Gateway

    assert host.url is not None
    pool = RemotePool(ECHO_CONTRACT, gateway="echo")
    pool.launched(host.url, host.secret, "echo/h")  # the supervisor here launched this host
    try:
        own, _ = pool.plugin(echo_plugin.plugin_id, _doc(host.url, host="echo/h"))
        gw: Gateway[Any] = Gateway("echo", ECHO_CONTRACT)
        gw.sync_plugins([(echo_plugin.spec(), own)])
        state = gw.state
        for url in ("http://127.0.0.1:9", host.url, "http://127.0.0.1:9"):  # heartbeats
            again, _ = pool.plugin(echo_plugin.plugin_id, _doc(url, host="echo/h"))
            assert again is own
            gw.sync_plugins([(echo_plugin.spec(), again)], keep_default=True)
            assert gw.state is state
        echoed = await gw.client.echo(SecurityContext("t"), [Item("a", 1)])
        assert echoed.served_by == "remote"
    finally:
        await pool.aclose()


async def test_a_launch_here_serves_only_what_its_own_host_registered(host: HostProcess) -> None:
    """Two hosts launched here: the plugin of one never moves to the other's launch, whatever
    endpoint the registry holds; a relaunch of its own host (a new URL) takes it along."""
    assert host.url is not None
    other = "http://127.0.0.1:9"  # another host launched here (nothing listens there)
    pool = RemotePool(ECHO_CONTRACT, gateway="echo")
    pool.launched(host.url, host.secret, "echo/one")
    pool.launched(other, "another-secret", "echo/two")
    pid = echo_plugin.plugin_id
    try:
        unstamped, _ = pool.plugin(pid, _doc(host.url))  # not registered by a launch's token
        assert unstamped is not None
        own, _ = pool.plugin(pid, _doc(host.url, host="echo/one"))
        assert own is unstamped  # the same endpoint: the same plugin
        taken, _ = pool.plugin(pid, _doc(other, host="echo/two"))
        assert taken is own  # the other host's launch does not get its calls
        assert await own.echo(SecurityContext("t"), [Item("a", 1)])
        relaunched = "http://127.0.0.1:10"
        pool.launched(relaunched, "new-secret", "echo/one")
        moved, _ = pool.plugin(pid, _doc(relaunched, host="echo/one"))
        assert moved is not own and moved is not None
        assert pool.hosts().keys() >= {relaunched}
    finally:
        await pool.aclose()
