"""ModuleContext: everything a module gets from the runtime, one frozen value per module."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from plugway.modkit._clienthub import ClientHub
from plugway.modkit._errors import ModkitError
from plugway.modkit._settings import PlugwaySettings
from plugway.registry import TypesRegistry

C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True, slots=True, eq=False)
class ModuleContext:
    """The module's name, its validated config, the shared hub and registry, its logger and
    its own cancellation event (set when the module is asked to stop, before any task is
    cancelled). ``data_dir`` is the server's data folder (shared by all modules)."""

    name: str
    config: BaseModel
    hub: ClientHub
    registry: TypesRegistry
    logger: logging.Logger
    cancellation: asyncio.Event
    data_dir: Path
    settings: PlugwaySettings

    def config_as(self, model: type[C]) -> C:
        """The config typed as ``model`` (the model the module declared)."""
        if not isinstance(self.config, model):
            raise ModkitError(
                f"module '{self.name}': config is a {type(self.config).__qualname__}, "
                f"not a {model.__qualname__}"
            )
        return self.config

    @property
    def cancelled(self) -> bool:
        """True once the module has been asked to stop."""
        return self.cancellation.is_set()
