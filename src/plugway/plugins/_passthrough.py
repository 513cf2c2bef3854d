"""A contract's own errors across the wire: sent by a plugin host, raised again by the client.

A plugin that raises one of its contract's ``passthrough`` types (``PluginContract(...,
passthrough=(TenantResolverError,))``) gives the caller an answer, not a failure. The host
answers it as a ``contract_error`` (422) that names the exception's class, its bases up to the
passthrough type and its public attributes of scalar values. :class:`RemotePlugin` raises an
instance of the first of those classes it knows (the passthrough types and their subclasses
in its own process), built with the message, so that the gateway classifies it exactly as it
classifies a local plugin's. A class it does not know, or cannot build, is a plugin failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._wire import WireError, WireException, error_body

__all__ = ["contract_error_body", "rebuild_contract_error"]

Passthrough = tuple[type[Exception], ...]
_SCALARS = (str, int, float, bool)


def contract_error_body(exc: BaseException, passthrough: Passthrough) -> tuple[int, bytes] | None:
    """The ``contract_error`` answer for ``exc``; None when it is none of ``passthrough``."""
    if not passthrough or not isinstance(exc, passthrough):
        return None
    chain = [k.__qualname__ for k in type(exc).__mro__ if issubclass(k, passthrough)]
    exception: WireException = {"name": chain[0], "bases": chain[1:]}
    attributes = {
        name: value
        for name, value in getattr(exc, "__dict__", {}).items()
        if not name.startswith("_") and (value is None or isinstance(value, _SCALARS))
    }
    if attributes:
        exception["attributes"] = attributes
    return error_body("contract_error", str(exc), exception=exception)


def rebuild_contract_error(error: WireError, passthrough: Passthrough) -> Exception | None:
    """The exception a ``contract_error`` names, built again; None if it cannot be."""
    sent = error.exception
    if error.type != "contract_error" or sent is None or not passthrough:
        return None
    known: dict[str, type[Exception]] = {}
    for klass in _family(passthrough):
        known.setdefault(klass.__qualname__, klass)
    found = next((known[n] for n in (sent["name"], *sent.get("bases", ())) if n in known), None)
    if found is None:
        return None
    message = error.message
    try:
        exc = found(message)
    except Exception:  # its constructor wants something else: a plain failure then
        return None
    if str(exc) != message:
        exc.args = (message,)  # the host's text, whatever the constructor made of it
    for name, value in sent.get("attributes", {}).items():
        if not name.startswith("_") and name != "args" and not _is_method(found, name):
            setattr(exc, name, value)
    return exc


def _family(roots: Passthrough) -> Iterator[type[Exception]]:
    """``roots``, then their subclasses breadth first (each once)."""
    seen: set[type[Exception]] = set()
    queue = list(roots)
    while queue:
        klass = queue.pop(0)
        if klass not in seen:
            seen.add(klass)
            yield klass
            queue.extend(klass.__subclasses__())


def _is_method(klass: type[Any], name: str) -> bool:
    return callable(getattr(klass, name, None))
