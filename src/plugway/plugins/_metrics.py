"""Gateway metrics: plain-int counters on the call path, prometheus_client families at scrape time.

Updating a metric on the call path is an integer increment on a preallocated slot object, and
every call's duration goes into a power-of-two bucket (an index by bit length, no search). The
families are only built when a registry collects :class:`MetricsCollector`, so a scrape costs
the call path nothing.

Label cardinality is bounded: a gateway holds at most ``max_series_per_gateway`` (plugin, rule)
series; past the cap, a new rule of a plugin is counted under ``rule="_other"`` (one such series
per plugin). Series of rules and plugins that are gone are dropped by :meth:`Metrics.retain`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = [
    "DEFAULT_MAX_SERIES_PER_GATEWAY",
    "OTHER_RULE",
    "CallSeries",
    "GaugeSample",
    "Metrics",
    "MetricsCollector",
    "render_prometheus",
]

DEFAULT_MAX_SERIES_PER_GATEWAY = 2000
OTHER_RULE = "_other"  # the rule label of the series past a gateway's cap
_MIN_BIT = 10  # first histogram bound: 2**10 ns ~ 1 us
_MAX_BIT = 35  # last finite bound: 2**35 ns ~ 34 s
_BOUNDS = tuple((bit, repr((1 << bit) / 1e9)) for bit in range(_MIN_BIT, _MAX_BIT + 1))
_LABELS = ("gateway", "plugin", "rule")


class CallSeries:
    """Counters of one (gateway, plugin, rule); latency buckets by bit length of the ns duration.

    A call is counted once, when it ends, in the latency histogram: ``calls`` is its count.
    """

    __slots__ = (
        "errors",
        "fallbacks",
        "gateway",
        "latency",
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
        self.errors = 0
        self.timeouts = 0
        self.fallbacks = 0
        self.shadow_calls = 0
        self.shadow_errors = 0
        self.shadow_mismatches = 0
        self.latency = [0] * 65
        self.latency_sum_ns = 0

    def observe_ns(self, ns: int) -> None:
        """Record one call that took ``ns`` nanoseconds (the dispatcher's first try inlines it)."""
        self.latency[ns.bit_length()] += 1
        self.latency_sum_ns += ns

    @property
    def latency_count(self) -> int:
        return sum(self.latency)

    @property
    def calls(self) -> int:
        """Calls made to the plugin by this route (counted when they end)."""
        return sum(self.latency)


@dataclass(frozen=True, slots=True)
class GaugeSample:
    """One gauge value, produced when metrics are collected."""

    name: str
    help: str
    labels: Mapping[str, str]
    value: float


class Metrics:
    """The metrics of every gateway of a process; one instance is shared by the gateways.

    ``series`` reads without a lock (the call path may ask for one); creating, retaining and
    dropping series take the lock, and a scrape copies the table under it.
    """

    def __init__(self, *, max_series_per_gateway: int = DEFAULT_MAX_SERIES_PER_GATEWAY) -> None:
        if max_series_per_gateway < 1:
            raise ValueError(f"max_series_per_gateway must be >= 1, got {max_series_per_gateway}")
        self.max_series_per_gateway = max_series_per_gateway
        self._series: dict[tuple[str, str, str], CallSeries] = {}
        self._per_gateway: dict[str, int] = {}
        self._sources: dict[str, Callable[[], Iterable[GaugeSample]]] = {}
        self._lock = threading.Lock()

    def series(self, gateway: str, plugin: str, rule: str) -> CallSeries:
        """The (created on first use) series of a gateway / plugin / rule.

        Past the gateway's cap, a new (plugin, rule) gets the plugin's ``rule="_other"`` series.
        """
        found = self._series.get((gateway, plugin, rule))
        if found is not None:
            return found
        with self._lock:
            found = self._series.get((gateway, plugin, rule))
            if found is not None:
                return found
            count = self._per_gateway.get(gateway, 0)
            if count >= self.max_series_per_gateway and rule != OTHER_RULE:
                rule = OTHER_RULE
                found = self._series.get((gateway, plugin, rule))
                if found is not None:
                    return found
            found = self._series[(gateway, plugin, rule)] = CallSeries(gateway, plugin, rule)
            self._per_gateway[gateway] = count + 1
            return found

    def retain(self, gateway: str, keys: Iterable[tuple[str, str]]) -> None:
        """Keep only the (plugin, rule) series of ``gateway`` in ``keys``; drop the others.

        A plugin that keeps any series also keeps its ``_other`` series (rules past the cap).
        Call it after every routing or plugin-set change, with the keys the new state serves.
        """
        wanted = set(keys)
        plugins = {plugin for plugin, _ in wanted}
        with self._lock:
            gone = [
                key
                for key in self._series
                if key[0] == gateway
                and (key[1], key[2]) not in wanted
                and not (key[2] == OTHER_RULE and key[1] in plugins)
            ]
            for key in gone:
                del self._series[key]
            self._recount(gateway)

    def drop_gateway(self, gateway: str) -> None:
        """Forget every series of ``gateway`` and its gauge source (the gateway is gone)."""
        with self._lock:
            for key in [k for k in self._series if k[0] == gateway]:
                del self._series[key]
            self._per_gateway.pop(gateway, None)
        self.remove_gauge_source(f"gateway:{gateway}")

    def _recount(self, gateway: str) -> None:
        count = sum(1 for key in self._series if key[0] == gateway)
        if count:
            self._per_gateway[gateway] = count
        else:
            self._per_gateway.pop(gateway, None)

    def all_series(self) -> list[CallSeries]:
        """Every series, sorted by labels."""
        with self._lock:
            items = sorted(self._series.items())
        return [s for _, s in items]

    def set_gauge_source(self, name: str, source: Callable[[], Iterable[GaugeSample]]) -> None:
        """Register (or replace) a callable that yields gauges at collection time."""
        with self._lock:
            self._sources = {**self._sources, name: source}

    def remove_gauge_source(self, name: str) -> None:
        with self._lock:
            self._sources = {k: v for k, v in self._sources.items() if k != name}

    def gauges(self) -> list[GaugeSample]:
        """Every gauge of every source, sources in name order."""
        sources = self._sources
        out: list[GaugeSample] = []
        for name in sorted(sources):
            out.extend(sources[name]())
        return out


_COUNTERS = (
    ("calls", "Gateway calls routed to the plugin by the rule."),
    ("errors", "Calls whose plugin raised or timed out."),
    ("timeouts", "Calls whose plugin exceeded the gateway timeout."),
    ("fallbacks", "Calls of this route that went on to the fallback chain."),
    ("shadow_calls", "Shadow calls made for this route."),
    ("shadow_errors", "Shadow calls that raised or timed out (never seen by the caller)."),
    ("shadow_mismatches", "Shadow calls whose result differed from the served result."),
)
_DURATION = "plugway_gateway_call_duration_seconds"


def _histogram(series: list[CallSeries]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        _DURATION, "Duration of plugin calls (every call).", labels=_LABELS
    )
    for s in series:
        latency = list(s.latency)  # one copy: buckets and count agree even while calls land
        cumulative = sum(latency[:_MIN_BIT])
        buckets: list[tuple[str, float]] = []
        for bit, le in _BOUNDS:
            cumulative += latency[bit]
            buckets.append((le, cumulative))
        buckets.append(("+Inf", sum(latency)))
        family.add_metric([s.gateway, s.plugin, s.rule], buckets, s.latency_sum_ns / 1e9)
    return family


def _gauge_families(samples: Iterable[GaugeSample]) -> list[Metric]:
    """One family per gauge name, whichever gateways produced its samples."""
    families: dict[str, Metric] = {}
    for g in samples:
        family = families.get(g.name)
        if family is None:
            family = families[g.name] = GaugeMetricFamily(g.name, g.help)
        family.add_sample(g.name, dict(g.labels), g.value)
    return list(families.values())


class MetricsCollector(Collector):
    """A prometheus_client collector over :class:`Metrics`: one family per metric name."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        series = self.metrics.all_series()
        for attr, text in _COUNTERS:
            family = CounterMetricFamily(f"plugway_gateway_{attr}", text, labels=_LABELS)
            for s in series:
                family.add_metric([s.gateway, s.plugin, s.rule], getattr(s, attr))
            yield family
        yield _histogram(series)
        yield from _gauge_families(self.metrics.gauges())

    def describe(self) -> list[Metric]:
        """Nothing up front: a registry must not collect at registration time."""
        return []


def render_prometheus(metrics: Metrics) -> str:
    """The text exposition of ``metrics`` alone (tests, and text-only consumers)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(metrics))
    return generate_latest(registry).decode("utf-8")
