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

from typing import Annotated, Any

from fastapi import Body, FastAPI, Query
from fastapi.responses import JSONResponse

from plugway.gts import (
    GtsError,
    GtsId,
    GtsIdError,
    GtsPattern,
    GtsStore,
    extract_id,
    id_or_pattern_error,
)

from ._gts_wire import (
    AttrAnswer,
    BulkRegistered,
    CastAnswer,
    CastRequest,
    Compatibility,
    EntityFound,
    EntityList,
    EntityValidationAnswer,
    IdExtraction,
    IdParse,
    IdUuid,
    IdValidation,
    NotFound,
    PatternMatch,
    QueryAnswer,
    Registered,
    Relationships,
    TypeSchemaRegister,
    ValidateEntityRequest,
    ValidateInstanceRequest,
    ValidateTypeSchemaRequest,
    Validation,
    ok_responses,
    refusable_responses,
)

__all__ = ["create_gts_app"]

_MAX_LIMIT = 1000


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

    @app.get("/entities", response_model=None, responses=ok_responses(EntityList))
    async def list_entities(
        limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        ids = list(gts.ids())
        items = [_entity_summary(gts, i) for i in ids[:limit]]
        return {"entities": items, "count": len(items), "total": len(ids), "limit": limit}

    @app.post("/entities", response_model=None, responses=refusable_responses(Registered))
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

    @app.post(
        "/entities/bulk", response_model=None, responses=ok_responses(BulkRegistered, body=True)
    )
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
            **ok_responses(EntityFound),
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

    @app.post("/type-schemas", response_model=None, responses=refusable_responses(Registered))
    async def register_type_schema(body: TypeSchemaRegister) -> dict[str, Any] | JSONResponse:
        try:
            gts_id = gts.register_type_schema(body.type_id, body.type_schema)
        except GtsError as exc:
            return _rejected(str(exc))
        return {"ok": True, "error": "", **_entity_summary(gts, gts_id)}

    # ------------------------------------------------------------ OP#1 - OP#5

    @app.get("/validate-id", response_model=None, responses=ok_responses(IdValidation))
    async def validate_id(gts_id: str) -> dict[str, Any]:
        error = id_or_pattern_error(gts_id)
        return {"id": gts_id, "valid": not error, "error": error, "is_wildcard": "*" in gts_id}

    @app.post("/extract-id", response_model=None, responses=ok_responses(IdExtraction, body=True))
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

    @app.get("/parse-id", response_model=None, responses=ok_responses(IdParse))
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

    @app.get("/match-id-pattern", response_model=None, responses=ok_responses(PatternMatch))
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

    @app.get("/uuid", response_model=None, responses=ok_responses(IdUuid))
    async def uuid_of(gts_id: str) -> dict[str, Any]:
        try:
            value = GtsId.parse(gts_id).uuid()
        except GtsIdError as exc:
            return {"id": gts_id, "uuid": None, "error": str(exc)}
        return {"id": gts_id, "uuid": str(value), "error": ""}

    # ------------------------------------------------------------ OP#6, OP#12, OP#13

    @app.post(
        "/validate-instance", response_model=None, responses=ok_responses(Validation, body=True)
    )
    async def validate_instance(body: ValidateInstanceRequest) -> dict[str, Any]:
        try:
            gts.validate_instance(body.instance_id)
        except GtsError as exc:
            return {"id": body.instance_id, "ok": False, "error": str(exc)}
        return {"id": body.instance_id, "ok": True, "error": ""}

    @app.post(
        "/validate-type-schema", response_model=None, responses=ok_responses(Validation, body=True)
    )
    async def validate_type_schema(body: ValidateTypeSchemaRequest) -> dict[str, Any]:
        try:
            gts.validate_type_schema(body.type_id)
        except GtsError as exc:
            return {"id": body.type_id, "ok": False, "error": str(exc)}
        return {"id": body.type_id, "ok": True, "error": ""}

    @app.post(
        "/validate-entity",
        response_model=None,
        responses=ok_responses(EntityValidationAnswer, body=True),
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

    @app.get("/resolve-relationships", response_model=None, responses=ok_responses(Relationships))
    async def resolve_relationships(gts_id: str) -> dict[str, Any]:
        try:
            return gts.resolve_relationships(gts_id)
        except GtsError as exc:
            return {"id": gts_id, "ok": False, "error": str(exc)}

    @app.get("/compatibility", response_model=None, responses=ok_responses(Compatibility))
    async def compatibility(old_type_id: str, new_type_id: str) -> dict[str, Any]:
        return gts.compatibility(old_type_id, new_type_id).to_dict()

    @app.post("/cast", response_model=None, responses=ok_responses(CastAnswer, body=True))
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

    @app.get("/query", response_model=None, responses=ok_responses(QueryAnswer))
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

    @app.get("/attr", response_model=None, responses=ok_responses(AttrAnswer))
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
