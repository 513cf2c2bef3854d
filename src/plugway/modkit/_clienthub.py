"""ClientHub: a typed, scoped registry of the clients modules offer each other.

Clients are keyed by their interface (a Protocol or ABC). Scoped clients, the plugins of a
gateway, are keyed by interface and a GTS id. Lookups are plain dict reads with no lock:
writers take a lock and publish a new inner dict (copy on write), so a reader never sees a
dict that is being changed, and listing scopes never races a registration.

The interface parameters are typed ``TypeForm[T]`` (PEP 747) rather than ``type[T]``:
mypy refuses a Protocol or an abstract class where ``type[T]`` is expected
(``[type-abstract]``), and those are exactly the interfaces a hub is for. ``get`` still
returns ``T``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar, cast

from plugway.gts import GtsError, GtsId
from plugway.modkit._errors import (
    ClientAlreadyRegisteredError,
    ClientNotFoundError,
    InvalidClientError,
)

if TYPE_CHECKING:
    from typing_extensions import TypeForm

T = TypeVar("T")


class ClientHub:
    """Clients registered and looked up by interface type, globally or per GTS-id scope.

    Global and scoped entries are independent: a gateway may register itself globally under
    its contract while its plugins register scoped under the same contract.
    """

    __slots__ = ("_global", "_lock", "_scoped")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global: dict[type, object] = {}
        self._scoped: dict[type, dict[str, object]] = {}

    # -- global clients ---------------------------------------------------------------

    def register(self, iface: TypeForm[T], client: T, *, replace: bool = False) -> None:
        """Register ``client`` as the implementation of ``iface``.

        A second registration for the same interface is an error unless ``replace=True``
        (HyperSpot overwrites silently; here a swap is explicit).
        """
        key = _interface(iface)
        _check_client(key, client)
        with self._lock:
            if not replace and key in self._global:
                raise ClientAlreadyRegisteredError(_name(key))
            self._global[key] = client

    def get(self, iface: TypeForm[T]) -> T:
        """Return the client of ``iface``; ClientNotFoundError names the interface."""
        try:
            return cast("T", self._global[cast("type", iface)])
        except (KeyError, TypeError):
            raise ClientNotFoundError(_name(_interface(iface))) from None

    def try_get(self, iface: TypeForm[T]) -> T | None:
        """Return the client of ``iface``, or None when there is none."""
        key = _interface(iface)
        return cast("T | None", self._global.get(key))

    def remove(self, iface: TypeForm[T]) -> T | None:
        """Unregister the client of ``iface``; return it (None if there was none)."""
        key = _interface(iface)
        with self._lock:
            return cast("T | None", self._global.pop(key, None))

    # -- scoped clients ---------------------------------------------------------------

    def register_scoped(
        self, iface: TypeForm[T], scope: str, client: T, *, replace: bool = False
    ) -> None:
        """Register ``client`` for ``iface`` in ``scope``, a GTS id (a plugin instance id)."""
        key = _interface(iface)
        canonical = _scope(key, scope)
        _check_client(key, client, canonical)
        with self._lock:
            current = self._scoped.get(key, {})
            if not replace and canonical in current:
                raise ClientAlreadyRegisteredError(_name(key), canonical)
            updated = dict(current)
            updated[canonical] = client
            self._scoped[key] = updated

    def get_scoped(self, iface: TypeForm[T], scope: str) -> T:
        """Return the client of ``iface`` in ``scope``; errors name the interface and scope."""
        found = self.try_get_scoped(iface, scope)
        if found is None:
            raise ClientNotFoundError(_name(_interface(iface)), scope)
        return found

    def try_get_scoped(self, iface: TypeForm[T], scope: str) -> T | None:
        """Return the client of ``iface`` in ``scope``, or None when there is none.

        A scope that is not a valid GTS id is an error, not a miss: it can never be found.
        """
        key = _interface(iface)
        clients = self._scoped.get(key)
        if clients is not None:
            found = clients.get(scope)
            if found is not None:
                return cast("T", found)
        canonical = _scope(key, scope)
        if clients is None or canonical == scope:
            return None
        return cast("T | None", clients.get(canonical))

    def remove_scoped(self, iface: TypeForm[T], scope: str) -> T | None:
        """Unregister the client of ``iface`` in ``scope``; return it (None if there was none)."""
        key = _interface(iface)
        canonical = _scope(key, scope)
        with self._lock:
            current = self._scoped.get(key)
            if current is None or canonical not in current:
                return None
            updated = dict(current)
            removed = updated.pop(canonical)
            if updated:
                self._scoped[key] = updated
            else:
                del self._scoped[key]
        return cast("T", removed)

    def scopes(self, iface: TypeForm[Any]) -> tuple[str, ...]:
        """The scopes in which ``iface`` has a client, sorted."""
        key = _interface(iface)
        return tuple(sorted(self._scoped.get(key, ())))

    def interfaces(self) -> tuple[type, ...]:
        """Every interface with a global or scoped client, sorted by qualified name."""
        keys = set(self._global) | set(self._scoped)
        return tuple(sorted(keys, key=_name))


def _interface(iface: object) -> type:
    if not isinstance(iface, type):
        raise InvalidClientError(
            f"a ClientHub interface must be a class (a Protocol or an ABC), got {iface!r}"
        )
    return iface


def _name(iface: type) -> str:
    return iface.__qualname__


def _scope(iface: type, scope: object) -> str:
    if not isinstance(scope, str):
        raise InvalidClientError(
            f"scope for {_name(iface)} must be a GTS id string, got {type(scope).__name__}"
        )
    try:
        return GtsId.parse(scope).text
    except GtsError as exc:
        raise InvalidClientError(
            f"scope {scope!r} for {_name(iface)} is not a valid GTS id: {exc}"
        ) from None


def _check_client(iface: type, client: object, scope: str | None = None) -> None:
    """Refuse a client that does not implement ``iface`` when Python can tell.

    ABCs and concrete classes are checked with isinstance; so are runtime-checkable
    Protocols (method presence). A plain Protocol cannot be checked at run time.
    """
    if client is None:
        where = "" if scope is None else f" in scope '{scope}'"
        raise InvalidClientError(f"client for {_name(iface)}{where} is None")
    if getattr(iface, "_is_protocol", False) and not getattr(iface, "_is_runtime_protocol", False):
        return
    if not isinstance(client, iface):
        where = "" if scope is None else f" in scope '{scope}'"
        raise InvalidClientError(
            f"client {type(client).__qualname__} does not implement {_name(iface)}{where}"
        )
