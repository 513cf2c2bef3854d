"""The registry's REST routes: list, get, register (a batch, a result per item), remove."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from plugway.gts import extract_id, is_valid_gts_id
from plugway.plugins._host_credentials import HostCredentials, HostLaunch
from plugway.registry import (
    PLUGIN_BASE_TYPE_ID,
    EntityQuery,
    RegistryError,
    RegistryQueryError,
    TypesRegistry,
)
from plugway.server import (
    ADMIN_BEARER,
    HOST_BEARER,
    BodyLimit,
    FieldProblem,
    ProblemCode,
    ProblemError,
    bearer_guard,
    host_caller,
    problem_from_registry_error,
    problem_responses,
)

from ._answers import (
    BulkResultOut,
    EntityOut,
    EntityPageOut,
    RemovedOut,
    entity_to_dict,
    item_result,
)
from ._host_writes import HostCaller, admitted, refused_result

__all__ = ["PREFIX", "Limits", "build_router"]

PREFIX = "/types-registry/v1"
_DEFAULT_PAGE = 100

_LIST_PARAMS = frozenset(
    {"pattern", "kind", "vendor", "package", "namespace", "segment_scope", "limit", "cursor"}
)


def _plugin_instances_only(entities: Sequence[Any]) -> None:
    """A plugin host's token registers plugin instances and nothing else (403 naming the item)."""
    for i, doc in enumerate(entities):
        found = extract_id(doc) if isinstance(doc, Mapping) else None  # the registry's own rule
        gid = None if found is None else found.id
        plugin_instance = (
            found is not None
            and gid is not None
            and not found.is_type
            and not gid.endswith("~")  # an id naming a type, whatever the document says
            and gid.startswith(PLUGIN_BASE_TYPE_ID)
        )
        if not plugin_instance:
            shown = repr(gid) if gid is not None else "no id"
            raise ProblemError(
                403,
                ProblemCode.AUTH_FORBIDDEN,
                f"the host token may only register plugin instances ({PLUGIN_BASE_TYPE_ID}...); "
                f"item {i} ({shown}) is not one: use the admin token",
            )


def _query_refused(names: list[str], detail: str, why: str, code: str) -> ProblemError:
    """A 400 whose ``detail`` lists ``names``, each query parameter named (``query.<name>``)
    with ``why``."""
    return ProblemError(
        400,
        ProblemCode.REQUEST_INVALID,
        f"{detail}: {', '.join(names)}",
        errors=[FieldProblem(f"query.{name}", why, code) for name in names],
    )


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch: int
    max_page: int
    admin_token: str | None
    host_token: str | None = None
    launches: HostCredentials | None = None  # supervised hosts' launch tokens


_HANDSHAKE_WAIT = 2.0  # seconds a launch's first registration may wait for its handshake

RegistryGetter = Callable[[], TypesRegistry | None]


def _not_ready() -> ProblemError:
    return ProblemError(
        503,
        ProblemCode.REGISTRY_NOT_READY,
        "the types registry is not ready yet (start-up has not finished)",
        headers={"Retry-After": "1"},
    )


_NOT_READY = problem_responses(
    (503, "`registry.not_ready`: start-up has not finished (Retry-After)")
)


def _check_id(gts_id: str) -> None:
    """A malformed id in the path is the caller's: 400 naming ``path.gts_id``."""
    if not is_valid_gts_id(gts_id):
        raise ProblemError(
            400,
            ProblemCode.REGISTRY_INVALID_ID,
            f"{gts_id!r} is not a valid GTS id",
            errors=[FieldProblem("path.gts_id", "not a valid GTS id", "invalid_gts_id")],
        )


