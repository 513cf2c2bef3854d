"""Pydantic validation errors as plugway names them: a field path and a message of our own."""

from __future__ import annotations

__all__ = ["clean_message", "error_path"]


def clean_message(msg: str) -> str:
    """Drop pydantic's "Value error, " prefix so the message reads as ours."""
    return msg.removeprefix("Value error, ")


def error_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic ``loc`` as a field path: ``("rules", 0, "split")`` -> ``rules[0].split``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
