"""The security context: first argument of every gateway and plugin method, and routing's input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import InvalidContextError

__all__ = ["SecurityContext"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


def _check_text(what: str, value: str) -> None:
    """Routing hashes keys as UTF-8: refuse text that has none (lone surrogates from JSON)."""
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidContextError(f"{what} is not valid Unicode text: {value!r}") from None


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """Who calls, for which tenant, with which request attributes.

    Routing reads its keys from here (``tenant_id``, ``subject_id``, ``attributes.<k>``); an empty
    string means "not set", so a rule keyed on it does not apply. Attribute names are
    case-insensitive (stored lower-cased, as HTTP headers arrive); attributes are copied into a
    read-only mapping so that a context can be shared between a call and its shadow safely.
    """

    tenant_id: str = ""
    subject_id: str = ""
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        if type(self.tenant_id) is not str or type(self.subject_id) is not str:
            raise InvalidContextError(
                f"tenant_id and subject_id must be strings, got {self.tenant_id!r}, "
                f"{self.subject_id!r}"
            )
        _check_text("tenant_id", self.tenant_id)
        _check_text("subject_id", self.subject_id)
        attrs = self.attributes
        if attrs is not _EMPTY:
            clean: dict[str, str] = {}
            for key, value in attrs.items():
                if not isinstance(key, str):
                    raise InvalidContextError(f"attribute names must be strings, got {key!r}")
                _check_text("attribute name", key)
                key = key.lower()  # case-insensitive, like the X-Attr-<name> headers
                if isinstance(value, str):
                    _check_text(f"attribute {key!r}", value)
                    clean[key] = value
                elif isinstance(value, int | float):  # numbers read as their text (like headers)
                    clean[key] = str(value)
                else:
                    raise InvalidContextError(
                        f"attribute {key!r} must be a string or a number, got {value!r}"
                    )
            object.__setattr__(self, "attributes", MappingProxyType(clean))

    def with_attributes(self, **attributes: str) -> SecurityContext:
        """A copy with some attributes added or replaced."""
        merged = dict(self.attributes)
        merged.update(attributes)
        return SecurityContext(self.tenant_id, self.subject_id, merged)
