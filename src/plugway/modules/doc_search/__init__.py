"""doc_search: a gateway with a real workload for A/B tests and rollouts — ranking plugins over a
small corpus shipped with the package (BM25 and TF-IDF cosine built in)."""

import lazy_loader

# what the package exports is listed in __init__.pyi (for type checkers); each name
# is imported on first use, so a process loads only the parts it touches
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
