"""The wire protocol of out-of-process plugins: HTTP/1.1 + JSON, encoded from the contract.

Why HTTP and JSON rather than gRPC: grpc.aio answers faster in Python (the reference digest
measured ~6,000 calls/s at 32 in flight against ~700 for httpx + uvicorn, ~450 µs against
~800 µs p50), but gRPC needs a ``.proto`` that the contract's Python annotations would have to
be compiled into, grpcio and protobuf as dependencies, and generated stubs in every language a
plugin is written in. The contract's annotations already are pydantic types, so JSON Schema
(OpenAPI) describes each method with no extra step; a plugin in any language needs only an HTTP
server and a JSON parser (Node's ``node:http``, ``curl`` to debug it); httpx and uvicorn are
dependencies already; and closing a connection is how a caller that gave up cancels a call.
``bench/remote.py`` measures what this costs over a bare httpx round trip.

One route per contract method, ``POST <plugin path>/<method>`` with
``{"context": {tenant_id, subject_id, attributes}, "args": {<param>: value}}``, answered by
``{"result": ...}`` (200) or ``{"error": {"type", "message", "errors"}}`` with a status per type
(:data:`ERROR_STATUS`). :class:`MethodCodec` encodes and validates both directions from the
method's annotations with pydantic: JSON is validated strictly, Python values as pydantic
would coerce them (dataclass instances revalidated), so a wrong value names its field path
(``args.limit``, ``result.hits[0].score``). ``docs/wire-protocol.md`` is the reference.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

from ._context import SecurityContext
from ._contract import ContractMethod, PluginContract
from ._problems import validation_problems
from .errors import InvalidContextError, RemotePluginError, RoutingProblem

__all__ = [
    "BEARER_PREFIX",
    "ERROR_ADAPTER",
    "ERROR_STATUS",
    "HANDSHAKE_PREFIX",
    "MAX_BODY_BYTES",
    "PROTOCOL",
    "ContractCodec",
    "ErrorType",
    "MethodCodec",
    "RemoteCallError",
    "RemoteTransportError",
    "WireError",
    "WireException",
    "WireValidationError",
    "contract_codec",
    "error_body",
]

PROTOCOL = "plugway-http/1"
HANDSHAKE_PREFIX = "PLUGWAY-PLUGIN-HOST"  # "PLUGWAY-PLUGIN-HOST listening <url>" on stdout
BEARER_PREFIX = b"bearer "  # the secret travels as ``Authorization: Bearer <secret>``
MAX_BODY_BYTES = 8 * 1024 * 1024

ErrorType = Literal[
    "bad_request",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "too_large",
    "contract_error",
    "plugin_error",
    "bad_result",
    "unavailable",
]
ERROR_STATUS: Mapping[ErrorType, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "contract_error": 422,
    "plugin_error": 500,
    "bad_result": 502,
    "unavailable": 503,
}

_STRICT_JSON = ConfigDict(extra="forbid")
_REVALIDATE = ConfigDict(extra="forbid", revalidate_instances="always")


# -- errors ----------------------------------------------------------------------------------------


class WireValidationError(RemotePluginError):
    """A value does not fit the method's annotations; ``problems`` name each field path."""

    def __init__(self, plugin: str, method: str, problems: tuple[RoutingProblem, ...]) -> None:
        self.problems = problems
        text = "; ".join(f"{p.path or '<root>'}: {p.message}" for p in problems)
        super().__init__(plugin, method, text)


class RemoteCallError(RemotePluginError):
    """The host answered with an error object (``type``: ``plugin_error``, ``bad_request``...)."""

    def __init__(self, plugin: str, method: str, status: int, error: WireError) -> None:
        self.status = status
        self.error = error
        self.type = error.type
        super().__init__(plugin, method, f"host answered {status} {error.type}: {error.message}")


class RemoteTransportError(RemotePluginError):
    """The host could not be reached, or the connection broke before an answer."""


@dataclass(frozen=True, slots=True)
class WireError:
    """The ``error`` object of an answer: a type from :data:`ERROR_STATUS`, text, field paths;
    a ``contract_error`` also carries the ``exception`` raised (:mod:`._passthrough`)."""

    type: str
    message: str
    errors: tuple[RoutingProblem, ...] = ()
    exception: WireException | None = None

    def to_json(self) -> bytes:
        error: _ErrorObject = {
            "type": self.type,
            "message": self.message,
            "errors": [{"path": p.path, "message": p.message} for p in self.errors],
        }
        if self.exception is not None:
            error["exception"] = self.exception
        return _ERROR_ADAPTER.dump_json({"error": error})

    @classmethod
    def from_json(cls, body: bytes, status: int) -> WireError:
        """Read an error answer; a body that is not one still gives an error (never raises)."""
        try:
            doc = _ERROR_ADAPTER.validate_json(body)["error"]
        except ValidationError:
            text = body[:200].decode("utf-8", "replace")
            return cls("bad_result", f"status {status} without an error object: {text!r}")
        problems = tuple(RoutingProblem(e["path"], e["message"]) for e in doc.get("errors", ()))
        return cls(doc["type"], doc["message"], problems, doc.get("exception"))


