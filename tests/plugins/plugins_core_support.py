"""Shared fixtures of the plugins core tests: a small contract and plugins that count calls."""

from __future__ import annotations

import asyncio
from typing import Protocol

from pydantic import BaseModel, Field

from plugway.plugins import PluginContract, PluginSpec, SecurityContext

TYPE_ID = "gts.x.core.modkit.plugin.v1~x.test.echo.plugin.v1.0~"


class EchoProps(BaseModel):
    """Properties of an echo plugin."""

    prefix: str = ""
    boost: float = Field(default=1.0, ge=0)


class Echo(Protocol):
    """Echo things back."""

    async def echo(self, ctx: SecurityContext, text: str) -> str: ...


ECHO = PluginContract(Echo, type_id=TYPE_ID, properties=EchoProps, name="echo")


def pid(name: str) -> str:
    """Plugin id of a test plugin called ``name``."""
    return ECHO.instance_id(f"x.test.{name}.plugin.v1")


def spec(name: str, vendor: str = "x", priority: int = 100) -> PluginSpec:
    return PluginSpec(pid(name), vendor, priority)


class Named:
    """A plugin answering ``<name>:<text>`` and counting its calls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        self.calls += 1
        return f"{self.name}:{text}"


class Failing(Named):
    """A plugin that raises (while ``failing``) and counts its calls."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.failing = True

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        self.calls += 1
        if self.failing:
            raise RuntimeError(f"{self.name} is broken")
        return f"{self.name}:{text}"


class Hanging(Named):
    """A plugin that never answers."""

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class FakeClock:
    """A monotonic clock that tests move by hand (no sleeping, no timing assertions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
