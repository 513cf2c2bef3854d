"""Tiny in-process metrics for gateways: counters and latency histograms, Prometheus text out.

Updating a metric on the call path is an integer increment on a preallocated slot object; the
text is only built when ``/metrics`` is scraped. Latency is measured on every call that takes a
gateway's careful path (shadow, breaker not clean, no plugin) and on every 64th call of its fast
path, so the histogram is a sample while the call counters are exact.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "LATENCY_SAMPLE_MASK",
    "CallSeries",
    "GaugeSample",
    "Metrics",
    "render_prometheus",
]

LATENCY_SAMPLE_MASK = 63  # fast-path calls are timed when (count & mask) == 0: one in 64
_MIN_BIT = 10  # first histogram bound: 2**10 ns ~ 1 us
_MAX_BIT = 35  # last finite bound: 2**35 ns ~ 34 s


class CallSeries:
    """Counters of one (gateway, plugin, rule); latency buckets by bit length of the ns duration."""

    __slots__ = (
        "calls",
        "errors",
        "fallbacks",
        "gateway",
        "latency",
        "latency_count",
        "latency_sum_ns",
        "plugin",
        "rule",
        "shadow_calls",
        "shadow_errors",
        "shadow_mismatches",
        "timeouts",
    )

    def __init__(self, gateway: str, plugin: str, rule: str) -> None:
        self.gateway = gateway
        self.plugin = plugin
        self.rule = rule
        self.calls = 0
        self.errors = 0
        self.timeouts = 0
        self.fallbacks = 0
        self.shadow_calls = 0
        self.shadow_errors = 0
        self.shadow_mismatches = 0
        self.latency = [0] * 65
        self.latency_sum_ns = 0
        self.latency_count = 0

    def observe_ns(self, ns: int) -> None:
        """Record one call duration in nanoseconds."""
        self.latency[ns.bit_length() if ns > 0 else 0] += 1
        self.latency_sum_ns += ns
        self.latency_count += 1


@dataclass(frozen=True, slots=True)
class GaugeSample:
    """One gauge value, produced when metrics are rendered."""

    name: str
    help: str
    labels: Mapping[str, str]
    value: float


class Metrics:
    """The metrics of every gateway of a process; one instance is shared by the gateways."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], CallSeries] = {}
        self._sources: dict[str, Callable[[], Iterable[GaugeSample]]] = {}
        self._lock = threading.Lock()

    def series(self, gateway: str, plugin: str, rule: str) -> CallSeries:
        """The (created on first use) series of a gateway / plugin / rule."""
        key = (gateway, plugin, rule)
        found = self._series.get(key)
        if found is None:
            with self._lock:
                found = self._series.setdefault(key, CallSeries(gateway, plugin, rule))
        return found

    def all_series(self) -> list[CallSeries]:
        """Every series, sorted by labels."""
        return [self._series[k] for k in sorted(self._series)]

    def set_gauge_source(self, name: str, source: Callable[[], Iterable[GaugeSample]]) -> None:
        """Register (or replace) a callable that yields gauges at render time."""
        self._sources[name] = source

    def remove_gauge_source(self, name: str) -> None:
        self._sources.pop(name, None)

    def gauges(self) -> list[GaugeSample]:
        out: list[GaugeSample] = []
        for name in sorted(self._sources):
            out.extend(self._sources[name]())
        return out


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in pairs.items()) + "}"


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


_COUNTERS = (
    ("calls", "Gateway calls routed to the plugin by the rule."),
    ("errors", "Calls whose plugin raised or timed out."),
    ("timeouts", "Calls whose plugin exceeded the gateway timeout."),
    ("fallbacks", "Calls of this route that went on to the fallback chain."),
    ("shadow_calls", "Shadow calls made for this route."),
    ("shadow_errors", "Shadow calls that raised or timed out (never seen by the caller)."),
    ("shadow_mismatches", "Shadow calls whose result differed from the served result."),
)


def render_prometheus(metrics: Metrics) -> str:
    """The Prometheus text exposition (format 0.0.4) of every series and gauge."""
    series = metrics.all_series()
    lines: list[str] = []
    for attr, text in _COUNTERS:
        name = f"plugway_gateway_{attr}_total"
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} counter")
        for s in series:
            labels = _labels({"gateway": s.gateway, "plugin": s.plugin, "rule": s.rule})
            lines.append(f"{name}{labels} {getattr(s, attr)}")
    name = "plugway_gateway_call_duration_seconds"
    lines.append(
        f"# HELP {name} Duration of plugin calls (sampled: every careful-path call, "
        "1 in 64 fast-path calls)."
    )
    lines.append(f"# TYPE {name} histogram")
    for s in series:
        base = {"gateway": s.gateway, "plugin": s.plugin, "rule": s.rule}
        cumulative = sum(s.latency[: _MIN_BIT + 1])
        for bit in range(_MIN_BIT, _MAX_BIT + 1):
            if bit > _MIN_BIT:
                cumulative += s.latency[bit]
            le = _num((1 << bit) / 1e9)
            lines.append(f"{name}_bucket{_labels({**base, 'le': le})} {cumulative}")
        lines.append(f"{name}_bucket{_labels({**base, 'le': '+Inf'})} {s.latency_count}")
        lines.append(f"{name}_sum{_labels(base)} {_num(s.latency_sum_ns / 1e9)}")
        lines.append(f"{name}_count{_labels(base)} {s.latency_count}")
    seen: set[str] = set()
    for g in metrics.gauges():
        if g.name not in seen:
            seen.add(g.name)
            lines.append(f"# HELP {g.name} {g.help}")
            lines.append(f"# TYPE {g.name} gauge")
        lines.append(f"{g.name}{_labels(g.labels)} {_num(g.value)}")
    return "\n".join(lines) + "\n"
