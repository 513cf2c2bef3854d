"""The ``types_registry`` module: its config and how it serves the runtime's registry."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from plugway.modkit import ClientHub, Module, ModuleContext, module
from plugway.plugins._host_credentials import HostCredentials
from plugway.registry import MAX_LIMIT, TypesRegistry

from ._routes import Limits, build_router

__all__ = ["TypesRegistryConfig", "TypesRegistryModule"]


class TypesRegistryConfig(BaseModel):
    """``modules.types_registry.config``: limits of the REST face (the storage is configured
    under ``registry:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch: int = Field(default=10_000, ge=1, description="most entities in one POST")
    max_page: int = Field(
        default=1_000, ge=1, le=MAX_LIMIT, description="largest accepted list limit"
    )
    protect_writes: bool = Field(
        default=True,
        description="POST needs the admin bearer token (refused without one unless "
        "server.allow_unauthenticated_writes); false opens it to anyone",
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1,
        description="largest POST body in bytes (instead of server.max_body_bytes)",
    )
    write_threads: int = Field(
        default=1,
        ge=1,
        description="worker threads that run registrations (validation and storage) off the "
        "event loop; further POSTs wait their turn",
    )


@module(name="types_registry", config=TypesRegistryConfig)
class TypesRegistryModule(Module):
    """Serves the registry over REST; the registry itself belongs to the runtime."""

    def __init__(self) -> None:
        self._registry: TypesRegistry | None = None
        self._config = TypesRegistryConfig()
        self._admin_token: str | None = None
        self._host_token: str | None = None
        self._hub: ClientHub | None = None

    async def init(self, ctx: ModuleContext) -> None:
        self._registry = ctx.registry
        if isinstance(ctx.config, TypesRegistryConfig):
            self._config = ctx.config
        protect = self._config.protect_writes
        self._admin_token = ctx.settings.server.admin_token if protect else None
        self._host_token = ctx.settings.server.host_token if protect else None
        self._hub = ctx.hub

    def _limits(self) -> Limits:
        c = self._config
        launches = self._hub.try_get(HostCredentials) if self._hub is not None else None
        return Limits(c.max_batch, c.max_page, self._admin_token, self._host_token, launches)

    def rest_router(self) -> APIRouter:
        """The routes; ``protect_writes`` and ``write_threads`` are read now (``plugway serve``
        asks after ``init``; before it, the defaults apply: writes protected, one thread)."""
        return build_router(
            lambda: self._registry,
            get_limits=self._limits,
            protect_writes=self._config.protect_writes,
            max_body_bytes=lambda: self._config.max_body_bytes,
            write_threads=self._config.write_threads,
        )
