"""The doc_search gateway module: document search whose ranking is a routed plugin.

``GET /doc-search/v1/search?q=...`` takes the tenant and subject from the ``X-Tenant-Id`` and
``X-Subject-Id`` headers (and request attributes from ``X-Attr-<name>``), so routing rules can
split users between rankers (A/B), roll a new ranker out by percentage, or shadow it. The answer
says what served, from the outcome of that very call: the plugin (which differs from the routed
one after a fallback), the rule and the routing revision.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from plugway.modkit import ModuleConfig, ModuleContext, module
from plugway.modules.doc_search._contract import DOC_SEARCH_CONTRACT, SearchResult
from plugway.modules.doc_search._corpus import default_corpus
from plugway.plugins import GatewayModule, SecurityContext
from plugway.server import FieldProblem, ProblemError, gateway_context, problem_responses

__all__ = ["DocSearchConfig", "DocSearchModule"]

PREFIX = "/doc-search/v1"


class DocSearchConfig(ModuleConfig):
    """``modules.doc_search.config``."""

    default_limit: int = Field(default=10, ge=1, le=100)
    max_limit: int = Field(default=50, ge=1, le=1000)


Context = Annotated[SecurityContext, Depends(gateway_context)]


class HitOut(BaseModel):
    id: str
    title: str
    score: float


class SearchAnswer(BaseModel):
    """The hits, and what served them (from the outcome of this very call)."""

    query: str
    plugin: str = Field(description="the plugin that served (after any fallback)")
    algorithm: str
    routed_to: str = Field(description="the plugin routing chose first")
    rule: str | None = Field(description="the routing rule that chose it (null: the default)")
    revision: int
    fallback: bool
    hits: list[HitOut]


class SuggestAnswer(BaseModel):
    prefix: str
    suggestions: list[str]
    plugin: str
    revision: int


class DocumentOut(BaseModel):
    id: str
    title: str
    body: str
    tags: list[str]


# A call through the gateway: its failures are problems naming the gateway, plugin and tries.
_CALL_PROBLEMS = problem_responses(
    (400, "`request.invalid`: a parameter or a context header is invalid"),
    (
        503,
        "`gateway.call_failed` (every plugin tried failed), `gateway.no_plugin` or "
        "`plugins.not_ready`",
    ),
)


@module(name="doc_search", deps=("plugins",), config=DocSearchConfig)
class DocSearchModule(GatewayModule):
    """Gateway over ranking plugins (BM25 and TF-IDF shipped; more via entry points)."""

    contract = DOC_SEARCH_CONTRACT

    def __init__(self) -> None:
        super().__init__()
        self._config = DocSearchConfig()

    async def init(self, ctx: ModuleContext) -> None:
        self._config = ctx.config_as(DocSearchConfig)
        await super().init(ctx)

    def rest_router(self) -> APIRouter:
        router = APIRouter(prefix=PREFIX, tags=["doc_search"])

        @router.get(
            "/search",
            summary="Search the corpus with the routed ranking plugin",
            response_model=SearchAnswer,
            responses=_CALL_PROBLEMS,
        )
        async def search(
            ctx: Context,
            q: str = Query(min_length=1, max_length=500),
            limit: int | None = Query(default=None, ge=1),
        ) -> dict[str, Any]:
            if limit is not None and limit > self._config.max_limit:
                message = f"limit must be at most {self._config.max_limit}"
                raise ProblemError(
                    400,
                    "request.invalid",
                    message,
                    errors=[FieldProblem("query.limit", message, "less_than_equal")],
                )
            outcome = await self.gateway.call_with_outcome(
                "search", ctx, q, limit or self._config.default_limit
            )
            result: SearchResult = outcome.result
            routed_to = outcome.attempts[0].plugin if outcome.attempts else outcome.plugin
            return {
                "query": q,
                "plugin": outcome.plugin,
                "algorithm": result.algorithm,
                "routed_to": routed_to,
                "rule": None if outcome.rule_index is None else outcome.rule,
                "revision": outcome.revision,
                "fallback": outcome.plugin != routed_to,
                "hits": [{"id": h.doc_id, "title": h.title, "score": h.score} for h in result.hits],
            }

        @router.get(
            "/suggest",
            summary="Titles completing a prefix (contract 1.1)",
            response_model=SuggestAnswer,
            responses=_CALL_PROBLEMS,
        )
        async def suggest(
            ctx: Context,
            prefix: str = Query(min_length=1, max_length=100),
            limit: int = Query(default=5, ge=1, le=50),
        ) -> dict[str, Any]:
            outcome = await self.gateway.call_with_outcome("suggest", ctx, prefix, limit)
            return {
                "prefix": prefix,
                "suggestions": list(outcome.result),
                "plugin": outcome.plugin,
                "revision": outcome.revision,
            }

        @router.get(
            "/documents/{doc_id}",
            summary="One document of the corpus",
            response_model=DocumentOut,
            responses=problem_responses((404, "`doc_search.not_found`: no such document")),
        )
        async def document(doc_id: str) -> dict[str, Any]:
            doc = default_corpus().get(doc_id)
            if doc is None:
                raise ProblemError(404, "doc_search.not_found", f"no document {doc_id!r}")
            return {"id": doc.id, "title": doc.title, "body": doc.body, "tags": list(doc.tags)}

        return router
