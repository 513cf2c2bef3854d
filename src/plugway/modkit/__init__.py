"""plugway.modkit."""

__all__: list[str] = []
