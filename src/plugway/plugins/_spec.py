"""Plugin specs, and the runtime contract check turning spec + implementation into an instance."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from plugway.gts import GtsError, GtsId

from ._contract import ContractMethod, ContractVersion, PluginContract
from ._errors import (
    PluginContractError,
    PluginPropertiesError,
    PluginVersionError,
    RoutingProblem,
    clean_message,
    error_path,
)

__all__ = ["PluginInstance", "PluginSpec", "bind_plugin", "error_path"]

P = TypeVar("P")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_KIND_TEXT = {
    inspect.Parameter.POSITIONAL_ONLY: "positional-only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional-or-keyword",
    inspect.Parameter.VAR_POSITIONAL: "*args",
    inspect.Parameter.KEYWORD_ONLY: "keyword-only",
    inspect.Parameter.VAR_KEYWORD: "**kwargs",
}


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


def _check_default(
    plugin: str, method: str, want: inspect.Parameter, have: inspect.Parameter
) -> None:
    """A contract default must be the plugin's default too: callers may omit the argument
    through the gateway (which passes the contract's default) or call the plugin directly."""
    if want.default is inspect.Parameter.empty:
        return
    if have.default is inspect.Parameter.empty:
        raise PluginContractError(
            plugin, method, f"parameter {have.name!r} needs a default as in the contract"
        )
    try:
        same = bool(have.default == want.default)
    except Exception:
        same = have.default is want.default
    if not same:
        raise PluginContractError(
            plugin,
            method,
            f"parameter {have.name!r} defaults to {have.default!r}, the contract to "
            f"{want.default!r}",
        )


def _check_params(plugin: str, m: ContractMethod, fn: Callable[..., Any]) -> None:
    try:
        impl_sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise PluginContractError(plugin, m.name, f"signature cannot be read: {exc}") from exc
    want = list(m.signature.parameters.values())
    have = list(impl_sig.parameters.values())
    have_var_pos = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in have)
    have_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in have)
    have_positional = [p for p in have if p.kind in _POSITIONAL]
    have_by_name = {p.name: p for p in have}
    used: set[str] = set()
    pos_index = 0
    for c in want:
        if c.kind in _POSITIONAL:
            if pos_index >= len(have_positional):
                if have_var_pos:
                    pos_index += 1
                    continue
                n_want = sum(1 for p in want if p.kind in _POSITIONAL)
                raise PluginContractError(
                    plugin,
                    m.name,
                    f"takes {len(have_positional)} positional parameters, contract has {n_want} "
                    f"(missing {c.name!r})",
                )
            p = have_positional[pos_index]
            pos_index += 1
            # the context (position 1) is always passed positionally: its name is free
            if (
                pos_index > 1
                and c.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                and (p.name != c.name or p.kind is not c.kind)
            ):
                raise PluginContractError(
                    plugin,
                    m.name,
                    f"parameter {pos_index} is {p.name!r} ({_KIND_TEXT[p.kind]}), contract has "
                    f"{c.name!r} ({_KIND_TEXT[c.kind]})",
                )
            _check_default(plugin, m.name, c, p)
            used.add(p.name)
        elif c.kind is inspect.Parameter.KEYWORD_ONLY:
            p_kw = have_by_name.get(c.name)
            if p_kw is None or p_kw.kind not in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                if p_kw is None and have_var_kw:
                    continue
                raise PluginContractError(
                    plugin, m.name, f"lacks keyword parameter {c.name!r} of the contract"
                )
            _check_default(plugin, m.name, c, p_kw)
            used.add(p_kw.name)
        elif c.kind is inspect.Parameter.VAR_POSITIONAL and not have_var_pos:
            raise PluginContractError(plugin, m.name, f"lacks *{c.name} of the contract")
        elif c.kind is inspect.Parameter.VAR_KEYWORD and not have_var_kw:
            raise PluginContractError(plugin, m.name, f"lacks **{c.name} of the contract")
    for p in have:
        if (
            p.name not in used
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            and p.default is inspect.Parameter.empty
        ):
            raise PluginContractError(
                plugin, m.name, f"has extra required parameter {p.name!r} not in the contract"
            )


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

    Raises PluginContractError (naming plugin, method and mismatch), PluginVersionError for
    another MAJOR, PluginPropertiesError when ``properties`` fail the contract's model.
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
        problems = [
            RoutingProblem(error_path(("properties", *e["loc"])), clean_message(e["msg"]))
            for e in exc.errors()
        ]
        raise PluginPropertiesError(plugin, problems) from None
    methods: dict[str, Callable[..., Any]] = {}
    defaulted: dict[str, Callable[..., Any]] = {}
    for name, m in contract.methods.items():
        fn = getattr(impl, name, None)
        if fn is None:
            if m.added_in > version.minor and contract.defaults is not None:
                default = types.MethodType(getattr(contract.defaults, name), impl)
                methods[name] = defaulted[name] = default
                continue
            raise PluginContractError(plugin, name, "missing method")
        if not callable(fn):
            raise PluginContractError(plugin, name, "is not callable")
        if not inspect.iscoroutinefunction(fn):
            raise PluginContractError(
                plugin, name, "is a sync method where the contract has 'async def'"
            )
        _check_params(plugin, m, fn)
        methods[name] = fn
    adapted = impl if not defaulted else _WithDefaults(impl, defaulted)
    return PluginInstance(
        spec=spec,
        impl=cast(P, adapted),
        version=version,
        methods=MappingProxyType(methods),
        properties=props,
        defaulted=tuple(defaulted),
    )
