"""The request guard in-process, over raw ASGI: what it reads of a body, and when it stops."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from plugway.server import (
    ADMIN_BEARER,
    PROBLEM_CONTENT_TYPE,
    AdminAccess,
    BodyLimit,
    bearer_guard,
    install_problem_handlers,
)
from plugway.server._auth import ADMIN_ACCESS_STATE
from plugway.server._limits import install_request_guard

TOKEN = "s3cret"
MIB = 1024 * 1024


def _app(access: AdminAccess, *, max_body: int = 1000, body_timeout: float | None = None) -> Any:
    """A module-like router: guarded through a sub-dependency (as the shipped modules do)."""
    app = FastAPI()
    install_problem_handlers(app)
    install_request_guard(app, access=access, max_body_bytes=max_body, body_timeout=body_timeout)
    setattr(app.state, ADMIN_ACCESS_STATE, access)  # as create_app does
    router = APIRouter(prefix="/m/v1")

    def write_guard(
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_BEARER)] = None,
    ) -> None:
        bearer_guard(access.token)(request)

    @router.post("/guarded", dependencies=[Depends(write_guard)])
    async def guarded(items: Annotated[list[Any], Body()]) -> dict[str, int]:
        return {"n": len(items)}

    @router.post("/bodyless", dependencies=[Depends(write_guard)])
    async def bodyless() -> dict[str, bool]:
        return {"done": True}

    @router.post("/open")
    async def open_route(items: Annotated[list[Any], Body()]) -> dict[str, int]:
        return {"n": len(items)}

    @router.post("/big", dependencies=[Depends(BodyLimit(lambda: 10 * MIB))])
    async def big(items: Annotated[list[Any], Body()]) -> dict[str, int]:
        return {"n": len(items)}

    app.include_router(router)
    return app


class Exchange:
    """Drives one request through an ASGI app and records what the app took and said."""

    def __init__(self, chunks: Sequence[bytes], *, stall: bool = False) -> None:
        self.chunks = list(chunks)
        self.stall = stall
        self.taken = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.taken < len(self.chunks):
            self.taken += 1
            more = self.taken < len(self.chunks) or self.stall
            return {"type": "http.request", "body": self.chunks[self.taken - 1], "more_body": more}
        if self.stall:
            import asyncio

            await asyncio.Event().wait()  # the client went quiet mid-body
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def _post(
    app: Any,
    path: str,
    chunks: Sequence[bytes],
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    length: int | None = None,
    stall: bool = False,
) -> Exchange:
    all_headers = [(b"content-type", b"application/json"), *headers]
    if length is not None:
        all_headers.append((b"content-length", str(length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": all_headers,
        "server": ("127.0.0.1", 8087),
        "client": ("127.0.0.1", 50000),
    }
    ex = Exchange(chunks, stall=stall)
    await app(scope, ex.receive, ex.send)
    return ex


def _is_problem(ex: Exchange, status: int, code: str) -> dict[str, Any]:
    assert ex.status == status, ex.sent
    assert ex.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    body: dict[str, Any] = ex.json
    assert body["code"] == code
    return body


def _array(n_bytes: int) -> bytes:
    """A JSON array of about ``n_bytes``."""
    return b"[" + b",".join([b"1"] * (n_bytes // 2)) + b"]"


AUTH = [(b"authorization", f"Bearer {TOKEN}".encode())]


async def test_a_guarded_route_checks_the_token_before_reading_the_body() -> None:
    app = _app(AdminAccess(TOKEN))
    body = [_array(400)] * 3
    ex = await _post(app, "/m/v1/guarded", body)
    _is_problem(ex, 401, "auth.unauthorized")
    assert ex.taken == 0  # not one byte of the body was read
    assert ex.headers["connection"] == "close" and ex.headers["www-authenticate"] == "Bearer"
    wrong = [(b"authorization", b"Bearer \xff\xfe")]
    assert (await _post(app, "/m/v1/guarded", body, headers=wrong)).taken == 0
    ok = await _post(app, "/m/v1/guarded", [b"[1,", b"2]"], headers=AUTH)
    assert (ok.status, ok.json) == (200, {"n": 2})
    # a route that does not declare the token is not guarded
    assert (await _post(app, "/m/v1/open", [b"[]"])).status == 200


async def test_without_a_token_guarded_routes_are_refused_unless_allowed() -> None:
    refused = await _post(_app(AdminAccess(None)), "/m/v1/guarded", [b"[]"])
    body = _is_problem(refused, 403, "auth.no_admin_token")
    assert "server.admin_token" in body["detail"]
    assert refused.taken == 0
    # a guarded route that reads no body is refused too (by the ADMIN_BEARER dependency)
    bodyless = await _post(_app(AdminAccess(None)), "/m/v1/bodyless", [])
    _is_problem(bodyless, 403, "auth.no_admin_token")
    _is_problem(
        await _post(_app(AdminAccess(TOKEN)), "/m/v1/bodyless", []), 401, "auth.unauthorized"
    )
    ok = await _post(_app(AdminAccess(TOKEN)), "/m/v1/bodyless", [], headers=AUTH)
    assert (ok.status, ok.json) == (200, {"done": True})
    allowed = await _post(
        _app(AdminAccess(None, allow_unauthenticated_writes=True)), "/m/v1/guarded", [b"[]"]
    )
    assert allowed.status == 200


async def test_a_content_length_above_the_limit_is_refused_before_reading() -> None:
    app = _app(AdminAccess(TOKEN), max_body=1000)
    ex = await _post(app, "/m/v1/open", [_array(2000)], length=2001)
    body = _is_problem(ex, 413, "request.too_large")
    assert "1000 bytes" in body["detail"]
    assert ex.taken == 0 and ex.headers["connection"] == "close"


async def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    app = _app(AdminAccess(TOKEN), max_body=1000)
    chunks = [b"[" + b"1," * 200] * 50  # 20 kB in 50 chunks, no Content-Length
    ex = await _post(app, "/m/v1/open", chunks)
    _is_problem(ex, 413, "request.too_large")
    assert ex.taken == 3  # 401 + 401 + 401 bytes: refused on the third chunk, not buffered
    assert ex.headers["connection"] == "close"
    # at the limit exactly is fine
    ok = await _post(app, "/m/v1/open", [b"[" + b"1," * 498, b"1]"])
    assert ok.status == 200 and ok.json == {"n": 499}


async def test_a_route_declares_its_own_body_limit() -> None:
    app = _app(AdminAccess(TOKEN), max_body=MIB)
    two_mib = _array(2 * MIB)
    _is_problem(await _post(app, "/m/v1/open", [two_mib]), 413, "request.too_large")
    big = await _post(app, "/m/v1/big", [two_mib])
    assert big.status == 200
    over = await _post(app, "/m/v1/big", [b"[]"], length=10 * MIB + 1)
    assert "10485760 bytes" in _is_problem(over, 413, "request.too_large")["detail"]


async def test_a_body_that_stops_arriving_is_answered_408() -> None:
    app = _app(AdminAccess(TOKEN), body_timeout=0.05)
    ex = await _post(app, "/m/v1/open", [b"[1,"], stall=True)
    body = _is_problem(ex, 408, "request.timeout")
    assert "0.05 seconds" in body["detail"]
    assert ex.headers["connection"] == "close"
