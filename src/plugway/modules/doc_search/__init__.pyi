from ._contract import (
    DOC_SEARCH_CONTRACT,
    DOC_SEARCH_TYPE_ID,
    DocSearchDefaults,
    DocSearchPlugin,
    DocSearchPluginV1_0,
    DocSearchProperties,
    SearchResult,
)
from ._corpus import Corpus, Document, default_corpus, tokenize
from ._module import DocSearchConfig, DocSearchModule
from ._plugins import Bm25Plugin, TfidfPlugin, bm25_plugin, tfidf_plugin
from ._ranking import Bm25Ranker, Hit, TfidfRanker

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