class _Problem(TypedDict):
    path: str
    message: str


class WireException(TypedDict):
    """A contract's own error as raised: its class name, its base names up to the contract's
    passthrough type, and its public attributes of JSON scalar values."""

    name: str
    bases: NotRequired[list[str]]
    attributes: NotRequired[dict[str, str | int | float | bool | None]]


class _ErrorObject(TypedDict):
    type: str
    message: str
    errors: NotRequired[list[_Problem]]
    exception: NotRequired[WireException]


class _ErrorAnswer(TypedDict):
    error: _ErrorObject


_ERROR_ADAPTER: TypeAdapter[_ErrorAnswer] = TypeAdapter(_ErrorAnswer)
ERROR_ADAPTER: TypeAdapter[Any] = _ERROR_ADAPTER  # its JSON Schema goes into the host's OpenAPI


def error_body(
    type_: ErrorType,
    message: str,
    errors: tuple[RoutingProblem, ...] = (),
    exception: WireException | None = None,
) -> tuple[int, bytes]:
    """(status, body) of an error answer."""
    return ERROR_STATUS[type_], WireError(type_, message, errors, exception).to_json()


# -- the context -----------------------------------------------------------------------------------


class _WireContext(TypedDict):
    tenant_id: NotRequired[str]
    subject_id: NotRequired[str]
    attributes: NotRequired[dict[str, str]]


_WireContext.__pydantic_config__ = _STRICT_JSON  # type: ignore[attr-defined]


def context_to_wire(ctx: SecurityContext) -> dict[str, Any]:
    return {
        "tenant_id": ctx.tenant_id,
        "subject_id": ctx.subject_id,
        "attributes": dict(ctx.attributes),
    }


# -- one method ------------------------------------------------------------------------------------

_P = inspect.Parameter


