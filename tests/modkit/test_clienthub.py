"""ClientHub: lookup by interface, scoped clients keyed by GTS ids, errors that name both."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import pytest

from plugway.modkit import (
    ClientAlreadyRegisteredError,
    ClientHub,
    ClientHubError,
    ClientNotFoundError,
    InvalidClientError,
    ModkitError,
)

SCOPE_A = "gts.x.core.modkit.plugin.v1~acme.tenants.resolver.static.v1"
SCOPE_B = "gts.x.core.modkit.plugin.v1~acme.tenants.resolver.single.v1"


class TenantResolverPlugin(Protocol):
    def resolve(self, tenant: str) -> str: ...


@runtime_checkable
class Checked(Protocol):
    def ping(self) -> str: ...


class Store(ABC):
    @abstractmethod
    def load(self) -> str: ...


class Static:
    def __init__(self, tag: str = "static") -> None:
        self.tag = tag

    def resolve(self, tenant: str) -> str:
        return f"{self.tag}:{tenant}"


class Pinger:
    def ping(self) -> str:
        return "pong"


class FileStore(Store):
    def load(self) -> str:
        return "data"


def test_register_and_get_by_protocol_and_abc() -> None:
    hub = ClientHub()
    static = Static()
    store = FileStore()
    hub.register(TenantResolverPlugin, static)
    hub.register(Store, store)
    assert hub.get(TenantResolverPlugin) is static
    assert hub.get(Store) is store
    assert hub.try_get(Checked) is None


def test_missing_client_error_names_the_interface() -> None:
    hub = ClientHub()
    with pytest.raises(ClientNotFoundError, match=r"^no client for TenantResolverPlugin$") as info:
        hub.get(TenantResolverPlugin)
    assert info.value.interface == "TenantResolverPlugin"
    assert isinstance(info.value, ClientHubError)
    assert isinstance(info.value, ModkitError)


def test_second_registration_is_refused_unless_replace() -> None:
    hub = ClientHub()
    first, second = Static("one"), Static("two")
    hub.register(TenantResolverPlugin, first)
    with pytest.raises(ClientAlreadyRegisteredError, match="TenantResolverPlugin"):
        hub.register(TenantResolverPlugin, second)
    assert hub.get(TenantResolverPlugin) is first
    hub.register(TenantResolverPlugin, second, replace=True)
    assert hub.get(TenantResolverPlugin) is second


def test_remove_returns_the_client() -> None:
    hub = ClientHub()
    static = Static()
    hub.register(TenantResolverPlugin, static)
    assert hub.remove(TenantResolverPlugin) is static
    assert hub.remove(TenantResolverPlugin) is None
    with pytest.raises(ClientNotFoundError):
        hub.get(TenantResolverPlugin)


def test_client_that_does_not_implement_the_interface_is_refused() -> None:
    hub = ClientHub()
    with pytest.raises(InvalidClientError, match="Static does not implement Store"):
        hub.register(Store, Static())  # mypy cannot see this one: T widens
    with pytest.raises(InvalidClientError, match="Static does not implement Checked"):
        hub.register(Checked, Static())
    with pytest.raises(InvalidClientError, match="is None"):
        hub.register(Checked, None)
    hub.register(Checked, Pinger())
    assert hub.get(Checked).ping() == "pong"


def test_interface_must_be_a_class() -> None:
    hub = ClientHub()
    with pytest.raises(InvalidClientError, match="must be a class"):
        hub.get("TenantResolverPlugin")
    with pytest.raises(InvalidClientError, match="must be a class"):
        hub.register(["not", "a", "type"], Static())  # type: ignore[arg-type]
    with pytest.raises(InvalidClientError, match="must be a class"):
        hub.scopes(42)  # type: ignore[arg-type]


def test_scoped_clients_by_gts_id() -> None:
    hub = ClientHub()
    a, b = Static("a"), Static("b")
    hub.register_scoped(TenantResolverPlugin, SCOPE_B, b)
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, a)
    assert hub.get_scoped(TenantResolverPlugin, SCOPE_A) is a
    assert hub.try_get_scoped(TenantResolverPlugin, SCOPE_B) is b
    assert hub.scopes(TenantResolverPlugin) == tuple(sorted((SCOPE_A, SCOPE_B)))
    assert hub.scopes(Store) == ()


def test_scoped_and_global_entries_are_independent() -> None:
    hub = ClientHub()
    gateway, plugin = Static("gateway"), Static("plugin")
    hub.register(TenantResolverPlugin, gateway)
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, plugin)
    assert hub.get(TenantResolverPlugin) is gateway
    assert hub.get_scoped(TenantResolverPlugin, SCOPE_A) is plugin
    assert hub.remove(TenantResolverPlugin) is gateway
    assert hub.get_scoped(TenantResolverPlugin, SCOPE_A) is plugin


def test_missing_scoped_client_error_names_interface_and_scope() -> None:
    hub = ClientHub()
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, Static())
    expected = f"no client for TenantResolverPlugin in scope '{SCOPE_B}'"
    with pytest.raises(ClientNotFoundError) as info:
        hub.get_scoped(TenantResolverPlugin, SCOPE_B)
    assert str(info.value) == expected
    assert info.value.scope == SCOPE_B
    assert hub.try_get_scoped(TenantResolverPlugin, SCOPE_B) is None
    with pytest.raises(ClientNotFoundError, match=f"no client for Store in scope '{SCOPE_A}'"):
        hub.get_scoped(Store, SCOPE_A)


def test_scope_must_be_a_valid_gts_id() -> None:
    hub = ClientHub()
    with pytest.raises(InvalidClientError, match="'acme-static' for TenantResolverPlugin"):
        hub.register_scoped(TenantResolverPlugin, "acme-static", Static())
    with pytest.raises(InvalidClientError, match="not a valid GTS id"):
        hub.get_scoped(TenantResolverPlugin, "gts.Bad.Id")
    with pytest.raises(InvalidClientError, match="not a valid GTS id"):
        hub.try_get_scoped(TenantResolverPlugin, "nope")
    with pytest.raises(InvalidClientError, match="must be a GTS id string"):
        hub.remove_scoped(TenantResolverPlugin, 7)  # type: ignore[arg-type]


def test_scoped_registration_twice_is_refused_unless_replace() -> None:
    hub = ClientHub()
    first, second = Static("1"), Static("2")
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, first)
    with pytest.raises(ClientAlreadyRegisteredError, match=f"in scope '{SCOPE_A}'"):
        hub.register_scoped(TenantResolverPlugin, SCOPE_A, second)
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, second, replace=True)
    assert hub.get_scoped(TenantResolverPlugin, SCOPE_A) is second


def test_remove_scoped() -> None:
    hub = ClientHub()
    a = Static("a")
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, a)
    hub.register_scoped(TenantResolverPlugin, SCOPE_B, Static("b"))
    assert hub.remove_scoped(TenantResolverPlugin, SCOPE_A) is a
    assert hub.remove_scoped(TenantResolverPlugin, SCOPE_A) is None
    assert hub.scopes(TenantResolverPlugin) == (SCOPE_B,)
    hub.remove_scoped(TenantResolverPlugin, SCOPE_B)
    assert hub.scopes(TenantResolverPlugin) == ()
    assert hub.interfaces() == ()


def test_scoped_client_is_checked_against_the_interface() -> None:
    hub = ClientHub()
    with pytest.raises(InvalidClientError, match=f"does not implement Store in scope '{SCOPE_A}'"):
        hub.register_scoped(Store, SCOPE_A, Static())


def test_interfaces_lists_global_and_scoped() -> None:
    hub = ClientHub()
    hub.register(Store, FileStore())
    hub.register_scoped(TenantResolverPlugin, SCOPE_A, Static())
    assert hub.interfaces() == (Store, TenantResolverPlugin)


def test_concurrent_registration_and_lookup_lose_nothing() -> None:
    """Writers register and remove scopes while readers list and look up; nothing is lost
    and no reader ever sees a dict that changes under it."""
    hub = ClientHub()
    scopes = [f"gts.x.core.modkit.plugin.v1~acme.t.r.p{i}.v1" for i in range(200)]
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(part: list[str]) -> None:
        start.wait()
        for scope in part:
            hub.register_scoped(TenantResolverPlugin, scope, Static(scope))
            hub.remove_scoped(TenantResolverPlugin, scope)
            hub.register_scoped(TenantResolverPlugin, scope, Static(scope))

    def reader() -> None:
        start.wait()
        try:
            for _ in range(300):
                for scope in hub.scopes(TenantResolverPlugin):
                    hub.try_get_scoped(TenantResolverPlugin, scope)
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(scopes[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert hub.scopes(TenantResolverPlugin) == tuple(sorted(scopes))
    for scope in scopes:
        client = hub.get_scoped(TenantResolverPlugin, scope)
        assert client.resolve("t") == f"{scope}:t"
