"""The GTS conformance server: gts-spec's ``tests/openapi.json`` on top of ``GtsStore``.

Why a separate app: the official conformance suite drives an implementation over HTTP, so
this app is the proof that ``plugway.gts`` implements the spec. It keeps the suite's wire
shapes exactly: operations answer 200 and report failure in the body; a refused registration
answers 422 ``{"ok": false, "error": ...}``; malformed requests get FastAPI's standard 422.
One in-memory store lives as long as the app (the suite accumulates state across tests); the
handlers are ``async`` so they all run on the event loop thread, one at a time, and the store
(which is not thread-safe) is never touched concurrently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, RootModel

from plugway.gts import (
    GtsError,
    GtsId,
    GtsIdError,
    GtsPattern,
    GtsStore,
    extract_id,
    id_or_pattern_error,
)

__all__ = ["create_gts_app"]

_MAX_LIMIT = 1000


class TypeSchemaRegister(BaseModel):
    type_id: str
    type_schema: dict[str, Any]


class ValidateInstanceRequest(BaseModel):
    instance_id: str


class ValidateTypeSchemaRequest(BaseModel):
    type_id: str


class ValidateEntityRequest(BaseModel):
    entity_id: str | None = None
    # Accepted as an alias: one conformance test posts ``gts_id`` instead of ``entity_id``.
    gts_id: str | None = None


class CastRequest(BaseModel):
    instance_id: str
    to_type_id: str


# ------------------------------------------------------------------ answers (OpenAPI only)
# Declared with ``responses=`` and ``response_model=None``: the handlers' own dicts go out as they
# are (the suite's wire shapes, byte for byte), and these models say in OpenAPI what they hold.


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Rejected(_Answer):
    """A refusal in the suite's shape: ``ok`` false and why."""

    ok: Literal[False]
    error: str


class EntitySummary(_Answer):
    id: str
    is_type: bool
    type_id: str | None


class EntityList(_Answer):
    entities: list[EntitySummary]
    count: int
    total: int
    limit: int


class Registered(EntitySummary):
    ok: Literal[True]
    error: Literal[""]


class BulkItem(_Answer):
    ok: bool
    id: str | None
    error: str


class BulkRegistered(_Answer):
    ok: bool
    registered: int
    failed: int
    results: list[BulkItem]


class EntityFound(EntitySummary):
    content: Any


class IdValidation(_Answer):
    id: str
    valid: bool
    error: str
    is_wildcard: bool


class IdExtraction(_Answer):
    id: str | None
    type_id: str | None
    selected_entity_field: str | None
    selected_type_id_field: str | None
    is_type: bool
    error: str


class IdSegment(_Answer):
    vendor: str
    package: str
    namespace: str
    type: str
    ver_major: int
    ver_minor: int | None
    is_type: bool


class IdParse(_Answer):
    id: str
    ok: bool
    error: str
    is_type: bool
    is_wildcard: bool
    segments: list[IdSegment]


class PatternMatch(_Answer):
    pattern: str
    candidate: str
    match: bool
    error: str


class IdUuid(_Answer):
    id: str
    uuid: str | None
    error: str


class Validation(_Answer):
    id: str | None
    ok: bool
    error: str


class EntityValidationAnswer(Validation):
    entity_type: Literal["schema", "instance"]


class Relationship(_Answer):
    source: str
    target: str
    kind: str
    path: str
    resolved: bool


class Relationships(_Answer):
    """The reachable graph; a lookup that failed has ``ok`` false and ``error`` only."""

    id: str
    ok: bool
    error: str
    found: bool | None = None
    entities: list[str] | None = None
    relationships: list[Relationship] | None = None
    broken_references: list[str] | None = None
    problems: list[str] | None = None


class Compatibility(_Answer):
    old: str
    new: str
    old_type_id: str
    new_type_id: str
    is_backward_compatible: bool
    is_forward_compatible: bool
    is_fully_compatible: bool
    backward_errors: list[str]
    forward_errors: list[str]
    error: str


