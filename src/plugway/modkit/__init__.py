"""plugway.modkit — modules, their lifecycle, the ClientHub and configuration (layer 3).

Declare a module with ``@module(name=..., deps=..., config=...)`` on a ``Module`` subclass;
a ``Runtime`` orders the enabled modules deterministically, validates their config, and runs
init -> registry ready -> post_init -> start, and stop in reverse with a grace window.
"""

import lazy_loader

# what the package exports is listed in __init__.pyi (for type checkers); each name
# is imported on first use, so a process loads only the parts it touches
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
