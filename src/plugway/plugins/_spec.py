"""Plugin specs, and the runtime contract check turning spec + implementation into an instance."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar, Union, cast, get_args, get_origin

from pydantic import BaseModel, ValidationError

from plugway.gts import GtsError, GtsId

from ._contract import ContractMethod, ContractVersion, PluginContract, resolved_hints
from ._errors import (
    PluginContractError,
    PluginPropertiesError,
    PluginVersionError,
    RoutingProblem,
    clean_message,
    error_path,
)

__all__ = [
    "ContractMismatch",
    "ContractMismatchError",
    "PluginInstance",
    "PluginSpec",
    "bind_plugin",
    "error_path",
]

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


@dataclass(frozen=True, slots=True)
class ContractMismatch:
    """One way a plugin method differs from its contract: where, and expected versus got."""

    method: str
    message: str
    parameter: str | None = None
    expected: str | None = None
    got: str | None = None


class ContractMismatchError(PluginContractError):
    """Every mismatch of one plugin at once, so a plugin author fixes them in one round.

    ``method`` is the method when all mismatches are in one, else None; ``mismatches`` lists
    them all.
    """

    def __init__(self, plugin: str, mismatches: Sequence[ContractMismatch]) -> None:
        self.mismatches = tuple(mismatches)
        methods = {m.method for m in self.mismatches}
        if len(methods) == 1:
            method: str | None = self.mismatches[0].method
            text = "; ".join(m.message for m in self.mismatches)
        else:
            method = None
            text = "; ".join(f"method {m.method!r}: {m.message}" for m in self.mismatches)
        super().__init__(plugin, method, text)


_UNIONS: tuple[object, ...] = (Union, types.UnionType)
_PROMOTIONS = {(float, int), (complex, int), (complex, float)}  # (wide, narrow), PEP 484


def _accepts(wide: object, narrow: object) -> bool:
    """True when every value of type ``narrow`` is surely a ``wide`` (False when undecided)."""
    if wide is Any or narrow is Any or wide is object or wide == narrow:
        return True
    if isinstance(wide, TypeVar) or isinstance(narrow, TypeVar):
        return True  # a generic contract: the type checker judges it, not us
    n_origin, w_origin = get_origin(narrow), get_origin(wide)
    if n_origin in _UNIONS:
        return all(_accepts(wide, arg) for arg in get_args(narrow))
    if w_origin in _UNIONS:
        return any(_accepts(arg, narrow) for arg in get_args(wide))
    if n_origin is Literal:
        return all(_accepts(wide, type(value)) for value in get_args(narrow))
    w_class, n_class = w_origin or wide, n_origin or narrow
    if not (isinstance(w_class, type) and isinstance(n_class, type)):
        return False
    try:
        related = issubclass(n_class, w_class)
    except TypeError:  # a non-runtime Protocol and the like: not decidable here
        return False
    if w_origin is None and n_origin is None:
        return related or (wide, narrow) in _PROMOTIONS
    if not related:
        return False
    w_args = get_args(wide)
    # a bare generic (``list``, ``Sequence``) takes any parameters; otherwise only the same ones
    return not w_args or get_args(narrow) == w_args


def _type_text(annotation: object) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "").replace("collections.abc.", "")


class _MethodCheck:
    """The mismatches of one plugin method against its contract method."""

    def __init__(self, m: ContractMethod, fn: Callable[..., Any]) -> None:
        self.m = m
        self.hints = resolved_hints(fn)
        self.found: list[ContractMismatch] = []

    def fail(
        self, message: str, parameter: str | None = None, *, types_: tuple[str, str] | None = None
    ) -> None:
        expected, got = types_ if types_ is not None else (None, None)
        self.found.append(ContractMismatch(self.m.name, message, parameter, expected, got))

    def annotation(self, want: inspect.Parameter, have: inspect.Parameter) -> None:
        """A plugin parameter must accept what the contract passes (it may be wider)."""
        expected, got = self.m.hints.get(want.name), self.hints.get(have.name)
        if expected is None or got is None or _accepts(got, expected):
            return
        e, g = _type_text(expected), _type_text(got)
        self.fail(
            f"parameter {have.name!r} is annotated {g}, the contract has {e}",
            have.name,
            types_=(e, g),
        )

    def returns(self) -> None:
        """A plugin may return a narrower type than the contract, never another one."""
        expected, got = self.m.hints.get("return"), self.hints.get("return")
        if expected is None or got is None or _accepts(expected, got):
            return
        e, g = _type_text(expected), _type_text(got)
        self.fail(f"returns {g}, the contract returns {e}", types_=(e, g))

    def default(self, want: inspect.Parameter, have: inspect.Parameter) -> None:
        """A contract default must be the plugin's default too: callers may omit the argument
        through the gateway (which passes the contract's default) or call the plugin directly."""
        if want.default is inspect.Parameter.empty:
            return
        if have.default is inspect.Parameter.empty:
            self.fail(f"parameter {have.name!r} needs a default as in the contract", have.name)
            return
        try:
            same = bool(have.default == want.default)
        except Exception:
            same = have.default is want.default
        if not same:
            self.fail(
                f"parameter {have.name!r} defaults to {have.default!r}, the contract to "
                f"{want.default!r}",
                have.name,
                types_=(repr(want.default), repr(have.default)),
            )

    def matched(self, want: inspect.Parameter, have: inspect.Parameter) -> None:
        self.default(want, have)
        self.annotation(want, have)


def _check_params(m: ContractMethod, fn: Callable[..., Any]) -> list[ContractMismatch]:
    try:
        impl_sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        return [ContractMismatch(m.name, f"signature cannot be read: {exc}")]
    check = _MethodCheck(m, fn)
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
                check.fail(
                    f"takes {len(have_positional)} positional parameters, contract has {n_want} "
                    f"(missing {c.name!r})",
                    c.name,
                )
                break  # the positions no longer line up: one report is the useful one
            p = have_positional[pos_index]
            pos_index += 1
            used.add(p.name)
            # the context (position 1) is always passed positionally: its name is free
            if (
                pos_index > 1
                and c.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                and (p.name != c.name or p.kind is not c.kind)
            ):
                check.fail(
                    f"parameter {pos_index} is {p.name!r} ({_KIND_TEXT[p.kind]}), contract has "
                    f"{c.name!r} ({_KIND_TEXT[c.kind]})",
                    c.name,
                    types_=(c.name, p.name),
                )
                continue
            check.matched(c, p)
        elif c.kind is inspect.Parameter.KEYWORD_ONLY:
            p_kw = have_by_name.get(c.name)
            if p_kw is None or p_kw.kind not in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                if p_kw is None and have_var_kw:
                    continue
                check.fail(f"lacks keyword parameter {c.name!r} of the contract", c.name)
                continue
            used.add(p_kw.name)
            check.matched(c, p_kw)
        elif c.kind is inspect.Parameter.VAR_POSITIONAL and not have_var_pos:
            check.fail(f"lacks *{c.name} of the contract", c.name)
        elif c.kind is inspect.Parameter.VAR_KEYWORD and not have_var_kw:
            check.fail(f"lacks **{c.name} of the contract", c.name)
    for p in have:
        if (
            p.name not in used
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            and p.default is inspect.Parameter.empty
        ):
            check.fail(f"has extra required parameter {p.name!r} not in the contract", p.name)
    check.returns()
    return check.found


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
        problems = [
            RoutingProblem(error_path(("properties", *e["loc"])), clean_message(e["msg"]))
            for e in exc.errors()
        ]
        raise PluginPropertiesError(plugin, problems) from None
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
        mismatches.extend(_check_params(m, fn))
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
