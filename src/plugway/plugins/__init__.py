"""plugway.plugins: typed plugin contracts, gateways that route each call, hot swap.

What a plugin or gateway author writes against. Routing documents and decisions live in
:mod:`plugway.plugins.routing`; helpers for a plugin package's tests in
:mod:`plugway.plugins.testing`; every error the layer raises in :mod:`plugway.plugins.errors`
(the three a caller catches are here too); wiring an out-of-process plugin by hand in
:mod:`plugway.plugins.remote`.
"""

import lazy_loader

# what the package exports is listed in __init__.pyi (for type checkers); each name
# is imported on first use, so a process loads only the parts it touches
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
