"""What routing answers: a Decision per call, and an Explanation of it (that decision, traced)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decision", "Explanation"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Which plugin serves a call, chosen by which rule, and where to go if it fails.

    Decisions are preallocated when a router is compiled (one per rule and target); ``slot`` is
    this decision's index in ``Router.decisions``, which gateways use to find per-route state.
    ``rule_index`` None means the default route.
    """

    plugin_id: str | None
    rule_index: int | None
    rule_name: str | None
    fallback: tuple[str, ...]
    shadow: str | None
    revision: int
    slot: int

    @property
    def rule_label(self) -> str:
        """The rule as metrics and logs name it: its name, ``rule<i>``, or ``default``."""
        if self.rule_name is not None:
            return self.rule_name
        return "default" if self.rule_index is None else f"rule{self.rule_index}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a context goes to a plugin: the rule that chose it, each rule's verdict, the rest."""

    gateway: str
    plugin_id: str | None
    rule_index: int | None
    rule_name: str | None
    reason: str
    steps: tuple[str, ...]
    fallback: tuple[str, ...]
    shadow: str | None
    revision: int
    circuit: str | None = None  # the chosen plugin's breaker state, filled in by a Gateway
