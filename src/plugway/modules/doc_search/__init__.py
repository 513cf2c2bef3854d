"""doc_search: a gateway with a real workload for A/B tests and rollouts — ranking plugins over a
small corpus shipped with the package (BM25 and TF-IDF cosine built in)."""

from __future__ import annotations

from plugway.modules.doc_search._contract import (
    DOC_SEARCH_CONTRACT,
    DOC_SEARCH_TYPE_ID,
    DocSearchDefaults,
    DocSearchPlugin,
    DocSearchPluginV1_0,
    DocSearchProperties,
    SearchResult,
)
from plugway.modules.doc_search._corpus import Corpus, Document, default_corpus, tokenize
from plugway.modules.doc_search._module import DocSearchConfig, DocSearchModule
from plugway.modules.doc_search._plugins import Bm25Plugin, TfidfPlugin, bm25_plugin, tfidf_plugin
from plugway.modules.doc_search._ranking import Bm25Ranker, Hit, TfidfRanker

__all__ = [
    "DOC_SEARCH_CONTRACT",
    "DOC_SEARCH_TYPE_ID",
    "Bm25Plugin",
    "Bm25Ranker",
    "Corpus",
    "DocSearchConfig",
    "DocSearchDefaults",
    "DocSearchModule",
    "DocSearchPlugin",
    "DocSearchPluginV1_0",
    "DocSearchProperties",
    "Document",
    "Hit",
    "SearchResult",
    "TfidfPlugin",
    "TfidfRanker",
    "bm25_plugin",
    "default_corpus",
    "tfidf_plugin",
    "tokenize",
]
