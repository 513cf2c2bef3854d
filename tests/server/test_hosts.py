"""Host names: what the guard accepts, and its 421 problem document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plugway.modkit import parse_settings
from plugway.server import PROBLEM_CONTENT_TYPE, install_problem_handlers
from plugway.server._hosts import HostGuard, allowed_hosts, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("LocalHost:8087", "localhost"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]:8087", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("example.com.", "example.com"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_the_default_is_the_local_names_and_the_bind_host() -> None:
    assert allowed_hosts(None, "127.0.0.1") == ("localhost", "127.0.0.1", "::1")
    assert allowed_hosts(None, "10.1.2.3") == ("localhost", "127.0.0.1", "::1", "10.1.2.3")
    assert allowed_hosts(None, "0.0.0.0") == ("localhost", "127.0.0.1", "::1")  # no name
    assert allowed_hosts(("api.example.com",), "0.0.0.0") == ("api.example.com",)


def test_allowed_hosts_setting_takes_a_list_or_a_comma_separated_string() -> None:
    from plugway.modkit import ConfigError

    env = {"PLUGWAY__SERVER__ALLOWED_HOSTS": "a.example, B.example"}
    assert parse_settings({}, env=env).server.allowed_hosts == ("a.example", "b.example")
    listed = parse_settings({"server": {"allowed_hosts": ["*"]}})
    assert listed.server.allowed_hosts == ("*",)
    with pytest.raises(ConfigError, match=r"server\.allowed_hosts"):
        parse_settings({"server": {"allowed_hosts": ["http://x/"]}})
    with pytest.raises(ConfigError, match=r"server\.allowed_hosts"):
        parse_settings({"server": {"allowed_hosts": []}})


def _app(hosts: tuple[str, ...]) -> Any:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    app.add_middleware(HostGuard, hosts=hosts)
    return app


async def _get(app: Any, host: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
        return await c.get("/ping", headers={"Host": host})


async def test_a_foreign_host_is_a_421_problem_document() -> None:
    app = _app(("localhost", "127.0.0.1", "::1", "*.example.com"))
    for ok in ("localhost:8087", "127.0.0.1", "[::1]:1", "api.example.com", "example.com"):
        assert (await _get(app, ok)).status_code == 200, ok
    for bad in ("evil.test", "localhost.evil.test", "notexample.com", "127.0.0.2"):
        resp = await _get(app, bad)
        assert resp.status_code == 421, bad
        assert resp.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
        body = resp.json()
        assert body["code"] == "request.host_not_allowed"
        assert repr(bad) in body["detail"] and "server.allowed_hosts" in body["detail"]
    assert (await _get(_app(("*",)), "anything.test")).status_code == 200
