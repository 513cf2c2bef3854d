"""Where modules are in their lifecycle, and how each one stopped (what ``/health`` reports)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["ModulePhase", "RuntimeState", "StopOutcome", "StopResult", "TaskOutcome"]


class ModulePhase(StrEnum):
    """Where a module is in its lifecycle (what ``/health`` reports)."""

    PENDING = "pending"
    INITIALIZING = "initializing"
    INITIALIZED = "initialized"
    POST_INITIALIZING = "post_initializing"
    POST_INITIALIZED = "post_initialized"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


RuntimeState = Literal["created", "starting", "running", "stopping", "stopped", "failed"]
TaskOutcome = Literal["none", "finished", "cancelled", "stuck", "failed"]
StopResult = Literal["ok", "failed", "timed_out", "stuck"]


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """How one module stopped.

    ``task``: its background task ended by itself within the grace window (``finished``), had
    to be cancelled (``cancelled``), ignored cancellation (``stuck``: abandoned), ended with an
    error (``failed``), or there was none (``none``). ``stop``: how its ``stop`` hook ended.
    """

    module: str
    task: TaskOutcome
    stop: StopResult
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.stop == "ok" and self.task in ("none", "finished", "cancelled")
