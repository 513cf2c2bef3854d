"""Plugin specs, and binding one to its implementation: version, properties, the contract check
(:mod:`._conformance`), defaults for methods of a newer MINOR."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from plugway.gts import GtsError, GtsId

from ._conformance import ContractMismatch, ContractMismatchError, check_params
from ._contract import ContractVersion, PluginContract
from ._problems import validation_problems
from .errors import PluginContractError, PluginPropertiesError, PluginVersionError

__all__ = [
    "PluginInstance",
    "PluginSpec",
    "bind_plugin",
]

P = TypeVar("P")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PluginSpec:
    """A plugin instance as the registry holds it, plus the contract version it implements.

    ``contract_version`` None means: the MINOR in the id's contract segment when it states one,
    otherwise the gateway contract's own version.
    """

    id: str
    vendor: str
    priority: int = 100
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)
    contract_version: ContractVersion | str | None = None

    def __post_init__(self) -> None:
        # a value: later edits to the caller's dict must not change a registered plugin
        if self.properties is not _EMPTY:
            object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))

    def instance_document(self) -> dict[str, Any]:
        """The GTS instance document for the registry (validated there against the contract)."""
        return {
            "id": self.id,
            "vendor": self.vendor,
            "priority": self.priority,
            "properties": dict(self.properties),
        }

    @classmethod
    def from_document(
        cls, doc: Mapping[str, Any], *, contract_version: ContractVersion | str | None = None
    ) -> PluginSpec:
        """Read a registry instance document; PluginContractError names what is missing."""
        plugin = str(doc.get("id", "<no id>"))
        for key, kind in (("id", str), ("vendor", str), ("priority", int)):
            if not isinstance(doc.get(key), kind) or isinstance(doc.get(key), bool):
                raise PluginContractError(plugin, None, f"field {key!r} must be a {kind.__name__}")
        props = doc.get("properties", {})
        if not isinstance(props, Mapping):
            raise PluginContractError(plugin, None, "field 'properties' must be an object")
        return cls(doc["id"], doc["vendor"], doc["priority"], props, contract_version)


class _WithDefaults:
    """A plugin object whose missing later-minor methods are served by the contract's defaults."""

    def __init__(self, impl: object, bound: Mapping[str, Callable[..., Any]]) -> None:
        self.__dict__.update(bound)
        self.__dict__["_plugway_impl"] = impl

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_plugway_impl"], name)

    def __repr__(self) -> str:
        return f"<{self.__dict__['_plugway_impl']!r} with contract defaults>"


@dataclass(frozen=True, slots=True)
class PluginInstance(Generic[P]):
    """A spec whose implementation passed the contract check; what a gateway routes to."""

    spec: PluginSpec
    impl: P
    version: ContractVersion
    methods: Mapping[str, Callable[..., Any]]
    properties: BaseModel
    defaulted: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def vendor(self) -> str:
        return self.spec.vendor

    @property
    def priority(self) -> int:
        return self.spec.priority


def _implemented_version(contract: PluginContract[Any], spec: PluginSpec) -> ContractVersion:
    try:
        gid = GtsId.parse(spec.id)
    except GtsError as exc:
        raise PluginContractError(spec.id, None, f"id is not a GTS id: {exc}") from exc
    if gid.is_type or len(gid.segments) < 3:
        raise PluginContractError(
            spec.id, None, f"id must be a plugin instance id under {contract.type_id!r}"
        )
    want = GtsId.parse(contract.type_id).segments
    have = gid.segments
    same_family = have[0] == want[0] and (
        have[1].vendor,
        have[1].package,
        have[1].namespace,
        have[1].type,
    ) == (want[1].vendor, want[1].package, want[1].namespace, want[1].type)
    if not same_family:
        raise PluginContractError(
            spec.id, None, f"id is not an instance of contract type {contract.type_id!r}"
        )
    if have[1].ver_major != contract.version.major:
        raise PluginVersionError(
            spec.id,
            f"id names contract major {have[1].ver_major}, gateway contract is {contract.version}",
        )
    if spec.contract_version is not None:
        try:
            version = ContractVersion.parse(spec.contract_version)
        except ValueError as exc:
            raise PluginContractError(spec.id, None, str(exc)) from exc
    elif have[1].ver_minor is not None:
        version = ContractVersion(have[1].ver_major, have[1].ver_minor)
    else:
        version = contract.version
    if version.major != contract.version.major:
        raise PluginVersionError(
            spec.id,
            f"implements contract {version}, gateway contract is {contract.version} "
            "(another MAJOR is not compatible)",
        )
    return version


def bind_plugin(contract: PluginContract[P], spec: PluginSpec, impl: object) -> PluginInstance[P]:
    """Refuse an implementation that breaks ``contract``; adapt one of an older MINOR.

    Raises ContractMismatchError (a PluginContractError) listing every mismatch of every method
    (names, kinds, defaults, and parameter and return annotations where both sides have them),
    PluginVersionError for another MAJOR, PluginPropertiesError when ``properties`` fail the
    contract's model, PluginContractError for a bad spec.
    """
    plugin = spec.id
    if not isinstance(spec.vendor, str) or not spec.vendor:
        raise PluginContractError(plugin, None, "vendor must be a non-empty string")
    if not isinstance(spec.priority, int) or isinstance(spec.priority, bool):
        raise PluginContractError(plugin, None, "priority must be an integer")
    version = _implemented_version(contract, spec)
    try:
        props = contract.properties_model.model_validate(dict(spec.properties))
    except ValidationError as exc:
        raise PluginPropertiesError(plugin, validation_problems(exc, ("properties",))) from None
    methods: dict[str, Callable[..., Any]] = {}
    defaulted: dict[str, Callable[..., Any]] = {}
    mismatches: list[ContractMismatch] = []
    for name, m in contract.methods.items():
        fn = getattr(impl, name, None)
        if fn is None:
            if m.added_in > version.minor and contract.defaults is not None:
                default = types.MethodType(getattr(contract.defaults, name), impl)
                methods[name] = defaulted[name] = default
                continue
            mismatches.append(ContractMismatch(name, "missing method"))
            continue
        if not callable(fn):
            mismatches.append(ContractMismatch(name, "is not callable"))
            continue
        if not inspect.iscoroutinefunction(fn):
            mismatches.append(
                ContractMismatch(name, "is a sync method where the contract has 'async def'")
            )
        mismatches.extend(check_params(m, fn))
        methods[name] = fn
    if mismatches:
        raise ContractMismatchError(plugin, mismatches)
    adapted = impl if not defaulted else _WithDefaults(impl, defaulted)
    return PluginInstance(
        spec=spec,
        impl=cast(P, adapted),
        version=version,
        methods=MappingProxyType(methods),
        properties=props,
        defaulted=tuple(defaulted),
    )
