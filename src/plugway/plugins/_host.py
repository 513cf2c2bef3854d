"""The core of a plugin host: plugin declarations built, checked and served method by method.

:class:`PluginHost` loads nothing by itself and knows no HTTP framework: it builds each
declaration with its factory, checks the implementation against its contract exactly as a
gateway would (``contract.bind``), and gives every method a route ``/v1/<contract>/<segment>/
<method>`` whose :meth:`HostedMethod.invoke` turns a request body into ``(status, body)``.
``plugway.server`` puts an ASGI app and uvicorn in front of it; the same object describes the
host as OpenAPI and as the instance documents it registers in the Types Registry.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import TypeAdapter

from ._discovery import PLUGINS_GROUP, PluginDeclaration, PluginSetup
from ._passthrough import Passthrough, contract_error_body
from ._spec import PluginInstance
from ._wire import (
    ERROR_ADAPTER,
    ERROR_STATUS,
    PROTOCOL,
    MethodCodec,
    WireValidationError,
    contract_codec,
    error_body,
)
from .errors import PluginError

__all__ = [
    "HostError",
    "HostedMethod",
    "HostedPlugin",
    "PluginHost",
    "load_declaration",
]

_log = logging.getLogger("plugway.plugins.host")
_SCHEMA_REF = "#/components/schemas/{model}"


class HostError(PluginError):
    """A plugin host cannot start: a declaration that does not load, build or bind."""


def load_declaration(ref: str) -> PluginDeclaration:
    """``module:attribute`` or the name of a ``plugway.plugins`` entry point -> declaration.

    The attribute may be a :class:`PluginDeclaration` or a no-argument callable returning one
    (as for entry points).
    """
    try:
        if ":" in ref:
            module_name, _, attr = ref.partition(":")
            loaded: object = importlib.import_module(module_name)
            for part in attr.split("."):
                loaded = getattr(loaded, part)
        else:
            found = [ep for ep in entry_points(group=PLUGINS_GROUP) if ep.name == ref]
            if not found:
                raise HostError(
                    f"{ref!r}: no entry point of that name in group {PLUGINS_GROUP!r} "
                    "(or give module:attribute)"
                )
            loaded = found[0].load()
        if not isinstance(loaded, PluginDeclaration) and callable(loaded):
            loaded = loaded()
    except HostError:
        raise
    except Exception as exc:
        raise HostError(f"{ref!r}: cannot load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, PluginDeclaration):
        raise HostError(f"{ref!r}: expected a PluginDeclaration, got {type(loaded).__qualname__}")
    return loaded


class HostedMethod:
    """One served method: decode the request, call the plugin, encode the answer.

    ``passthrough``: the contract's own errors, answered as ``contract_error``."""

    __slots__ = ("codec", "fn", "passthrough", "plugin_id")

    def __init__(
        self,
        plugin_id: str,
        codec: MethodCodec,
        fn: Callable[..., Awaitable[Any]],
        passthrough: Passthrough = (),
    ):
        self.plugin_id = plugin_id
        self.codec = codec
        self.fn = fn
        self.passthrough = passthrough

    async def invoke(self, body: bytes) -> tuple[int, bytes]:
        """``(status, body)`` for a request body; a plugin's exception is a ``plugin_error``,
        one of the contract's own errors a ``contract_error``."""
        codec = self.codec
        try:
            ctx, args, kwargs = codec.decode_call(body)
        except WireValidationError as exc:
            return error_body("bad_request", "arguments do not fit the contract", exc.problems)
        try:
            result = await self.fn(ctx, *args, **kwargs)
        except Exception as exc:
            answer = contract_error_body(exc, self.passthrough)
            if answer is not None:
                return answer  # the contract's own answer, e.g. "not found": no failure
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            _log.warning("plugin %s: %s raised %s", self.plugin_id, codec.method, text)
            return error_body("plugin_error", text)
        try:
            return 200, codec.encode_answer(result)
        except WireValidationError as exc:
            _log.error("plugin %s: %s returned a bad result: %s", self.plugin_id, codec.method, exc)
            return error_body("bad_result", "the result does not fit the contract", exc.problems)


@dataclass(frozen=True, slots=True)
class HostedPlugin:
    """A plugin the host serves: its checked instance, its route prefix and its methods."""

    name: str
    declaration: PluginDeclaration
    instance: PluginInstance[Any]
    path: str
    methods: Mapping[str, HostedMethod]

    @property
    def plugin_id(self) -> str:
        return self.instance.id

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.plugin_id,
            "contract": self.declaration.contract.type_id,
            "contract_version": str(self.instance.version),
            "path": self.path,
            "methods": sorted(self.methods),
        }


