"""Pydantic validation messages as plugway words them (field paths: ``modkit.field_path``)."""

from __future__ import annotations

__all__ = ["clean_message"]


def clean_message(msg: str) -> str:
    """Drop pydantic's "Value error, " prefix so the message reads as ours."""
    return msg.removeprefix("Value error, ")
