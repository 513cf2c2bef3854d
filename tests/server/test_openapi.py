"""The OpenAPI of create_app declares what the server answers (``_openapi``): problem documents
instead of FastAPI's 422, the refusals of the layers in front of every route, response models.

The module below is written as a user's module would be, with no OpenAPI code of its own: what
it declares comes from the server layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Body, Depends, Query, Security
from fastapi.security import HTTPAuthorizationCredentials

from plugway.modkit import Module, Runtime, module, parse_settings
from plugway.modules.types_registry import TypesRegistryModule
from plugway.server import (
    ADMIN_BEARER,
    PROBLEM_CONTENT_TYPE,
    BodyLimit,
    Problem,
    create_app,
    create_gts_app,
)

TOKEN = "openapi-test-token"
PROBLEM_REF = "#/components/schemas/Problem"


def _declared(token: HTTPAuthorizationCredentials | None = Security(ADMIN_BEARER)) -> None:  # noqa: B008
    """Declares the admin token (the server enforces it)."""


@module(name="notes")
class NotesModule(Module):
    def rest_router(self) -> APIRouter:
        router = APIRouter(prefix="/notes/v1")

        @router.get("/ping")
        async def ping() -> dict[str, str]:
            return {"pong": "yes"}

        @router.get("/notes")
        async def notes(limit: Annotated[int, Query(ge=1, le=10)] = 5) -> list[str]:
            return ["a"] * limit

        @router.post(
            "/notes",
            dependencies=[Depends(_declared), Depends(BodyLimit(64))],
        )
        async def add(text: Annotated[str, Body(embed=True)]) -> dict[str, str]:
            return {"added": text}

        return router


async def _app_client(tmp_path: Path, **kwargs: Any) -> tuple[Runtime, Any]:
    settings = parse_settings(
        {
            "registry": {"backend": "memory"},
            "data_dir": str(tmp_path),
            "server": {"admin_token": TOKEN},
        }
    )
    runtime = Runtime(settings, [TypesRegistryModule, NotesModule])
    await runtime.start()
    return runtime, create_app(runtime, **kwargs)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[dict[str, Any], httpx.AsyncClient]]:
    runtime, app = await _app_client(tmp_path)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield (await client.get("/openapi.json")).json(), client
    finally:
        await runtime.stop()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]


def _problem_schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response["content"][PROBLEM_CONTENT_TYPE]["schema"]
    return schema


async def test_no_operation_declares_fastapis_422_and_every_error_is_a_problem(
    served: tuple[dict[str, Any], httpx.AsyncClient],
) -> None:
    spec, _ = served
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert problem["additionalProperties"] is True  # extension members
    assert "ProblemField" in spec["components"]["schemas"]
    for path, method, op in _operations(spec):
        assert "422" not in op["responses"], (path, method)
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert _problem_schema(response) == {"$ref": PROBLEM_REF}, (path, method, status)
                if (path, status) != ("/health", "503"):
                    assert list(response["content"]) == [PROBLEM_CONTENT_TYPE], (path, status)


async def test_a_module_route_gets_the_refusals_of_the_layers_in_front_of_it(
    served: tuple[dict[str, Any], httpx.AsyncClient],
) -> None:
    spec, _ = served
    every = {"408", "431", "500", "503"}
    notes = spec["paths"]["/notes/v1/notes"]
    assert set(spec["paths"]["/notes/v1/ping"]["get"]["responses"]) == {"200"} | every
    assert set(notes["get"]["responses"]) == {"200", "400"} | every
    assert set(notes["post"]["responses"]) == {"200", "400", "401", "403", "413"} | every
    assert "auth.unauthorized" in notes["post"]["responses"]["401"]["description"]
    assert "auth.no_admin_token" in notes["post"]["responses"]["403"]["description"]
    # create_app without allowed_hosts checks no Host, so declares no 421
    assert all("421" not in op["responses"] for _, _, op in _operations(spec))


async def test_with_allowed_hosts_every_operation_declares_421(tmp_path: Path) -> None:
    runtime, app = await _app_client(tmp_path, allowed_hosts=["localhost"])
    try:
        spec = app.openapi()
    finally:
        await runtime.stop()
    for path, method, op in _operations(spec):
        assert "request.host_not_allowed" in op["responses"]["421"]["description"], (path, method)


async def test_what_the_server_answers_is_what_it_declares(
    served: tuple[dict[str, Any], httpx.AsyncClient],
) -> None:
    spec, client = served
    answers = {
        ("get", "/notes/v1/notes"): await client.get("/notes/v1/notes", params={"limit": 99}),
        ("post", "/notes/v1/notes"): await client.post("/notes/v1/notes", json={"text": "x"}),
    }
    big = await client.post(
        "/notes/v1/notes",
        json={"text": "x" * 100},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    answers[("post", "/notes/v1/notes", "big")] = big  # type: ignore[index]
    assert [r.status_code for r in answers.values()] == [400, 401, 413]
    for key, resp in answers.items():
        method, path = key[0], key[1]
        declared = spec["paths"][path][method]["responses"][str(resp.status_code)]
        assert resp.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert PROBLEM_CONTENT_TYPE in declared["content"]
        Problem.model_validate(resp.json())


async def test_the_registry_and_health_declare_their_bodies(
    served: tuple[dict[str, Any], httpx.AsyncClient],
) -> None:
    spec, _ = served
    paths = spec["paths"]
    post = paths["/types-registry/v1/entities"]["post"]["responses"]
    for status in ("200", "201", "207"):
        schema = post[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/BulkResultOut"}, status
    assert "max_batch" in post["413"]["description"]
    assert "registry.not_ready" in post["503"]["description"]
    listing = paths["/types-registry/v1/entities"]["get"]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"]["$ref"].endswith("/EntityPageOut")
    one = paths["/types-registry/v1/entities/{gts_id}"]["get"]["responses"]
    assert "registry.not_found" in one["404"]["description"]
    health = paths["/health"]["get"]["responses"]
    report = {"$ref": "#/components/schemas/HealthReport"}
    assert health["200"]["content"]["application/json"]["schema"] == report
    # readiness answers its own report with 503; an overloaded server a problem document
    assert health["503"]["content"]["application/json"]["schema"] == report
    assert _problem_schema(health["503"]) == {"$ref": PROBLEM_REF}
    liveness = paths["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]
    assert liveness["schema"] == {"$ref": "#/components/schemas/Liveness"}


async def test_the_gts_app_declares_its_own_wire_shapes() -> None:
    app = create_gts_app()
    spec = app.openapi()
    paths = spec["paths"]
    register = paths["/entities"]["post"]["responses"]
    assert register["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Refusal"
    }
    refusal = spec["components"]["schemas"]["Refusal"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in refusal["anyOf"]} == {
        "Rejected",
        "RequestInvalid",
    }
    # FastAPI's 422 is real here (the suite expects it): kept
    assert "HTTPValidationError" in spec["components"]["schemas"]
    assert paths["/validate-id"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/IdValidation"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        missing = await client.get("/entities/gts.x.y.z.a.v1~")
        unroutable = await client.get("/entities/a%0Ab")
    assert missing.status_code == unroutable.status_code == 404
    assert missing.json()["ok"] is False and unroutable.json() == {"detail": "Not Found"}
    not_found = spec["components"]["schemas"]["NotFound"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in not_found["anyOf"]} == {"Rejected", "Detail"}