class CastAnswer(_Answer):
    """The cast entity and what changed; a refused cast has ``casted_entity`` null and why."""

    instance_id: str
    to_type_id: str
    casted_entity: dict[str, Any] | None
    error: str
    from_type_id: str | None = None
    direction: Literal["up", "down", "none"] | None = None
    added_properties: list[str] | None = None
    removed_properties: list[str] | None = None


class QueryAnswer(_Answer):
    expr: str
    limit: int
    count: int
    results: list[dict[str, Any]]
    error: str


class AttrAnswer(_Answer):
    gts_with_path: str
    resolved: bool
    value: Any
    error: str | None
    gts_id: str | None = None
    path: str | None = None


class Detail(_Answer):
    """Starlette's own refusal: a body that cannot be read as JSON at all (invalid UTF-8, say;
    400), or a path that no route matches (404)."""

    detail: str


class NotFound(RootModel[Rejected | Detail]):
    """No entity has this id, or the path is none the app serves (a newline in the id, say)."""


class FieldInvalid(_Answer):
    loc: list[str | int]
    msg: str
    type: str


class RequestInvalid(_Answer):
    """FastAPI's own answer to a malformed request (what its ``HTTPValidationError`` says)."""

    detail: list[FieldInvalid]


class Refusal(RootModel[Rejected | RequestInvalid]):
    """A registration's 422: refused by GTS, or a malformed request."""


def _ok(model: type[BaseModel], *, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an operation that answers ``model`` (and, with a body, a 400 for one
    that is no JSON); FastAPI adds its 422 for malformed parameters and bodies itself."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": model}}
    if body:
        out[400] = {"model": Detail, "description": "the body is not readable as JSON"}
    return out


