"""Plugin contracts: the typed Protocol plugins implement, its GTS type and its versions."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict

from plugway.gts import GtsError, GtsId

from ._context import SecurityContext
from .errors import ContractDefinitionError

if TYPE_CHECKING:
    from ._spec import PluginInstance, PluginSpec

__all__ = [
    "JSON_SCHEMA_DRAFT_07",
    "PLUGIN_BASE_TYPE_ID",
    "ContractMethod",
    "ContractVersion",
    "EmptyProperties",
    "PluginContract",
    "resolved_hints",
]

P = TypeVar("P")

PLUGIN_BASE_TYPE_ID = "gts.x.core.modkit.plugin.v1~"
JSON_SCHEMA_DRAFT_07 = "http://json-schema.org/draft-07/schema#"


@dataclass(frozen=True, slots=True, order=True)
class ContractVersion:
    """MAJOR.MINOR of a contract: another MAJOR is refused, an older MINOR is adapted."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str | ContractVersion) -> ContractVersion:
        """``"1.2"`` (or a ContractVersion) -> ContractVersion; ValueError on anything else."""
        if isinstance(text, ContractVersion):
            return text
        major, sep, minor = str(text).removeprefix("v").partition(".")
        if not (sep and major.isdigit() and minor.isdigit()):
            raise ValueError(f"contract version must look like MAJOR.MINOR, got {text!r}")
        return cls(int(major), int(minor))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class EmptyProperties(BaseModel):
    """Properties model of a contract whose plugins carry no properties."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class ContractMethod:
    """One async method of a contract: its parameters after ``self`` and the minor it came in.

    ``hints`` holds the annotations that could be resolved (parameter names and ``"return"``):
    the registration check compares a plugin's annotations with these.
    """

    name: str
    signature: inspect.Signature
    added_in: int
    hints: Mapping[str, object] = field(default_factory=dict)


def resolved_hints(func: Callable[..., Any]) -> dict[str, object]:
    """The annotations of ``func`` that resolve, each on its own.

    ``typing.get_type_hints`` is all or nothing: one forward reference to a local class would
    hide every other annotation. Unresolvable ones are left out (the check cannot judge them).
    """
    try:
        return dict(get_type_hints(func))
    except Exception:  # some annotation does not resolve: take the others one by one
        pass
    annotations = getattr(func, "__annotations__", None) or {}
    target = inspect.unwrap(func)
    scope = getattr(target, "__globals__", None) or getattr(func, "__globals__", {})
    out: dict[str, object] = {}
    for name, annotation in annotations.items():
        holder = types.SimpleNamespace(__annotations__={name: annotation}, __globals__=scope)
        try:
            out[name] = get_type_hints(holder)[name]
        except Exception:  # unresolvable forward reference: not judged
            continue
    return out


def _is_security_context(annotation: object) -> bool:
    if annotation is SecurityContext:
        return True
    return isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "SecurityContext"


def _protocol_functions(protocol: type) -> dict[str, Any]:
    """Public functions declared on the protocol and its protocol bases, base first."""
    found: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or klass.__module__ == "typing":
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found[name] = value
    return found


class PluginContract(Generic[P]):
    """What a gateway asks of its plugins: methods (a Protocol), a GTS type, a properties model.

    Built once per gateway at import time, so every check that can be done on the contract alone
    happens here and a malformed contract fails loudly before any plugin is seen.

    ``passthrough``: the contract's own errors (e.g. "tenant not found"). A gateway module passes
    them through to the caller, and a plugin host sends them over the wire as themselves.
    """

    __slots__ = (
        "_methods",
        "added_in",
        "defaults",
        "name",
        "passthrough",
        "properties_model",
        "protocol",
        "type_id",
        "version",
    )

    def __init__(
        self,
        protocol: Callable[..., P],
        *,
        type_id: str,
        properties: type[BaseModel] = EmptyProperties,
        defaults: type | None = None,
        added_in: Mapping[str, int] | None = None,
        name: str | None = None,
        passthrough: tuple[type[Exception], ...] = (),
    ) -> None:
        # typed Callable[..., P] rather than type[P]: mypy refuses Protocol classes for type[P]
        if not isinstance(protocol, type):
            raise ContractDefinitionError(repr(protocol), "the contract must be a Protocol class")
        self.protocol: type = protocol
        self.name = name or protocol.__name__
        self.type_id = type_id
        self.properties_model = properties
        self.defaults = defaults
        self.version = self._parse_type_id(type_id)
        self.added_in: Mapping[str, int] = dict(added_in or {})
        self._methods = self._collect_methods()
        bad = [e for e in passthrough if not (isinstance(e, type) and issubclass(e, Exception))]
        if bad:
            raise self._fail(f"passthrough must list Exception subclasses, got {bad!r}")
        self.passthrough: tuple[type[Exception], ...] = tuple(passthrough)

    # -- construction checks -------------------------------------------------------------------

    def _fail(self, message: str) -> ContractDefinitionError:
        return ContractDefinitionError(self.name, message)

    def _parse_type_id(self, type_id: str) -> ContractVersion:
        try:
            gid = GtsId.parse(type_id)
        except GtsError as exc:
            raise self._fail(f"type id {type_id!r} is not a GTS id: {exc}") from exc
        if not gid.is_type or len(gid.segments) != 2 or gid.base_type_id != PLUGIN_BASE_TYPE_ID:
            raise self._fail(
                f"type id {type_id!r} must be one type derived from {PLUGIN_BASE_TYPE_ID!r} "
                f"(like '{PLUGIN_BASE_TYPE_ID}<vendor>.<pkg>.<ns>.plugin.v1.0~')"
            )
        seg = gid.segments[1]
        if seg.ver_minor is None:
            raise self._fail(f"type id {type_id!r} must state MAJOR.MINOR (e.g. v1.0)")
        return ContractVersion(seg.ver_major, seg.ver_minor)

    def _collect_methods(self) -> dict[str, ContractMethod]:
        functions = _protocol_functions(self.protocol)
        if not functions:
            raise self._fail("the protocol declares no methods")
        unknown = sorted(set(self.added_in) - set(functions))
        if unknown:
            raise self._fail(f"added_in names methods the protocol lacks: {unknown}")
        methods: dict[str, ContractMethod] = {}
        for name, func in functions.items():
            if not inspect.iscoroutinefunction(func):
                raise self._fail(f"method {name!r} must be 'async def'")
            sig = inspect.signature(func)
            params = list(sig.parameters.values())[1:]  # drop self
            if not params or params[0].kind not in (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                raise self._fail(f"method {name!r} must take a SecurityContext first")
            hints = resolved_hints(func)
            annotation: object = hints.get(params[0].name, params[0].annotation)
            if not _is_security_context(annotation):
                raise self._fail(
                    f"method {name!r}: first parameter {params[0].name!r} must be annotated "
                    "SecurityContext"
                )
            minor = self.added_in.get(name, 0)
            if not 0 <= minor <= self.version.minor:
                raise self._fail(
                    f"method {name!r} added in minor {minor}, but the contract is {self.version}"
                )
            if minor > 0 and not callable(getattr(self.defaults, name, None)):
                raise self._fail(
                    f"method {name!r} was added in minor {minor}: the defaults class must define "
                    "it so that plugins of older minors keep working"
                )
            if minor > 0 and not inspect.iscoroutinefunction(getattr(self.defaults, name)):
                raise self._fail(f"default for method {name!r} must be 'async def'")
            methods[name] = ContractMethod(
                name, sig.replace(parameters=params), minor, MappingProxyType(hints)
            )
        return methods

    # -- public face ---------------------------------------------------------------------------

    @property
    def methods(self) -> Mapping[str, ContractMethod]:
        """The contract's methods by name, in declaration order."""
        return self._methods

    def instance_id(self, segment: str) -> str:
        """The id of a plugin instance under this contract (segment like ``a.b.c.plugin.v1``)."""
        return f"{self.type_id}{segment}"

    def type_schema(self) -> dict[str, Any]:
        """The GTS type schema a gateway registers: base plugin type + its properties."""
        props = self.properties_model.model_json_schema(ref_template="#/definitions/{model}")
        definitions = props.pop("$defs", None)
        schema: dict[str, Any] = {
            "$id": f"gts://{self.type_id}",
            "$schema": JSON_SCHEMA_DRAFT_07,
            "title": f"{self.name} plugin v{self.version}",
            "type": "object",
            "allOf": [
                {"$ref": f"gts://{PLUGIN_BASE_TYPE_ID}"},
                {
                    "type": "object",
                    "required": ["properties"],
                    "properties": {"properties": props},
                },
            ],
        }
        doc = inspect.getdoc(self.protocol)
        if doc:
            schema["description"] = doc.split("\n\n", 1)[0]
        if definitions:
            schema["definitions"] = definitions
        return schema

    def bind(self, spec: PluginSpec, impl: object) -> PluginInstance[P]:
        """Check ``impl`` against this contract for ``spec`` (see ``bind_plugin``)."""
        from ._spec import bind_plugin

        return bind_plugin(self, spec, impl)

    def __repr__(self) -> str:
        return f"PluginContract({self.name!r}, type_id={self.type_id!r})"
