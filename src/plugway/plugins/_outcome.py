"""What a call reports: each try (``Attempt``), the answer and what served it (``CallOutcome``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .routing import Decision

__all__ = ["Attempt", "CallOutcome"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a call: the plugin, and why it failed (None: it served)."""

    plugin: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A call's answer with what served it: the decision, the plugin, every attempt."""

    result: Any
    gateway: str
    method: str
    plugin: str
    decision: Decision
    attempts: tuple[Attempt, ...]

    @property
    def rule(self) -> str:
        return self.decision.rule_label

    @property
    def rule_index(self) -> int | None:
        return self.decision.rule_index

    @property
    def revision(self) -> int:
        return self.decision.revision

    def to_dict(self) -> dict[str, Any]:
        """The outcome as the REST face shows it (without the result)."""
        return {
            "plugin": self.plugin,
            "rule": self.rule,
            "rule_index": self.rule_index,
            "revision": self.revision,
            "attempts": [{"plugin": a.plugin, "error": a.error} for a in self.attempts],
        }
