"""A pydantic error location as the field path every plugway error names."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["field_path"]


def field_path(loc: Sequence[str | int]) -> str:
    """``("rules", 0, "split")`` -> ``rules[0].split``: keys dotted, list indexes bracketed."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
