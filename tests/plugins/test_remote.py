"""Out-of-process plugins: a real host process, a RemotePlugin bound into a Gateway.

Each test starts ``python -m plugway.cli._host remote_support:echo_plugin`` (a child process,
its handshake line read from stdout), binds a :class:`RemotePlugin` for it into a Gateway with
an in-process fallback, and checks what a caller sees: typed round trips with the context,
refusals naming field paths, a wrong secret, a raising plugin, a host that blocks (deadline,
breaker) and a host that dies (fallback).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from remote_support import ECHO_CONTRACT, Echoed, HostProcess, Item, echo_plugin, local_plugin

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT
from plugway.plugins import (
    BreakerSettings,
    Gateway,
    GatewayCallError,
    PluginSetup,
    PluginSpec,
    SecurityContext,
)
from plugway.plugins._wire import RemoteCallError, WireValidationError, contract_codec
from plugway.plugins.remote import RemoteHost, RemotePlugin

CTX = SecurityContext("tenant-a", "user-1", {"Region": "eu", "tier": "gold"})
REMOTE_ID = echo_plugin.plugin_id
LOCAL_ID = local_plugin.plugin_id
PATH = "/v1/echo/x.tests.remote_echo.plugin.v1"


def _local_impl() -> object:
    setup = PluginSetup("local", "echo", LOCAL_ID, {}, None, logging.getLogger("test"))
    return local_plugin.factory(setup)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostProcess]:
    proc = HostProcess(["remote_support:echo_plugin"], tmp_path).start()
    yield proc
    proc.close()


class Rig:
    """A gateway whose default is the remote plugin, with the local one as fallback."""

    def __init__(self, url: str, *, secret: str | None, timeout: float = 5.0, threshold: int = 5):
        self.remote_host = RemoteHost(url, secret=secret)
        self.remote = RemotePlugin(ECHO_CONTRACT, self.remote_host, PATH, plugin_id=REMOTE_ID)
        self.gw = Gateway(
            "echo",
            ECHO_CONTRACT,
            routing={
                "default": {"plugin": REMOTE_ID},
                "fallback": [{"plugin": LOCAL_ID}],
                "timeout": timeout,
            },
            breaker=BreakerSettings(failure_threshold=threshold, cooldown=3600),
        )
        self.gw.add_plugin(echo_plugin.spec(), self.remote)
        self.gw.add_plugin(local_plugin.spec(), _local_impl())

    async def close(self) -> None:
        self.gw.close()
        await self.remote_host.aclose()


@pytest.fixture
async def rig(host: HostProcess) -> AsyncIterator[Rig]:
    assert host.url is not None
    r = Rig(host.url, secret=host.secret)
    yield r
    await r.close()


# -- round trips -----------------------------------------------------------------------------------


async def test_call_round_trips_typed_arguments_results_and_the_context(rig: Rig) -> None:
    out = await rig.gw.call_with_outcome("echo", CTX, [Item("a", 1), Item("b", 2)], note="n")
    assert out.plugin == REMOTE_ID and [a.error for a in out.attempts] == [None]
    result = out.result
    assert isinstance(result, Echoed)
    assert result.served_by == "remote"
    assert (result.tenant_id, result.subject_id) == ("tenant-a", "user-1")
    assert result.attributes == {"region": "eu", "tier": "gold"}
    assert result.items == (Item("a", 1), Item("b", 2))  # dataclasses again, as a tuple
    assert result.note == "n"
    assert result.tags == ["Item", "Item"]  # the plugin received Item instances, not dicts


async def test_defaults_are_sent_and_keywords_bind(rig: Rig) -> None:
    result = await rig.gw.client.echo(CTX, items=[Item("x", 3)])
    assert result.note is None and result.items == (Item("x", 3),)


async def test_a_wrong_argument_names_its_field_path(rig: Rig) -> None:
    # caught before the wire; the in-process fallback then serves what it is given
    out = await rig.gw.call_with_outcome("echo", CTX, [{"name": "a", "qty": "many"}])
    assert out.plugin == LOCAL_ID
    assert "args.items[0].qty" in (out.attempts[0].error or "")


async def test_a_result_that_breaks_the_annotation_is_a_failure_naming_result(rig: Rig) -> None:
    out = await rig.gw.call_with_outcome("wrong", CTX)
    assert out.plugin == LOCAL_ID and out.result == 0
    error = out.attempts[0].error or ""
    assert "502 bad_result" in error and "result" in error


async def test_the_host_refuses_bad_json_and_unknown_arguments_naming_fields(
    host: HostProcess,
) -> None:
    headers = {"authorization": f"Bearer {host.secret}"}
    async with httpx.AsyncClient(base_url=str(host.url), headers=headers) as http:
        bad = await http.post(
            f"{PATH}/echo",
            json={"context": {"tenant_id": 7}, "args": {"items": [{"name": "a"}], "extra": 1}},
        )
        garbage = await http.post(f"{PATH}/echo", content=b"{not json")
        missing = await http.post(f"{PATH}/nope", json={})
        get = await http.get(f"{PATH}/echo")
    assert bad.status_code == 400
    paths = {e["path"] for e in bad.json()["error"]["errors"]}
    assert paths == {"context.tenant_id", "args.items[0].qty", "args.extra"}
    assert garbage.status_code == 400 and garbage.json()["error"]["type"] == "bad_request"
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert get.status_code == 405


async def test_openapi_and_health_describe_the_hosted_methods(host: HostProcess) -> None:
    headers = {"authorization": f"Bearer {host.secret}"}
    async with httpx.AsyncClient(base_url=str(host.url), headers=headers) as http:
        doc = (await http.get("/openapi.json")).json()
        health = (await http.get("/v1/health")).json()
    assert set(doc["paths"]) == {f"{PATH}/{m}" for m in ECHO_CONTRACT.methods}
    op = doc["paths"][f"{PATH}/echo"]["post"]
    assert op["x-plugway-plugin"] == REMOTE_ID and op["x-plugway-contract-version"] == "1.0"
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.rsplit("/", 1)[-1] in doc["components"]["schemas"]
    assert "Item" in doc["components"]["schemas"]
    assert health["plugins"][0]["id"] == REMOTE_ID and health["protocol"] == "plugway-http/1"


# -- refusals and failures -------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["wrong-secret", None, "tëst-sécret"])
async def test_a_wrong_or_missing_secret_is_refused(host: HostProcess, secret: str | None) -> None:
    assert host.url is not None
    r = Rig(host.url, secret=secret)
    try:
        out = await r.gw.call_with_outcome("echo", CTX, [Item("a", 1)])
        assert out.plugin == LOCAL_ID
        assert "401 unauthorized" in (out.attempts[0].error or "")
        with pytest.raises(RemoteCallError) as info:
            await r.remote.echo(CTX, [Item("a", 1)])
        assert info.value.status == 401 and info.value.type == "unauthorized"
    finally:
        await r.close()


async def test_non_ascii_secret_bytes_are_a_401_not_a_crash(host: HostProcess) -> None:
    async with httpx.AsyncClient(base_url=str(host.url)) as http:
        answer = await http.get(
            "/v1/health", headers=[(b"authorization", "Bearer \xe9\xff".encode("latin-1"))]
        )
    assert answer.status_code == 401


async def test_a_plugin_that_raises_is_a_gateway_failure_with_fallback(rig: Rig) -> None:
    out = await rig.gw.call_with_outcome("fail", CTX, "boom")
    assert out.plugin == LOCAL_ID and out.result == 4
    assert "500 plugin_error: ValueError: boom" in (out.attempts[0].error or "")
    rig.gw.remove_plugin(LOCAL_ID)
    with pytest.raises(GatewayCallError) as info:
        await rig.gw.call("fail", CTX, "boom")
    assert info.value.plugin == REMOTE_ID and "ValueError: boom" in str(info.value)


async def test_a_host_that_blocks_is_cut_by_the_deadline_and_the_breaker_opens(
    host: HostProcess,
) -> None:
    assert host.url is not None
    r = Rig(host.url, secret=host.secret, timeout=0.3, threshold=2)
    try:
        first = await r.gw.call_with_outcome("block", CTX, 2.0)
        second = await r.gw.call_with_outcome("block", CTX, 2.0)
        third = await r.gw.call_with_outcome("block", CTX, 2.0)
        assert [o.plugin for o in (first, second, third)] == [LOCAL_ID] * 3
        assert first.attempts[0].error == "timed out"
        assert second.attempts[0].error == "timed out"
        assert third.attempts[0].error == "circuit open"  # not even tried
        assert r.gw.breaker(REMOTE_ID).state == "open"
    finally:
        await r.close()


async def test_a_caller_that_gives_up_cancels_the_call_in_the_host(host: HostProcess) -> None:
    assert host.url is not None
    r = Rig(host.url, secret=host.secret, timeout=0.3)
    try:
        out = await r.gw.call_with_outcome("nap", CTX, 30.0)
        assert out.plugin == LOCAL_ID and out.attempts[0].error == "timed out"
        deadline = time.monotonic() + 20
        while "nap of 30.0 s cancelled" not in host.log() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert "nap of 30.0 s cancelled" in host.log()
        # the host is not held up by the abandoned call
        assert (await r.gw.call_with_outcome("nap", CTX, 0.0)).plugin == REMOTE_ID
    finally:
        await r.close()


async def test_a_host_that_aborts_fails_over_to_the_fallback(host: HostProcess, rig: Rig) -> None:
    out = await rig.gw.call_with_outcome("abort", CTX)
    assert out.plugin == LOCAL_ID and out.result == "local"
    assert "RemoteTransportError" in (out.attempts[0].error or "")
    assert host.wait() == -signal.SIGABRT
    later = await rig.gw.call_with_outcome("echo", CTX, [Item("a", 1)])
    assert later.plugin == LOCAL_ID and later.result.served_by == "local"
    assert "RemoteTransportError" in (later.attempts[0].error or "")


# -- transports, versions, start-up ----------------------------------------------------------------


async def test_a_unix_socket_host_is_private_and_serves(tmp_path: Path) -> None:
    sock = tmp_path / "h.sock"
    proc = HostProcess(["remote_support:echo_plugin"], tmp_path, listen=f"unix:{sock}").start()
    try:
        assert proc.url == f"unix:{sock}"
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        r = Rig(proc.url, secret=proc.secret)
        try:
            result = await r.gw.client.echo(CTX, [Item("u", 9)])
            assert result.served_by == "remote" and result.items == (Item("u", 9),)
        finally:
            await r.close()
        assert proc.stop() == 0
        assert not sock.exists()  # removed on an orderly stop
    finally:
        proc.close()


def test_a_remote_plugin_of_an_older_minor_gets_the_contract_defaults() -> None:
    host = RemoteHost("http://127.0.0.1:9", secret="x")
    plugin = RemotePlugin(
        DOC_SEARCH_CONTRACT, host, "/v1/doc_search/a.b.c.plugin.v1", version="1.0"
    )
    spec_id = DOC_SEARCH_CONTRACT.instance_id("a.b.c.plugin.v1")
    inst = DOC_SEARCH_CONTRACT.bind(
        PluginSpec(spec_id, "a", properties={"algorithm": "x"}, contract_version="1.0"), plugin
    )
    assert inst.defaulted == ("suggest",) and "suggest" not in vars(plugin)
    with pytest.raises(ValueError, match=r"implements 2\.0"):
        RemotePlugin(DOC_SEARCH_CONTRACT, host, "/x", version="2.0")


def test_the_codec_refuses_values_that_do_not_fit_naming_the_path() -> None:
    codec = contract_codec(ECHO_CONTRACT).methods["echo"]
    with pytest.raises(WireValidationError) as info:
        codec.encode_call("p", CTX, ([Item("a", "x")],), {})  # type: ignore[arg-type]
    assert [p.path for p in info.value.problems] == ["args.items[0].qty"]
    with pytest.raises(TypeError):
        codec.encode_call("p", CTX, ([],), {"nope": 1})
    body = codec.encode_call("p", CTX, ([Item("a", 1)],), {})
    ctx, args, kwargs = codec.decode_call(body)
    assert ctx == CTX and args == [[Item("a", 1)], None] and kwargs == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remote_support:echo_plugin"], "no secret"),
        (["remote_support:nothing_here", "--no-secret"], "cannot load"),
        (["no_such_entry_point", "--no-secret"], "no entry point of that name"),
    ],
)
def test_the_host_refuses_to_start_without_a_secret_or_a_plugin(
    tmp_path: Path, args: list[str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
    env["PYTHONPATH"] = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-m", "plugway.cli._host", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""  # no handshake line


def test_a_host_joining_builds_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx builds (and loads the CA bundle into) a TLS context per transport unless given
    # one: ~20 ms each, on the event loop, for each of a host's lanes whenever a host joins
    RemoteHost("http://127.0.0.1:9", secret="x")  # the process's one context exists now
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    RemoteHost("http://127.0.0.1:10", secret="x", max_connections=8)
    RemoteHost("unix:/tmp/plugway-no-such.sock", secret=None)
    assert built == []
