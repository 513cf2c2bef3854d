"""``/metrics``: one prometheus_client registry over the process, the runtime and layer-4 code.

Producers register a ``prometheus_client`` collector in the ClientHub under the interface
``prometheus_client.registry.Collector``, scoped by a GTS id (``hub.register_scoped(Collector,
"gts.x.core.plugins.metrics.v1~", collector)``) or unscoped; the server never knows what they
measure. Text sources (``MetricsSource`` callables returning exposition text) still work: their
text is parsed into families. Families of the same name from several producers are merged, so
each has one ``# TYPE`` line, and a producer that fails is logged and reported as
``plugway_metrics_source_up{source=...} 0`` while the others are still served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from plugway.modkit import ClientHub, Runtime
from plugway.server._sources import hub_entries, registry_ready

if TYPE_CHECKING:
    from typing_extensions import TypeForm

__all__ = ["build_registry", "metrics_response"]

_log = logging.getLogger("plugway.server")


class _RuntimeCollector(Collector):
    """The server's own gauges: each module's lifecycle phase, and registry readiness."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        phase = GaugeMetricFamily(
            "plugway_module_phase",
            "Lifecycle phase of each module (1 for its current phase).",
            labels=("module", "phase"),
        )
        for name in self._runtime.modules:
            phase.add_metric([name, str(self._runtime.phase_of(name))], 1)
        yield phase
        yield GaugeMetricFamily(
            "plugway_registry_ready",
            "1 once the types registry has switched to ready.",
            value=1 if registry_ready(self._runtime) else 0,
        )


def _from_collector(collector: Collector) -> list[Metric]:
    return list(collector.collect())


def _from_text(source: Callable[[], str]) -> list[Metric]:
    return list(text_string_to_metric_families(source()))


class _HubCollector(Collector):
    """Every producer in the hub at scrape time, merged into one family per name."""

    def __init__(self, hub: ClientHub, text_source: TypeForm[Any] | None) -> None:
        self._hub = hub
        self._text_source = text_source

    def _producers(self) -> list[tuple[str, Callable[[], list[Metric]]]]:
        producers: list[tuple[str, Callable[[], list[Metric]]]] = [
            (scope, partial(_from_collector, collector))
            for scope, collector in hub_entries(self._hub, Collector)
        ]
        if self._text_source is not None:
            producers += [
                (scope, partial(_from_text, source))
                for scope, source in hub_entries(self._hub, self._text_source)
            ]
        return producers

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        up = GaugeMetricFamily(
            "plugway_metrics_source_up",
            "1 when the metrics producer registered under this scope answered the last scrape.",
            labels=("source",),
        )
        for scope, produce in self._producers():
            source = scope or "<unscoped>"
            try:
                families = produce()
            except Exception as exc:  # one broken producer must not blank the whole scrape
                _log.error("metrics source %r failed", source, exc_info=exc)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            _merge(merged, families, source)
        yield from merged.values()
        yield up


def _merge(merged: dict[str, Metric], families: Iterable[Metric], source: str) -> None:
    for family in families:
        if not family.samples:  # a stray TYPE line: emitting it would repeat a TYPE name
            continue
        name = family.name + "_total" if family.type == "counter" else family.name
        known = merged.get(name)
        if known is None:
            merged[name] = family
        elif known.type == family.type:
            known.samples.extend(family.samples)
        else:
            _log.error(
                "metrics source %r: family %r is a %s, another source made it a %s; left out",
                source,
                family.name,
                family.type,
                known.type,
            )


def build_registry(
    runtime: Runtime, *, text_source: TypeForm[Any] | None = None
) -> CollectorRegistry:
    """A registry of the process, platform and GC collectors, the runtime, and the hub's producers.

    ``text_source`` is the hub interface of text producers (``MetricsSource``), if any.
    """
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(_RuntimeCollector(runtime))
    registry.register(_HubCollector(runtime.hub, text_source))
    return registry


def metrics_response(
    runtime: Runtime, *, text_source: TypeForm[Any] | None = None
) -> PlainTextResponse:
    """The ``/metrics`` answer: ``generate_latest`` of a registry built for this scrape.

    Built per scrape (a few microseconds) so the app keeps no state and the hub is read fresh.
    """
    body = generate_latest(build_registry(runtime, text_source=text_source))
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)
