"""A third doc_search ranking plugin, shipped as its own distribution.

plugway never imports this package by name: its ``plugway.plugins`` entry point
(``coverage_ranker = plugway_example_ranker:plugin``) is how the doc_search gateway finds it.
It is written against contract 1.0, before ``suggest`` existed, so the gateway serves
``suggest`` for it from the contract's default — version negotiation at work.
"""

from __future__ import annotations

from plugway.modules.doc_search import (
    DOC_SEARCH_CONTRACT,
    DocSearchPluginV1_0,
    Hit,
    SearchResult,
    default_corpus,
    tokenize,
)
from plugway.plugins import PluginDeclaration, PluginSetup, SecurityContext

__all__ = ["CoverageRanker", "plugin"]


class CoverageRanker:
    """Scores a document by the share of distinct query terms it contains; a term found in the
    title counts ``title_weight`` times. Coarse on purpose: it ranks differently enough from
    BM25 and TF-IDF to show up in an A/B test."""

    def __init__(self, plugin_id: str, *, title_weight: float = 2.0) -> None:
        self._plugin_id = plugin_id
        self._title_weight = title_weight
        corpus = default_corpus()
        self._docs = [
            (doc, frozenset(tokenize(doc.title)), frozenset(tokenize(doc.body))) for doc in corpus
        ]

    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        terms = set(tokenize(query))
        scored: list[tuple[float, str, str]] = []
        if terms:
            for doc, title, body in self._docs:
                score = sum(
                    self._title_weight if t in title else 1.0 if t in body else 0.0 for t in terms
                ) / len(terms)
                if score > 0:
                    scored.append((score, doc.id, doc.title))
        scored.sort(key=lambda s: (-s[0], s[1]))
        hits = tuple(Hit(doc_id=i, title=t, score=round(s, 6)) for s, i, t in scored[:limit])
        return SearchResult(plugin_id=self._plugin_id, algorithm="coverage", hits=hits)


# Typed with the 1.0 face of the contract, the version this plugin states: mypy --strict
# (CI runs it over this package) thereby proves CoverageRanker satisfies it.
def _build(setup: PluginSetup) -> DocSearchPluginV1_0:
    return CoverageRanker(
        setup.plugin_id, title_weight=float(setup.config.get("title_weight", 2.0))
    )


plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="example.ranker.coverage_ranker.plugin.v1",
    vendor="example",
    priority=300,
    properties={"algorithm": "coverage", "description": "query-term coverage, title boosted"},
    factory=_build,
    contract_version="1.0",
    description="query-term coverage ranking (example third-party plugin)",
)
