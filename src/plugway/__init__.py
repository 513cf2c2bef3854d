"""plugway: gateways with typed, routed, hot-swappable plugins over a GTS registry."""

__version__ = "0.1.0"
__all__ = ["__version__"]
