"""plugway.gts: the Global Type System library (layer 1: pure, no I/O)."""

import lazy_loader

# what the package exports is listed in __init__.pyi (for type checkers); each name is
# imported on first use: a plugin host that only parses ids loads neither the schema validator
# nor the compatibility checker
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
