"""Hardening of ``plugway serve`` as real processes over real HTTP and raw sockets: one
process per data folder, private data files, bad input answered 4xx, limits and timeouts,
registration off the event loop, safe defaults."""

from __future__ import annotations

import json
import os
import socket
import stat
from typing import Any
from urllib.parse import urlsplit

from _server_process import ServerFactory, ServerProcess, run_plugway

BASE = "/types-registry/v1"
ORDER_TYPE = "gts.acme.shop.orders.order.v1~"
PROBLEM = "application/problem+json"


def _address(srv: ServerProcess) -> tuple[str, int]:
    assert srv.url is not None
    parts = urlsplit(srv.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _raw(srv: ServerProcess, *chunks: bytes, timeout: float = 30.0) -> bytes:
    """Send ``chunks`` one by one on a fresh connection and read until the server closes it."""
    with socket.create_connection(_address(srv), timeout=timeout) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed early: read what it said
                break
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
        return received


def _problem(response: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers and body of a raw response that must be a problem document."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    assert headers["content-type"].startswith(PROBLEM), response[:300]
    doc: dict[str, Any] = json.loads(body)
    assert doc["status"] == status and doc["type"] == "urn:plugway:problem:" + doc["code"]
    return status, headers, doc


def _mode(path: os.PathLike[str] | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- one process per data folder ----------------------------------------------------------------


def test_a_second_server_on_the_same_data_folder_is_refused(server_factory: ServerFactory) -> None:
    first = server_factory().start()
    assert first.proc is not None
    second = run_plugway("serve", "--host", "127.0.0.1", "--port", "0", cwd=first.root, timeout=60)
    assert second.returncode == 2, second.stderr
    assert str(first.data_dir.resolve()) in second.stderr
    assert f"pid {first.proc.pid}" in second.stderr
    # the first one is untouched, still serves and still holds the lock
    with first.client() as http:
        assert http.get("/healthz").status_code == 200
    assert (first.data_dir / ".lock").read_text().strip() == str(first.proc.pid)
    assert first.stop() == 0
    # once it is gone the folder is free again (an orderly stop, then a kill -9)
    first.start()
    first.kill()
    first.start()
    with first.client() as http:
        assert http.get("/healthz").status_code == 200


# -- private data files ---------------------------------------------------------------------------


def test_the_data_folder_and_every_file_in_it_are_private(server_factory: ServerFactory) -> None:
    srv = server_factory()
    # a folder and a token left world-readable by an older version are tightened too
    srv.data_dir.mkdir(mode=0o755)
    os.chmod(srv.data_dir, 0o755)
    token = srv.data_dir / "admin-token"
    token.write_text("an-old-token\n")
    os.chmod(token, 0o644)
    srv.start()
    with srv.client() as http:  # a write, so the registry files certainly exist
        resp = http.post("/types-registry/v1/entities", json=[])
        assert resp.status_code == 200, resp.text
    assert _mode(srv.data_dir) == 0o700
    names = sorted(p.name for p in srv.data_dir.iterdir())
    assert {"admin-token", ".lock", "registry.sqlite3", "plugins-routing.sqlite3"} <= set(names)
    assert any(n.endswith("-wal") for n in names), names
    wide = {p.name: oct(_mode(p)) for p in srv.data_dir.iterdir() if _mode(p) != 0o600}
    assert wide == {}
    assert srv.stop() == 0


# -- bad input is a 4xx problem document, never a 500 or a stack trace --------------------------


def test_bad_input_below_and_in_the_app_is_a_4xx_problem_document(server: ServerProcess) -> None:
    host = b"Host: 127.0.0.1\r\n"
    status, _, doc = _problem(_raw(server, b"GARBAGE\r\n\r\n"))
    assert (status, doc["code"]) == (400, "request.malformed")
    status, _, doc = _problem(_raw(server, b"GET /\xff HTTP/1.1\r\n" + host + b"\r\n"))
    assert (status, doc["code"]) == (400, "request.malformed")
    # a header block larger than the limit, still arriving (h11's incomplete-event limit)
    big = b"GET /healthz HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 40_000
    status, headers, doc = _problem(_raw(server, big, b"\r\n\r\n"))
    assert (status, doc["code"]) == (431, "request.headers_too_large")
    assert headers["connection"] == "close"
    # the same head arriving whole (h11 measures only incomplete heads)
    status, _, doc = _problem(_raw(server, big + b"\r\n\r\n"))
    assert (status, doc["code"]) == (431, "request.headers_too_large")
    # a bearer token that is not ASCII: 401, not a TypeError from hmac.compare_digest
    post = (
        b"POST " + BASE.encode() + b"/entities HTTP/1.1\r\n" + host
        + b"Authorization: Bearer \xc3\xa9t\xc3\xa9\r\nContent-Type: application/json\r\n"
        + b"Content-Length: 2\r\nConnection: close\r\n\r\n[]"
    )  # fmt: skip
    status, headers, doc = _problem(_raw(server, post))
    assert (status, doc["code"]) == (401, "auth.unauthorized")
    # a lone surrogate in registered content fails its item, not the batch
    body = (
        '[{"id": "' + ORDER_TYPE + 'acme.shop.orders.o1.v1", "note": "\\ud800"},'
        ' {"$id": "gts://' + ORDER_TYPE + '", "$schema": "http://json-schema.org/draft-07/schema#",'
        ' "type": "object"}]'
    )
    with server.client() as http:
        resp = http.post(
            f"{BASE}/entities", content=body, headers={"content-type": "application/json"}
        )
        assert resp.status_code == 207, resp.text
        first, second = resp.json()["results"]
        assert (first["ok"], first["status"], first["code"]) == (
            False,
            400,
            "registry.invalid_content",
        )
        assert second["ok"] is True
        assert http.get("/healthz").status_code == 200
    log = server.log()
    assert "Traceback" not in log, log


# -- what one client can make the server read ---------------------------------------------------

TOKEN = "hardening-token"


def _request(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_bodies_are_limited_and_never_read_before_authentication(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(
        config={
            "server": {"admin_token": TOKEN, "max_body_bytes": 100_000},
            "modules": {"types_registry": {"config": {"max_body_bytes": 200_000}}},
        }
    ).start()
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    huge = {"Content-Length": str(100 * 1024 * 1024), "Content-Type": "application/json"}
    start = b"[" + b"1," * 500
    # unauthenticated, 100 MB announced, 1 kB sent: answered at once, the body is never awaited
    for method, path in (
        ("POST", f"{BASE}/entities"),
        ("PUT", "/plugins/v1/gateways/doc_search/routing"),  # another module's guarded route
    ):
        status, headers, doc = _problem(_raw(srv, _request(method, path, huge) + start))
        assert (status, doc["code"]) == (401, "auth.unauthorized"), path
        assert headers["connection"] == "close"
    # authenticated, but announcing more than the route's limit: 413 before reading
    status, _, doc = _problem(_raw(srv, _request("POST", f"{BASE}/entities", auth | huge) + start))
    assert (status, doc["code"]) == (413, "request.too_large")
    assert "200000 bytes" in doc["detail"]  # the registry's own limit, not the server default
    # chunked (no Content-Length): cut off once past the limit, the end is never needed
    chunked = _request("POST", f"{BASE}/entities", auth | {"Transfer-Encoding": "chunked"})
    piece = b"1," * 25_000
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, _, doc = _problem(_raw(srv, chunked + b"1\r\n[\r\n" + chunk * 6))
    assert (status, doc["code"]) == (413, "request.too_large")
    # a default-limited route (server.max_body_bytes) refuses what the registry would take
    explain = _request(
        "POST",
        "/plugins/v1/gateways/doc_search/explain",
        {"Content-Type": "application/json", "Content-Length": "150000"},
    )
    status, _, doc = _problem(_raw(srv, explain + b" " * 1000))
    assert (status, doc["code"]) == (413, "request.too_large")
    assert "100000 bytes" in doc["detail"]
    # within the limits everything works as before
    with srv.client() as http:
        ok = http.post(f"{BASE}/entities", json=[{"$id": f"gts://{ORDER_TYPE}",
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}])  # fmt: skip
        assert ok.status_code == 201, ok.text
        assert http.get("/healthz").status_code == 200


def test_slow_or_idle_partial_requests_are_closed(server_factory: ServerFactory) -> None:
    srv = server_factory(
        config={"server": {"admin_token": TOKEN, "header_timeout": 1.0, "body_timeout": 1.0}}
    ).start()
    # connected, nothing sent: closed without an answer (uvicorn alone keeps it for ever)
    assert _raw(srv) == b""
    # half a head, then silence: 408, then closed
    status, headers, doc = _problem(_raw(srv, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
    assert (status, doc["code"]) == (408, "request.timeout")
    assert headers["connection"] == "close"
    # a whole head and half the body it announced, then silence: 408 from the body timeout
    post = _request(
        "POST",
        f"{BASE}/entities",
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
         "Content-Length": "100"},
    )  # fmt: skip
    status, headers, doc = _problem(_raw(srv, post + b"[1,2,"))
    assert (status, doc["code"]) == (408, "request.timeout")
    assert headers["connection"] == "close"
    with srv.client() as http:  # and the server is fine
        assert http.get("/healthz").status_code == 200


def test_connections_beyond_the_limit_get_a_503_problem(server_factory: ServerFactory) -> None:
    srv = server_factory(config={"server": {"admin_token": TOKEN, "max_connections": 2}}).start()
    held = [socket.create_connection(_address(srv), timeout=30) for _ in range(2)]
    try:
        get = _request("GET", "/healthz", {"Connection": "close"})
        status, headers, doc = _problem(_raw(srv, get))
        assert (status, doc["code"]) == (503, "server.busy")
        assert headers["retry-after"] == "1"
    finally:
        for sock in held:
            sock.close()
    # once they are gone the server serves again (it notices the closes on its own time)
    answers = []
    for _ in range(200):
        answers.append(_raw(srv, get).split(b" ", 2)[1])
        if answers[-1] == b"200":
            break
    assert answers[-1] == b"200", answers


# -- safe defaults ------------------------------------------------------------------------------

TYPE_DOC = {
    "$id": f"gts://{ORDER_TYPE}",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
}


def test_a_config_file_without_a_token_refuses_changes_unless_told(
    server_factory: ServerFactory,
) -> None:
    closed = server_factory(config={"server": {"port": 0}}).start()
    with closed.client() as http:
        for method, path, body in (
            ("POST", f"{BASE}/entities", [TYPE_DOC]),
            ("PUT", "/plugins/v1/gateways/doc_search/routing", {"rules": []}),
            ("POST", "/plugins/v1/gateways/doc_search/rollback", {}),
        ):
            resp = http.request(method, path, json=body)
            assert resp.status_code == 403, (path, resp.text)
            assert resp.headers["content-type"].startswith(PROBLEM)
            assert resp.json()["code"] == "auth.no_admin_token"
        assert http.get(f"{BASE}/entities").status_code == 200  # reads stay open
    assert "every route that changes state answers 403" in closed.log()
    opened = server_factory(config={"server": {"allow_unauthenticated_writes": True}}).start()
    with opened.client() as http:
        assert http.post(f"{BASE}/entities", json=[TYPE_DOC]).status_code == 201
    assert "NO ADMIN TOKEN and server.allow_unauthenticated_writes is true" in opened.log()
    opened.restart()  # said again at every start
    assert "NO ADMIN TOKEN and server.allow_unauthenticated_writes is true" in opened.log()


def test_the_generated_token_is_shown_once_then_only_where_it_is(server: ServerProcess) -> None:
    token = server.token
    assert token is not None
    assert token in server.log() and "shown only this once" in server.log()
    server.restart()
    assert token not in server.log()
    assert f"admin token: in {server.data_dir.resolve() / 'admin-token'}" in server.log()
    with server.client() as http:  # and it is still the token
        assert http.post(f"{BASE}/entities", json=[TYPE_DOC]).status_code == 201


def test_only_local_host_names_are_served_by_default(server_factory: ServerFactory) -> None:
    srv = server_factory().start()
    for host in ("localhost", "127.0.0.1", "[::1]"):
        got = _raw(srv, _request("GET", "/healthz", {"Connection": "close"}).replace(
            b"Host: 127.0.0.1", b"Host: " + host.encode()))  # fmt: skip
        assert got.split(b" ", 2)[1] == b"200", (host, got)
    rebinding = _request("GET", "/health", {"Connection": "close"}).replace(
        b"Host: 127.0.0.1", b"Host: attacker.example:8087"
    )
    status, _, doc = _problem(_raw(srv, rebinding))
    assert (status, doc["code"]) == (421, "request.host_not_allowed")
    assert "attacker.example" in doc["detail"]
    srv.stop()
    wide = server_factory(config={"server": {"admin_token": TOKEN, "allowed_hosts": ["*"]}})
    wide.start()
    got = _raw(wide, rebinding)
    assert got.split(b" ", 2)[1] == b"200", got


def test_user_text_cannot_forge_log_lines(server_factory: ServerFactory) -> None:
    srv = server_factory(config={"server": {"admin_token": TOKEN}}).start()
    forged = "fine\n2026-01-01 00:00:00,000 INFO plugway.server: FORGED admin token: x"
    with srv.client() as http:
        resp = http.put(
            "/plugins/v1/gateways/doc_search/routing",
            params={"comment": forged},
            json={"vendor": "plugway", "timeout": 0.75},  # a change, so it is logged
        )
        assert resp.status_code == 200, resp.text
    log = srv.log()
    assert "fine\\n2026-01-01 00:00:00,000 INFO plugway.server: FORGED" in log
    assert not any(line.startswith("2026-01-01") for line in log.splitlines())
