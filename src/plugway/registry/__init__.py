"""plugway.registry — the Types Registry (layer 2): storage, two phases, queries, events."""

import lazy_loader

# what the package exports is listed in __init__.pyi (for type checkers); each name
# is imported on first use, so a process loads only the parts it touches
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