def build_router(
    get_registry: RegistryGetter,
    *,
    max_batch: int = 10_000,
    max_page: int = 1_000,
    admin_token: str | None = None,
    host_token: str | None = None,
    launches: HostCredentials | None = None,
    get_limits: Callable[[], Limits] | None = None,
    protect_writes: bool = True,
    max_body_bytes: int | Callable[[], int] = 32 * 1024 * 1024,
    write_threads: int = 1,
) -> APIRouter:
    """The registry's routes over whatever ``get_registry`` returns at request time.

    ``get_registry`` returns None while the registry does not exist yet; both that and a registry
    that has not switched to ready answer 503. ``get_limits`` (if given) overrides the fixed
    limits at request time, for a module whose config is only known after ``init``. With
    ``protect_writes`` the POST declares ``Security(ADMIN_BEARER)`` (the server checks the token
    before reading the body); without it the POST is open. ``max_body_bytes`` is the POST's
    body limit (a number or a function read at each request). A request with a supervised
    host's launch token (from ``launches``) or ``host_token`` may register plugin instances only,
    item by item as :mod:`._host_writes` allows.

    A registration validates every item against the whole registry, which can take seconds for
    a large batch: it runs in one of ``write_threads`` worker threads, so the event loop (and
    ``/healthz``, and every other request) keeps serving meanwhile. Registry listeners still run
    on the event loop, as they would for a registration made there.
    """
    # Threads start on first use and end when the router is dropped.
    writers = ThreadPoolExecutor(write_threads, thread_name_prefix="types-registry-write")

    def limits() -> Limits:
        if get_limits is not None:
            return get_limits()
        return Limits(max_batch, max_page, admin_token, host_token, launches)

    def ready_registry() -> TypesRegistry:
        registry = get_registry()
        if registry is None or not registry.is_ready:
            raise _not_ready()
        return registry

    async def write_guard(
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_BEARER)] = None,
    ) -> None:
        # ``_declared`` only puts the bearer scheme in OpenAPI; the guard reads the header.
        bearer_guard(limits().admin_token)(request)

    async def register_guard(
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Security(HOST_BEARER)] = None,
    ) -> HostCaller:
        """The plugin host calling (plugin instances only), else None for the admin token."""
        lim = limits()
        caller = host_caller(request, lim.admin_token, lim.host_token, lim.launches)
        if caller is None:
            bearer_guard(lim.admin_token)(request)
        return await _listening(request, caller)

    async def open_caller(request: Request) -> HostCaller:
        """Writes are open to anyone; a supervised host's launch is still told apart (its
        items are checked and stamped as on a protected registry)."""
        caller = host_caller(request, None, None, limits().launches)
        return await _listening(request, caller)

    async def _listening(request: Request, caller: HostCaller) -> HostCaller:
        """A launch registering before the supervisor has read its handshake waits for it (a
        host may register the moment it prints the line): its URL is what it may register."""
        launches = limits().launches
        if not isinstance(caller, HostLaunch) or caller.url is not None or launches is None:
            return caller
        found = await launches.wait_listening(
            request.headers.get("authorization"), within=_HANDSHAKE_WAIT
        )
        if found is None or found.url is None:
            raise ProblemError(
                503,
                ProblemCode.REGISTRY_NOT_READY,
                f"supervised host {caller.host} has not handshaken yet: register again once "
                "it has printed its handshake line",
                headers={"Retry-After": "1"},
            )
        return found

    router = APIRouter(prefix=PREFIX, tags=["types-registry"], responses=_NOT_READY)

    @router.get(
        "/entities",
        operation_id="types_registry.list",
        summary="List entities, filtered, one page at a time",
        response_model=EntityPageOut,
        responses=problem_responses(
            (
                400,
                "`request.invalid` (an unknown or repeated parameter, a limit above max_page) "
                "or `registry.invalid_query` (a malformed pattern or cursor)",
            )
        ),
    )
    async def list_entities(
        request: Request,
        pattern: Annotated[str | None, Query(description="GTS pattern, e.g. gts.acme.*")] = None,
        kind: Annotated[Literal["type", "instance"] | None, Query()] = None,
        vendor: Annotated[str | None, Query()] = None,
        package: Annotated[str | None, Query()] = None,
        namespace: Annotated[str | None, Query()] = None,
        segment_scope: Annotated[
            Literal["primary", "any"],
            Query(description="match vendor/package/namespace on the first or any segment"),
        ] = "any",
        limit: Annotated[
            int | None, Query(ge=1, description="page size (default 100, at most max_page)")
        ] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> dict[str, Any]:
        unknown = sorted(set(request.query_params.keys()) - _LIST_PARAMS)
        if unknown:
            raise _query_refused(
                unknown,
                "unknown query parameter(s)",
                "unknown query parameter",
                "unknown_parameter",
            )
        repeated = sorted(
            {name for name in request.query_params if len(request.query_params.getlist(name)) > 1}
        )
        if repeated:
            raise _query_refused(
                repeated,
                "query parameter(s) given more than once",
                "given more than once",
                "repeated_parameter",
            )
        page_max = limits().max_page
        if limit is None:
            limit = min(_DEFAULT_PAGE, page_max)
        elif limit > page_max:
            raise ProblemError(
                400,
                ProblemCode.REQUEST_INVALID,
                f"limit {limit} is above the maximum page size {page_max}",
                errors=[
                    FieldProblem("query.limit", f"must be at most {page_max}", "less_than_equal")
                ],
            )
        registry = ready_registry()
        query = EntityQuery(
            pattern=pattern,
            is_type=None if kind is None else kind == "type",
            vendor=vendor,
            package=package,
            namespace=namespace,
            segment_scope=segment_scope,
            limit=limit,
            cursor=cursor,
        )
        try:
            page = registry.list(query)
        except RegistryQueryError as exc:
            problem = problem_from_registry_error(exc)
            if exc.field is not None:
                name = "kind" if exc.field == "is_type" else exc.field
                problem = ProblemError(
                    problem.status,
                    problem.code,
                    problem.detail,
                    errors=[FieldProblem(f"query.{name}", str(exc), problem.code)],
                )
            raise problem from exc
        except RegistryError as exc:
            raise problem_from_registry_error(exc) from exc
        return {
            "items": [entity_to_dict(e) for e in page.items],
            "next_cursor": page.next_cursor,
        }

    @router.post(
        "/entities",
        operation_id="types_registry.register",
        summary="Register a batch of entities (a JSON array); one result per item",
        response_model=BulkResultOut,
        responses={
            200: {"description": "every item ok, nothing new", "model": BulkResultOut},
            201: {"description": "every item ok, at least one created", "model": BulkResultOut},
            207: {
                "description": "some items failed: each result has the status and code a "
                "single registration would get (403 `auth.forbidden` for an item a plugin "
                "host may not register: another's plugin id, an endpoint not its own)",
                "model": BulkResultOut,
            },
            **problem_responses(
                (
                    403,
                    "`auth.forbidden`: the host token, with an item that is not a plugin "
                    "instance (the host token registers plugin instances only)",
                ),
                (413, "`request.too_large`: more entities than max_batch in one request"),
                (
                    503,
                    "`registry.not_ready`: start-up has not finished, or a supervised host "
                    "registers before its handshake was read (Retry-After)",
                ),
            ),
        },
        dependencies=[Depends(BodyLimit(max_body_bytes))],
    )
    async def register_entities(
        entities: Annotated[list[Any], Body(description="GTS type schemas and/or instances")],
        # a default, not Annotated: the annotation is a string, which cannot name a closure
        caller: HostCaller = Depends(register_guard if protect_writes else open_caller),  # noqa: B008
    ) -> JSONResponse:
        if caller is not None:
            _plugin_instances_only(entities)
        batch_max = limits().max_batch
        if len(entities) > batch_max:
            raise ProblemError(
                413,
                ProblemCode.REQUEST_TOO_LARGE,
                f"{len(entities)} entities in one request; at most {batch_max} are accepted",
            )
        registry = ready_registry()
        docs: Sequence[Mapping[str, Any]] = entities
        loop = asyncio.get_running_loop()
        # listeners (a gateway's resync, which may commit a routing revision) run in the writer
        # thread before the answer: off the event loop, and seen by the client's next request
        register = functools.partial(_register, registry, docs, caller)
        try:
            items = await loop.run_in_executor(writers, register)
        except RegistryError as exc:
            raise problem_from_registry_error(exc) from exc
        failed = sum(1 for it in items if not it["ok"])
        created = sum(1 for it in items if it["created"])
        body = {
            "summary": {
                "total": len(items),
                "succeeded": len(items) - failed,
                "failed": failed,
                "created": created,
            },
            "results": items,
        }
        status = 207 if failed else (201 if created else 200)
        return JSONResponse(body, status_code=status)

    @router.get(
        "/entities/{gts_id}",
        operation_id="types_registry.get",
        summary="Get one entity by its GTS id",
        response_model=EntityOut,
        responses=problem_responses(
            (400, "`registry.invalid_id`: not a valid GTS id"),
            (404, "`registry.not_found`: no entity has this id"),
        ),
    )
    async def get_entity(
        gts_id: Annotated[str, Path(description="a GTS id")],
    ) -> dict[str, Any]:
        registry = ready_registry()
        _check_id(gts_id)
        try:
            entity = registry.get(gts_id)
        except RegistryError as exc:
            raise problem_from_registry_error(exc) from exc
        return entity_to_dict(entity)

    @router.delete(
        "/entities/{gts_id}",
        operation_id="types_registry.remove",
        summary="Remove one entity (a plugin instance leaves its gateway's routing at once)",
        response_model=RemovedOut,
        responses=problem_responses(
            (400, "`registry.invalid_id`: not a valid GTS id"),
            (404, "`registry.not_found`: no entity has this id"),
            (409, "`registry.in_use`: the built-in base type, or a type others depend on"),
        ),
        dependencies=[Depends(write_guard)] if protect_writes else [],
    )
    async def remove_entity(
        gts_id: Annotated[str, Path(description="a GTS id")],
    ) -> dict[str, Any]:
        registry = ready_registry()
        _check_id(gts_id)
        loop = asyncio.get_running_loop()
        try:  # off the event loop, as registrations: listeners (gateways) resync meanwhile
            await loop.run_in_executor(writers, registry.remove, gts_id)
        except RegistryError as exc:
            raise problem_from_registry_error(exc) from exc
        return {"gts_id": gts_id, "removed": True}

    return router


def _register(
    registry: TypesRegistry, docs: Sequence[Mapping[str, Any]], caller: HostCaller
) -> list[dict[str, Any]]:
    """Register a batch, one result per item; a host's items are checked (and stamped) first,
    in the writer thread, so no other write comes between the check and the registration."""
    if caller is None:
        return [item_result(i, r) for i, r in enumerate(registry.register_many(docs))]

    def stored(gts_id: str) -> Mapping[str, Any] | None:
        try:
            return registry.get(gts_id).content
        except RegistryError:
            return None

    allowed, refused = admitted(caller, docs, stored)
    results = registry.register_many([doc for _, doc in allowed]) if allowed else []
    items = {i: item_result(i, r) for (i, _), r in zip(allowed, results, strict=True)}
    items.update({i: refused_result(i, docs[i], why) for i, why in refused.items()})
    return [items[i] for i in range(len(docs))]