class PluginHost:
    """The plugins one host process serves, by route (see the module docstring).

    ``configs`` gives a factory its config block by declaration name (the entry point name or
    the ``module:attribute`` reference it was loaded from).
    """

    def __init__(
        self,
        declarations: Iterable[tuple[str, PluginDeclaration]],
        *,
        configs: Mapping[str, Mapping[str, Any]] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        plugins: list[HostedPlugin] = []
        routes: dict[str, HostedMethod] = {}
        for name, decl in declarations:
            hosted = self._build(name, decl, (configs or {}).get(name, {}), data_dir)
            if any(p.path == hosted.path for p in plugins):
                raise HostError(f"{name!r}: plugin {hosted.plugin_id} is listed twice")
            plugins.append(hosted)
            for method, served in hosted.methods.items():
                routes[f"{hosted.path}/{method}"] = served
        if not plugins:
            raise HostError("no plugin to serve")
        self.plugins: tuple[HostedPlugin, ...] = tuple(plugins)
        self.routes: Mapping[str, HostedMethod] = MappingProxyType(routes)

    @staticmethod
    def _build(
        name: str, decl: PluginDeclaration, config: Mapping[str, Any], data_dir: Path | None
    ) -> HostedPlugin:
        contract = decl.contract
        plugin_id = decl.plugin_id
        setup = PluginSetup(
            name=name,
            gateway=contract.name,
            plugin_id=plugin_id,
            config=MappingProxyType(dict(config)),
            data_dir=data_dir,
            logger=logging.getLogger(f"plugway.plugins.host.{name}"),
        )
        try:
            impl = decl.factory(setup)
        except Exception as exc:
            raise HostError(f"{name!r}: factory failed: {type(exc).__name__}: {exc}") from exc
        try:
            instance = contract.bind(decl.spec(), impl)
        except PluginError as exc:
            raise HostError(f"{name!r}: {exc}") from exc
        codec = contract_codec(contract)
        served = {
            m: HostedMethod(plugin_id, codec.methods[m], fn, contract.passthrough)
            for m, fn in instance.methods.items()
            if m not in instance.defaulted  # a caller of an older minor serves those itself
        }
        path = f"/v1/{contract.name}/{decl.segment}"
        return HostedPlugin(name, decl, instance, path, MappingProxyType(served))

    # -- descriptions --------------------------------------------------------------------------

    def instance_documents(
        self, endpoint: str, *, heartbeat_s: float, ttl_s: float
    ) -> list[dict[str, Any]]:
        """The registry documents of the hosted plugins: each instance with its ``endpoint``
        (where and how to call it, and how often it heartbeats) and its ``contract_version``.
        Nothing secret is in them."""
        docs = []
        for p in self.plugins:
            doc = p.instance.spec.instance_document()
            doc["contract_version"] = str(p.instance.version)
            doc["endpoint"] = {
                "url": endpoint,
                "path": p.path,
                "protocol": PROTOCOL,
                "heartbeat_s": heartbeat_s,
                "ttl_s": ttl_s,
            }
            docs.append(doc)
        return docs

    def openapi(self) -> dict[str, Any]:
        """OpenAPI 3.1 of every hosted method, schemas from the contracts' annotations."""
        Mode = Literal["validation", "serialization"]
        inputs: list[tuple[str, Mode, TypeAdapter[Any]]] = [
            ("error", "serialization", ERROR_ADAPTER)
        ]
        for route, served in self.routes.items():
            inputs.append((f"{route}#request", "validation", served.codec.request))
            inputs.append((f"{route}#answer", "serialization", served.codec.answer))
        by_key, defs = TypeAdapter.json_schemas(inputs, ref_template=_SCHEMA_REF)
        schema = {key: value for (key, _mode), value in by_key.items()}
        error = {
            "description": "error",
            "content": {"application/json": {"schema": schema["error"]}},
        }
        paths: dict[str, Any] = {}
        for p in self.plugins:
            contract = p.declaration.contract
            for method in p.methods:
                route = f"{p.path}/{method}"
                doc = inspect.getdoc(getattr(contract.protocol, method, None)) or ""
                responses: dict[str, Any] = {
                    "200": {
                        "description": "the method's result",
                        "content": {"application/json": {"schema": schema[f"{route}#answer"]}},
                    }
                }
                for status in sorted(set(ERROR_STATUS.values())):
                    responses[str(status)] = error
                paths[route] = {
                    "post": {
                        "operationId": f"{contract.name}.{p.declaration.segment}.{method}",
                        "summary": doc.split("\n\n", 1)[0],
                        "tags": [contract.name],
                        "x-plugway-plugin": p.plugin_id,
                        "x-plugway-contract": contract.type_id,
                        "x-plugway-contract-version": str(p.instance.version),
                        "requestBody": {
                            "required": True,
                            "content": {"application/json": {"schema": schema[f"{route}#request"]}},
                        },
                        "responses": responses,
                    }
                }
        tags = {p.declaration.contract.name: p.declaration.contract.type_id for p in self.plugins}
        return {
            "openapi": "3.1.0",
            "info": {"title": "plugway plugin host", "version": PROTOCOL},
            "tags": [{"name": n, "description": f"contract {t}"} for n, t in tags.items()],
            "security": [{"secret": []}],
            "paths": paths,
            "components": {
                "schemas": defs.get("$defs", {}),
                "securitySchemes": {"secret": {"type": "http", "scheme": "bearer"}},
            },
        }

    def describe(self) -> dict[str, Any]:
        """What ``/v1/health`` answers: the protocol and each plugin with its path."""
        return {
            "status": "ok",
            "protocol": PROTOCOL,
            "plugins": [p.describe() for p in self.plugins],
        }