def _refusable(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A registration: ``model``, or 422 with the suite's refusal or FastAPI's validation error."""
    out = _ok(model, body=True)
    out[422] = {"model": Refusal, "description": "refused (`ok` false and why), or malformed"}
    return out


def _rejected(error: str) -> JSONResponse:
    return JSONResponse(status_code=422, content={"ok": False, "error": error})


def _entity_summary(store: GtsStore, gts_id: str) -> dict[str, Any]:
    entity = store.entity(gts_id)
    if entity is None:
        return {"id": gts_id}
    return {"id": entity.gts_id, "is_type": entity.is_type, "type_id": entity.type_id}


def create_gts_app(store: GtsStore | None = None) -> FastAPI:
    """Build the conformance app around ``store`` (a fresh empty store by default)."""
    gts = store if store is not None else GtsStore()
    app = FastAPI(title="GTS Server", version="0.1.0")
    app.state.store = gts

    # ------------------------------------------------------------ entities

    @app.get("/entities", response_model=None, responses=_ok(EntityList))
    async def list_entities(
        limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        ids = list(gts.ids())
        items = [_entity_summary(gts, i) for i in ids[:limit]]
        return {"entities": items, "count": len(items), "total": len(ids), "limit": limit}

    @app.post("/entities", response_model=None, responses=_refusable(Registered))
    async def register_entity(
        body: Annotated[dict[str, Any], Body()],
        validate: bool = False,
        validation: bool = False,
    ) -> dict[str, Any] | JSONResponse:
        try:
            gts_id = gts.register(body, validate=validate or validation)
        except GtsError as exc:
            return _rejected(str(exc))
        return {"ok": True, "error": "", **_entity_summary(gts, gts_id)}

    @app.post("/entities/bulk", response_model=None, responses=_ok(BulkRegistered, body=True))
    async def register_bulk(body: Annotated[list[dict[str, Any]], Body()]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for doc in body:
            try:
                gts_id = gts.register(doc)
            except GtsError as exc:
                results.append({"ok": False, "id": None, "error": str(exc)})
            else:
                results.append({"ok": True, "id": gts_id, "error": ""})
        registered = sum(1 for r in results if r["ok"])
        return {
            "ok": registered == len(results),
            "registered": registered,
            "failed": len(results) - registered,
            "results": results,
        }

    @app.get(
        "/entities/{gts_id:path}",
        response_model=None,
        responses={
            **_ok(EntityFound),
            404: {"model": NotFound, "description": "no entity has this id"},
        },
    )
    async def get_entity(gts_id: str) -> dict[str, Any] | JSONResponse:
        entity = gts.entity(gts_id)
        if entity is None:
            return JSONResponse(
                status_code=404, content={"ok": False, "error": f"entity {gts_id} not found"}
            )
        return {**_entity_summary(gts, gts_id), "content": gts.get(gts_id)}

    @app.post("/type-schemas", response_model=None, responses=_refusable(Registered))
    async def register_type_schema(body: TypeSchemaRegister) -> dict[str, Any] | JSONResponse:
        try:
            gts_id = gts.register_type_schema(body.type_id, body.type_schema)
        except GtsError as exc:
            return _rejected(str(exc))
        return {"ok": True, "error": "", **_entity_summary(gts, gts_id)}

    # ------------------------------------------------------------ OP#1 - OP#5

    @app.get("/validate-id", response_model=None, responses=_ok(IdValidation))
    async def validate_id(gts_id: str) -> dict[str, Any]:
        error = id_or_pattern_error(gts_id)
        return {"id": gts_id, "valid": not error, "error": error, "is_wildcard": "*" in gts_id}

    @app.post("/extract-id", response_model=None, responses=_ok(IdExtraction, body=True))
    async def extract(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        try:
            ext = extract_id(body)
        except GtsError as exc:
            return {
                "id": None,
                "type_id": None,
                "selected_entity_field": None,
                "selected_type_id_field": None,
                "is_type": "$schema" in body,
                "error": str(exc),
            }
        return {**ext.to_dict(), "error": ""}

    @app.get("/parse-id", response_model=None, responses=_ok(IdParse))
    async def parse_id(gts_id: str) -> dict[str, Any]:
        is_wildcard = "*" in gts_id
        out: dict[str, Any] = {
            "id": gts_id,
            "ok": False,
            "error": "",
            "is_type": False,
            "is_wildcard": is_wildcard,
            "segments": [],
        }
        try:
            if is_wildcard:
                pattern = GtsPattern.parse(gts_id)
                out["segments"] = _pattern_segments(pattern)
                out["is_type"] = gts_id.endswith("~")
            else:
                gid = GtsId.parse(gts_id)
                out["segments"] = [s._asdict() for s in gid.segments]
                out["is_type"] = gid.is_type
        except GtsError as exc:
            out["error"] = str(exc)
            return out
        out["ok"] = True
        return out

    @app.get("/match-id-pattern", response_model=None, responses=_ok(PatternMatch))
    async def match_id_pattern(pattern: str, candidate: str) -> dict[str, Any]:
        out: dict[str, Any] = {"pattern": pattern, "candidate": candidate, "match": False}
        try:
            compiled = GtsPattern.parse(pattern)
        except GtsError as exc:
            return {**out, "error": _prefixed("Invalid pattern", str(exc))}
        error = id_or_pattern_error(candidate)
        if error:
            return {**out, "error": _prefixed("Invalid candidate", error)}
        if compiled.matches(candidate):
            return {**out, "match": True, "error": ""}
        # The suite expects a reason whenever the answer is "no match".
        return {**out, "error": f"candidate {candidate} does not match pattern {pattern}"}

    @app.get("/uuid", response_model=None, responses=_ok(IdUuid))
    async def uuid_of(gts_id: str) -> dict[str, Any]:
        try:
            value = GtsId.parse(gts_id).uuid()
        except GtsIdError as exc:
            return {"id": gts_id, "uuid": None, "error": str(exc)}
        return {"id": gts_id, "uuid": str(value), "error": ""}

    # ------------------------------------------------------------ OP#6, OP#12, OP#13

    @app.post("/validate-instance", response_model=None, responses=_ok(Validation, body=True))
    async def validate_instance(body: ValidateInstanceRequest) -> dict[str, Any]:
        try:
            gts.validate_instance(body.instance_id)
        except GtsError as exc:
            return {"id": body.instance_id, "ok": False, "error": str(exc)}
        return {"id": body.instance_id, "ok": True, "error": ""}

    @app.post("/validate-type-schema", response_model=None, responses=_ok(Validation, body=True))
    async def validate_type_schema(body: ValidateTypeSchemaRequest) -> dict[str, Any]:
        try:
            gts.validate_type_schema(body.type_id)
        except GtsError as exc:
            return {"id": body.type_id, "ok": False, "error": str(exc)}
        return {"id": body.type_id, "ok": True, "error": ""}

    @app.post(
        "/validate-entity", response_model=None, responses=_ok(EntityValidationAnswer, body=True)
    )
    async def validate_entity(body: ValidateEntityRequest) -> dict[str, Any] | JSONResponse:
        entity_id = body.entity_id if body.entity_id is not None else body.gts_id
        if entity_id is None:
            return JSONResponse(
                status_code=422,
                content={
                    "detail": [
                        {
                            "loc": ["body", "entity_id"],
                            "msg": "Field required",
                            "type": "missing",
                        }
                    ]
                },
            )
        return gts.validate_entity(entity_id).to_dict()

    # ------------------------------------------------------------ OP#7 - OP#11

    @app.get("/resolve-relationships", response_model=None, responses=_ok(Relationships))
    async def resolve_relationships(gts_id: str) -> dict[str, Any]:
        try:
            return gts.resolve_relationships(gts_id)
        except GtsError as exc:
            return {"id": gts_id, "ok": False, "error": str(exc)}

    @app.get("/compatibility", response_model=None, responses=_ok(Compatibility))
    async def compatibility(old_type_id: str, new_type_id: str) -> dict[str, Any]:
        return gts.compatibility(old_type_id, new_type_id).to_dict()

    @app.post("/cast", response_model=None, responses=_ok(CastAnswer, body=True))
    async def cast(body: CastRequest) -> dict[str, Any]:
        try:
            return gts.cast_details(body.instance_id, body.to_type_id).to_dict()
        except GtsError as exc:
            return {
                "instance_id": body.instance_id,
                "to_type_id": body.to_type_id,
                "casted_entity": None,
                "error": str(exc),
            }

    @app.get("/query", response_model=None, responses=_ok(QueryAnswer))
    async def query(
        expr: str, limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = 100
    ) -> dict[str, Any]:
        try:
            results = gts.query(expr, limit)
        except GtsError as exc:
            message = str(exc)
            if not message.startswith("Invalid query"):
                message = f"Invalid query: {message}"
            return {"expr": expr, "limit": limit, "count": 0, "results": [], "error": message}
        return {
            "expr": expr,
            "limit": limit,
            "count": len(results),
            "results": results,
            "error": "",
        }

    @app.get("/attr", response_model=None, responses=_ok(AttrAnswer))
    async def attr(gts_with_path: str) -> dict[str, Any]:
        try:
            result = gts.attr(gts_with_path)
        except GtsError as exc:
            return {
                "gts_with_path": gts_with_path,
                "resolved": False,
                "value": None,
                "error": str(exc),
            }
        return {"gts_with_path": gts_with_path, **result.to_dict()}

    return app


def _prefixed(prefix: str, message: str) -> str:
    return message if message.startswith("Invalid") else f"{prefix}: {message}"


def _pattern_segments(pattern: GtsPattern) -> list[dict[str, Any]]:
    """The fully written segments of a wildcard pattern (the trailing partial one is left out)."""
    out: list[dict[str, Any]] = []
    text = pattern.text
    body = text[4:] if text.startswith("gts.") else text
    pieces = body.split("~")
    for index, piece in enumerate(pieces):
        if "*" in piece or not piece:
            break
        try:
            gid = GtsId.parse("gts." + piece + "~")
        except GtsError:
            break
        seg = gid.segments[0]._asdict()
        seg["is_type"] = index < len(pieces) - 1
        out.append(seg)
    return out
