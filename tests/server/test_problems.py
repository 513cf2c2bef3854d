"""Problem documents: every error shape the app can return is RFC 9457 with a stable code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Query

from plugway.modkit import field_path
from plugway.registry import (
    RegistryConflictError,
    RegistryNotFoundError,
    RegistryNotReadyError,
    RegistryProblem,
    RegistryQueryError,
    RegistryStorageError,
    RegistryValidationError,
)
from plugway.server import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_PREFIX,
    FieldProblem,
    ProblemCode,
    ProblemError,
    install_problem_handlers,
    problem_from_registry_error,
)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/problem")
    async def problem() -> None:
        raise ProblemError(
            409,
            "demo.conflict",
            "already there",
            errors=[FieldProblem("body.id", "taken", "taken")],
            headers={"X-Demo": "1"},
        )

    @app.get("/typed")
    async def typed(limit: int = Query(..., ge=1)) -> dict[str, int]:
        return {"limit": limit}

    @app.post("/items")
    async def items(body: list[dict[str, int]]) -> int:
        return len(body)

    @app.get("/conflict")
    async def conflict() -> None:
        raise RegistryConflictError("gts.acme.pkg.ns.thing.v1~")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _is_problem(resp: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    body = resp.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_TYPE_PREFIX + code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body  # type: ignore[no-any-return]


async def test_problem_error_renders_with_errors_and_headers(client: httpx.AsyncClient) -> None:
    resp = await client.get("/problem")
    body = _is_problem(resp, 409, "demo.conflict")
    assert body["errors"] == [{"field": "body.id", "message": "taken", "code": "taken"}]
    assert body["instance"] == "/problem"
    assert resp.headers["x-demo"] == "1"


async def test_query_validation_names_the_field(client: httpx.AsyncClient) -> None:
    body = _is_problem(await client.get("/typed?limit=0"), 400, ProblemCode.REQUEST_INVALID)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [e["field"] for e in errors] == ["query.limit"]
    body = _is_problem(await client.get("/typed"), 400, ProblemCode.REQUEST_INVALID)
    assert body["errors"][0]["code"] == "missing"  # type: ignore[index]


async def test_body_validation_names_the_item_path(client: httpx.AsyncClient) -> None:
    resp = await client.post("/items", json=[{"a": 1}, {"a": "x"}])
    body = _is_problem(resp, 400, ProblemCode.REQUEST_INVALID)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [e["field"] for e in errors] == ["body[1].a"]


async def test_malformed_json_body_is_a_problem(client: httpx.AsyncClient) -> None:
    resp = await client.post("/items", content=b"[{", headers={"content-type": "application/json"})
    body = _is_problem(resp, 400, ProblemCode.REQUEST_INVALID)
    # the offset of the break is not an item index: the field is the body, the offset is said
    errors = body["errors"]
    assert isinstance(errors, list)
    (error,) = errors
    assert error["field"] == "body"
    assert error["code"] == "json_invalid"
    assert "at character 2" in error["message"]


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    _is_problem(await client.get("/nope"), 404, ProblemCode.HTTP_NOT_FOUND)
    resp = await client.delete("/typed")
    _is_problem(resp, 405, ProblemCode.HTTP_METHOD_NOT_ALLOWED)
    assert "GET" in resp.headers["allow"]


async def test_unexpected_error_hides_internals(client: httpx.AsyncClient) -> None:
    resp = await client.get("/boom")
    body = _is_problem(resp, 500, ProblemCode.INTERNAL)
    assert "secret" not in resp.text
    assert body["detail"] == "internal server error"


async def test_registry_errors_escaping_a_route_are_mapped(client: httpx.AsyncClient) -> None:
    body = _is_problem(await client.get("/conflict"), 409, ProblemCode.REGISTRY_CONFLICT)
    assert "gts.acme.pkg.ns.thing.v1~" in str(body["detail"])


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (RegistryNotFoundError("gts.a.b.c.d.v1~"), 404, ProblemCode.REGISTRY_NOT_FOUND),
        (RegistryConflictError("gts.a.b.c.d.v1~"), 409, ProblemCode.REGISTRY_CONFLICT),
        (RegistryQueryError("bad pattern 'x'"), 400, ProblemCode.REGISTRY_INVALID_QUERY),
        (RegistryNotReadyError("not ready"), 503, ProblemCode.REGISTRY_NOT_READY),
        (
            RegistryStorageError("disk /x/y failed"),
            503,
            ProblemCode.REGISTRY_STORAGE_UNAVAILABLE,
        ),
    ],
)
def test_registry_error_mapping(exc: Exception, status: int, code: str) -> None:
    problem = problem_from_registry_error(exc)  # type: ignore[arg-type]
    assert (problem.status, problem.code) == (status, code)
    if status == 500:
        assert "/x/y" not in problem.detail
    if status == 503:
        assert problem.headers["Retry-After"] == "1"


def test_registry_validation_problems_become_errors() -> None:
    exc = RegistryValidationError(
        [RegistryProblem("gts.a.b.c.d.v1~", "bad schema"), RegistryProblem("gts.a.b.c.e.v1~", "x")]
    )
    problem = problem_from_registry_error(exc)
    assert problem.status == 422
    assert problem.code == ProblemCode.REGISTRY_VALIDATION_FAILED
    assert [e.field for e in problem.errors] == ["gts.a.b.c.d.v1~", "gts.a.b.c.e.v1~"]


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("query", "limit"), "query.limit"),
        (("body", 0, "id"), "body[0].id"),
        (("body",), "body"),
        (("body", 2, 3), "body[2][3]"),
        ((), ""),
    ],
)
def test_field_path(loc: tuple[str | int, ...], path: str) -> None:
    assert field_path(loc) == path
