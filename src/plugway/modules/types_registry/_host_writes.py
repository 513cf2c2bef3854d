"""What a plugin host's token may register, item by item (the admin's token is not limited).

A supervised host's launch registers instances of its gateway's contract, at its own URL, under
plugin ids no other party holds; each item it may register is stamped with the host's name
(``endpoint.host``, :mod:`plugway.plugins._host_credentials`). The shared ``server.host_token``
of hosts started by hand may not set that stamp. An item refused here gets a 403 result of its
own: the host's other items are registered as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from plugway.plugins._host_credentials import HOST_FIELD, HostLaunch
from plugway.server import ProblemCode

__all__ = ["HostCaller", "admitted", "refused_result"]

HostCaller = HostLaunch | Literal["host_token"] | None
"""Who a registration comes from: a supervised host's launch, the shared host token, or
neither (the admin token, or writes open to anyone)."""


def admitted(
    caller: HostLaunch | Literal["host_token"],
    docs: Sequence[Any],
    stored: Callable[[str], Mapping[str, Any] | None],
) -> tuple[list[tuple[int, Mapping[str, Any]]], dict[int, str]]:
    """The items ``caller`` may register (by index, stamped when a launch sends them) and why
    each other item is refused. ``stored(id)`` is the registry's document for an id, if any."""
    allowed: list[tuple[int, Mapping[str, Any]]] = []
    refused: dict[int, str] = {}
    for i, doc in enumerate(docs):
        if not isinstance(caller, HostLaunch):
            endpoint = doc.get("endpoint") if isinstance(doc, Mapping) else None
            if isinstance(endpoint, Mapping) and HOST_FIELD in endpoint:
                refused[i] = (
                    f"endpoint.{HOST_FIELD} is set by the server, for supervised hosts only; "
                    "the host token may not send it"
                )
            else:
                allowed.append((i, doc))
            continue
        why = caller.admit(doc, stored(str(doc.get("id"))))
        if why is None:
            allowed.append((i, caller.stamped(doc)))
        else:
            refused[i] = why
    return allowed, refused


def refused_result(index: int, doc: Any, why: str) -> dict[str, Any]:
    """The bulk answer's result of an item refused to a host (what a single POST would get)."""
    gts_id = doc.get("id") if isinstance(doc, Mapping) else None
    return {
        "index": index,
        "gts_id": gts_id if isinstance(gts_id, str) else None,
        "ok": False,
        "status": 403,
        "created": False,
        "code": str(ProblemCode.AUTH_FORBIDDEN),
        "error": why,
    }
