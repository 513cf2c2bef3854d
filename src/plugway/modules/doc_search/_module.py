"""The doc_search gateway module: document search whose ranking is a routed plugin.

``GET /doc-search/v1/search?q=...`` takes the tenant and subject from the ``X-Tenant-Id`` and
``X-Subject-Id`` headers (and request attributes from ``X-Attr-<name>``), so routing rules can
split users between rankers (A/B), roll a new ranker out by percentage, or shadow it. The answer
names the plugin that actually served, which differs from the routed one after a fallback.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from plugway.modkit import ModuleConfig, ModuleContext, module
from plugway.modules.doc_search._contract import DOC_SEARCH_CONTRACT, SearchResult
from plugway.modules.doc_search._corpus import default_corpus
from plugway.modules.plugins_admin import context_from_headers, problem_from_plugin_error
from plugway.plugins import GatewayModule, PluginError
from plugway.server import FieldProblem, ProblemError

__all__ = ["DocSearchConfig", "DocSearchModule"]

PREFIX = "/doc-search/v1"


class DocSearchConfig(ModuleConfig):
    """``modules.doc_search.config``."""

    default_limit: int = Field(default=10, ge=1, le=100)
    max_limit: int = Field(default=50, ge=1, le=1000)


@module(name="doc_search", config=DocSearchConfig)
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

        @router.get("/search", summary="Search the corpus with the routed ranking plugin")
        async def search(
            request: Request,
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
            ctx = context_from_headers(request)
            gw = self.gateway
            decision = gw.decide(ctx)
            try:
                result: SearchResult = await gw.client.search(
                    ctx, q, limit or self._config.default_limit
                )
            except PluginError as exc:
                raise problem_from_plugin_error(exc) from None
            return {
                "query": q,
                "plugin": result.plugin_id,
                "algorithm": result.algorithm,
                "routed_to": decision.plugin_id,
                "rule": decision.rule_name,
                "revision": decision.revision,
                "fallback": result.plugin_id != decision.plugin_id,
                "hits": [{"id": h.doc_id, "title": h.title, "score": h.score} for h in result.hits],
            }

        @router.get("/suggest", summary="Titles completing a prefix (contract 1.1)")
        async def suggest(
            request: Request,
            prefix: str = Query(min_length=1, max_length=100),
            limit: int = Query(default=5, ge=1, le=50),
        ) -> dict[str, Any]:
            ctx = context_from_headers(request)
            try:
                titles = await self.gateway.client.suggest(ctx, prefix, limit)
            except PluginError as exc:
                raise problem_from_plugin_error(exc) from None
            return {"prefix": prefix, "suggestions": list(titles)}

        @router.get("/documents/{doc_id}", summary="One document of the corpus")
        async def document(doc_id: str) -> dict[str, Any]:
            doc = default_corpus().get(doc_id)
            if doc is None:
                raise ProblemError(404, "doc_search.not_found", f"no document {doc_id!r}")
            return {"id": doc.id, "title": doc.title, "body": doc.body, "tags": list(doc.tags)}

        return router
