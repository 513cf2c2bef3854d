"""The conformance app's request bodies and answers, as gts-spec's ``tests/openapi.json`` has them.

The answer models are declared with ``responses=`` and ``response_model=None``: the handlers'
own dicts go out as they are (the suite's wire shapes, byte for byte), and these models say in
OpenAPI what they hold.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel

__all__ = [
    "AttrAnswer",
    "BulkRegistered",
    "CastAnswer",
    "CastRequest",
    "Compatibility",
    "EntityFound",
    "EntityList",
    "EntityValidationAnswer",
    "IdExtraction",
    "IdParse",
    "IdUuid",
    "IdValidation",
    "NotFound",
    "PatternMatch",
    "QueryAnswer",
    "Registered",
    "Relationships",
    "TypeSchemaRegister",
    "ValidateEntityRequest",
    "ValidateInstanceRequest",
    "ValidateTypeSchemaRequest",
    "Validation",
    "ok_responses",
    "refusable_responses",
]


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


def ok_responses(model: type[BaseModel], *, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an operation that answers ``model`` (and, with a body, a 400 for one
    that is no JSON); FastAPI adds its 422 for malformed parameters and bodies itself."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": model}}
    if body:
        out[400] = {"model": Detail, "description": "the body is not readable as JSON"}
    return out


def refusable_responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A registration: ``model``, or 422 with the suite's refusal or FastAPI's validation error."""
    out = ok_responses(model, body=True)
    out[422] = {"model": Refusal, "description": "refused (`ok` false and why), or malformed"}
    return out
