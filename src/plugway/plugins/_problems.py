"""A pydantic ValidationError as the plugins layer reports it: one problem per bad field, each
with its field path (``modkit.field_path``) and a message without pydantic's prefixes."""

from __future__ import annotations

from pydantic import ValidationError

from plugway.modkit import field_path

from .errors import RoutingProblem

__all__ = ["validation_problems"]


def validation_problems(
    exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> tuple[RoutingProblem, ...]:
    """Every field ``exc`` refuses, its path under ``prefix`` (``properties.tier``)."""
    return tuple(
        RoutingProblem(field_path((*prefix, *e["loc"])), e["msg"].removeprefix("Value error, "))
        for e in exc.errors(include_url=False)
    )
