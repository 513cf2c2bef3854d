"""A circuit breaker per plugin: stop calling a plugin that keeps failing; probe after a pause."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["BreakerSettings", "BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """Open after ``failure_threshold`` failures in a row; one probe after ``cooldown`` seconds."""

    failure_threshold: int = 5
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if self.cooldown < 0:
            raise ValueError("cooldown must be >= 0")


class CircuitBreaker:
    """closed -> (N consecutive failures) -> open -> (cool-down) -> half_open -> probe -> closed.

    ``failures`` is 0 exactly when the breaker is closed with a clean record, so a gateway's fast
    path checks that one integer and takes the careful path otherwise. The clock is injectable so
    that tests move time instead of sleeping.
    """

    __slots__ = ("_probe_at", "clock", "failures", "opened_at", "plugin", "settings", "state")

    def __init__(
        self,
        plugin: str,
        settings: BreakerSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plugin = plugin
        self.settings = settings or BreakerSettings()
        self.clock = clock
        self.failures = 0
        self.state: BreakerState = "closed"
        self.opened_at = 0.0
        self._probe_at: float | None = None

    def allow(self) -> bool:
        """May a call go to this plugin now? In half-open, one probe at a time."""
        if self.state == "closed":
            return True
        now = self.clock()
        if self.state == "open":
            if now - self.opened_at < self.settings.cooldown:
                return False
            self.state = "half_open"
            self._probe_at = now
            return True
        # half-open: a probe is in flight unless the last one is older than a cool-down (lost)
        if self._probe_at is not None and now - self._probe_at < self.settings.cooldown:
            return False
        self._probe_at = now
        return True

    def record_success(self) -> None:
        """A call succeeded: close (a successful probe closes a half-open breaker)."""
        self.failures = 0
        self.state = "closed"
        self._probe_at = None

    def record_failure(self) -> None:
        """A call failed or timed out: count it; open at the threshold or on a failed probe."""
        self.failures += 1
        if self.state == "half_open" or (
            self.state == "closed" and self.failures >= self.settings.failure_threshold
        ):
            self.state = "open"
            self.opened_at = self.clock()
            self._probe_at = None

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.plugin!r}, state={self.state!r}, failures={self.failures})"