class MethodCodec:
    """The wire form of one contract method, built once from its signature and annotations.

    Client side: :meth:`encode_call` (the gateway's arguments -> request body; every parameter
    is sent, defaults filled in) and :meth:`decode_answer`. Host side: :meth:`decode_call`
    (request body -> context, positional and keyword arguments; a parameter with a default may
    be absent) and :meth:`encode_answer`.
    """

    __slots__ = (
        "_args",
        "_defaults",
        "_n_positional",
        "_names",
        "_params",
        "_simple",
        "answer",
        "method",
        "request",
    )

    def __init__(self, contract: PluginContract[Any], method: ContractMethod) -> None:
        self.method = method.name
        params = list(method.signature.parameters.values())[1:]  # after the context
        self._params = tuple(params)
        self._names = tuple(p.name for p in params)
        self._defaults = {p.name: p.default for p in params if p.default is not _P.empty}
        positional = [p for p in params if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
        self._n_positional = len(positional)
        self._simple = len(positional) == len(params)  # no *args, keyword-only or **kwargs
        fields: dict[str, Any] = {}
        for p in params:
            hint: Any = method.hints.get(p.name, Any)
            if p.kind is _P.VAR_POSITIONAL:
                hint = NotRequired[list[hint]]
            elif p.kind is _P.VAR_KEYWORD:
                hint = NotRequired[dict[str, hint]]
            elif p.default is not _P.empty:
                hint = NotRequired[hint]
            fields[p.name] = hint
        stem = f"{_ident(contract.name)}_{_ident(method.name)}"
        args_td = _typed_dict(f"{stem}_args", fields, _REVALIDATE)
        self._args: TypeAdapter[Any] = TypeAdapter(args_td)
        request_fields = {"context": _WireContext, "args": args_td}
        self.request: TypeAdapter[Any] = TypeAdapter(
            _typed_dict(f"{stem}_request", request_fields, _STRICT_JSON)
        )
        result: Any = method.hints.get("return", Any)
        self.answer: TypeAdapter[Any] = TypeAdapter(
            _typed_dict(f"{stem}_answer", {"result": result}, _REVALIDATE)
        )

    # -- client side ---------------------------------------------------------------------------

    def encode_call(
        self, plugin: str, ctx: SecurityContext, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> bytes:
        """The request body; TypeError for arguments the signature cannot bind (the caller's)."""
        if not kwargs and self._simple and len(args) <= self._n_positional:
            values = dict(zip(self._names, args, strict=False))
            for name in self._names[len(args) :]:
                if name in self._defaults:
                    values[name] = self._defaults[name]
        else:
            values = self._bind(args, kwargs)
        try:
            checked = self._args.validate_python(values)
        except ValidationError as exc:
            raise WireValidationError(
                plugin, self.method, validation_problems(exc, ("args",))
            ) from None
        try:
            return self.request.dump_json({"context": context_to_wire(ctx), "args": checked})
        except PydanticSerializationError as exc:
            problem = RoutingProblem("args", str(exc))
            raise WireValidationError(plugin, self.method, (problem,)) from None

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        sig = inspect.Signature(list(self._params))
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        for p in self._params:
            if p.kind is _P.VAR_POSITIONAL:
                values[p.name] = list(values.get(p.name, ()))
        return values

    def decode_answer(self, plugin: str, body: bytes) -> Any:
        """The ``result`` of a 200 answer, validated strictly against the return annotation."""
        try:
            return self.answer.validate_json(body, strict=True)["result"]
        except ValidationError as exc:
            raise WireValidationError(plugin, self.method, validation_problems(exc)) from None

    # -- host side -----------------------------------------------------------------------------

    def decode_call(self, body: bytes) -> tuple[SecurityContext, list[Any], dict[str, Any]]:
        """Context and arguments of a request; WireValidationError names each bad field."""
        try:
            doc = self.request.validate_json(body, strict=True)
        except ValidationError as exc:
            raise WireValidationError("-", self.method, validation_problems(exc)) from None
        c = doc["context"]
        try:
            ctx = SecurityContext(
                c.get("tenant_id", ""), c.get("subject_id", ""), c.get("attributes") or {}
            )
        except InvalidContextError as exc:
            problem = RoutingProblem("context", str(exc))
            raise WireValidationError("-", self.method, (problem,)) from None
        values: dict[str, Any] = doc["args"]
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        gap = False
        for p in self._params:
            present = p.name in values
            if p.kind is _P.POSITIONAL_ONLY or (p.kind is _P.POSITIONAL_OR_KEYWORD and not gap):
                if present and not gap:
                    positional.append(values[p.name])
                elif present:
                    problem = RoutingProblem(f"args.{p.name}", "given after an omitted argument")
                    raise WireValidationError("-", self.method, (problem,))
                else:
                    gap = True
            elif p.kind is _P.VAR_POSITIONAL:
                if present and gap:
                    problem = RoutingProblem(f"args.{p.name}", "given after an omitted argument")
                    raise WireValidationError("-", self.method, (problem,))
                positional.extend(values.get(p.name, ()))
            elif p.kind is _P.VAR_KEYWORD:
                keywords.update(values.get(p.name, {}))
            elif present:
                keywords[p.name] = values[p.name]
        return ctx, positional, keywords

    def encode_answer(self, result: Any) -> bytes:
        """The 200 body for ``result``; WireValidationError when it breaks the annotation."""
        try:
            checked = self.answer.validate_python({"result": result})
            return self.answer.dump_json(checked)
        except ValidationError as exc:
            raise WireValidationError("-", self.method, validation_problems(exc)) from None
        except PydanticSerializationError as exc:
            raise WireValidationError(
                "-", self.method, (RoutingProblem("result", str(exc)),)
            ) from None


_TYPED_DICT: Any = TypedDict  # called with computed names and fields: beyond static typing


def _typed_dict(name: str, fields: Mapping[str, Any], config: ConfigDict) -> Any:
    """A TypedDict built at run time, with its pydantic config (extra keys refused)."""
    td = _TYPED_DICT(name, dict(fields))
    td.__pydantic_config__ = config
    return td


def _ident(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


@dataclass(frozen=True, slots=True)
class ContractCodec:
    """The codecs of every method of one contract (built once per contract)."""

    contract: PluginContract[Any]
    methods: Mapping[str, MethodCodec]


@functools.lru_cache(maxsize=128)
def contract_codec(contract: PluginContract[Any]) -> ContractCodec:
    """The codec of ``contract`` (cached per contract object: contracts are built once)."""
    methods = {n: MethodCodec(contract, m) for n, m in contract.methods.items()}
    return ContractCodec(contract, MappingProxyType(methods))
