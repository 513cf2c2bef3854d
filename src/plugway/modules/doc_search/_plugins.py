"""The two ranking plugins shipped with doc_search (BM25 and TF-IDF cosine), declared for the
``plugway.plugins`` entry point group exactly as a third-party package would declare them."""

from __future__ import annotations

from plugway.modules.doc_search._contract import DOC_SEARCH_CONTRACT, DocSearchPlugin, SearchResult
from plugway.modules.doc_search._corpus import default_corpus
from plugway.modules.doc_search._ranking import Bm25Ranker, TfidfRanker
from plugway.plugins import PluginDeclaration, PluginSetup, SecurityContext

__all__ = ["Bm25Plugin", "TfidfPlugin", "bm25_plugin", "tfidf_plugin"]

VENDOR = "plugway"


class _RankerPlugin:
    """Shared plumbing: search with a ranker, suggest from titles."""

    algorithm = ""

    def __init__(self, plugin_id: str, ranker: Bm25Ranker | TfidfRanker) -> None:
        self._plugin_id = plugin_id
        self._ranker = ranker

    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        hits = tuple(self._ranker.search(query, limit))
        return SearchResult(plugin_id=self._plugin_id, algorithm=self.algorithm, hits=hits)

    async def suggest(self, ctx: SecurityContext, prefix: str, limit: int) -> list[str]:
        wanted = prefix.strip().lower()
        if not wanted:
            return []
        titles = [d.title for d in default_corpus() if d.title.lower().startswith(wanted)]
        return sorted(titles)[:limit]


class Bm25Plugin(_RankerPlugin):
    algorithm = "bm25"

    def __init__(self, plugin_id: str, *, k1: float = 1.2, b: float = 0.75) -> None:
        super().__init__(plugin_id, Bm25Ranker(default_corpus(), k1=k1, b=b))


class TfidfPlugin(_RankerPlugin):
    algorithm = "tfidf"

    def __init__(self, plugin_id: str) -> None:
        super().__init__(plugin_id, TfidfRanker(default_corpus()))


# The factories are typed with the contract's Protocol: mypy --strict thereby proves that each
# shipped plugin satisfies the contract; the gateway checks it again at run time.


def _bm25(setup: PluginSetup) -> DocSearchPlugin:
    k1 = float(setup.config.get("k1", 1.2))
    b = float(setup.config.get("b", 0.75))
    return Bm25Plugin(setup.plugin_id, k1=k1, b=b)


def _tfidf(setup: PluginSetup) -> DocSearchPlugin:
    return TfidfPlugin(setup.plugin_id)


bm25_plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="plugway.builtin.bm25_ranker.plugin.v1",
    vendor=VENDOR,
    priority=100,
    properties={"algorithm": "bm25", "description": "Okapi BM25 (k1=1.2, b=0.75)"},
    factory=_bm25,
    description="BM25 ranking over the shipped corpus",
)

tfidf_plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="plugway.builtin.tfidf_ranker.plugin.v1",
    vendor=VENDOR,
    priority=200,
    properties={"algorithm": "tfidf", "description": "TF-IDF vectors, cosine similarity"},
    factory=_tfidf,
    description="TF-IDF cosine ranking over the shipped corpus",
)
