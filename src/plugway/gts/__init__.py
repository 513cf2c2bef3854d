"""plugway.gts."""

__all__: list[str] = []
