"""Gateway metrics: plain counters on the call path, prometheus_client families on a scrape."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from plugway.plugins._metrics import OTHER_RULE, GaugeSample, Metrics, MetricsCollector

P1, P2 = "gts.x.core.modkit.plugin.v1~x.test.echo.plugin.v1.0~x.test.a.plugin.v1", "p2"


def scrape(metrics: Metrics) -> str:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(MetricsCollector(metrics))
    return generate_latest(registry).decode()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``{sorted labels: value}`` of every sample called ``name`` in an exposition."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def revision_gauges(gateway: str, revision: int) -> list[GaugeSample]:
    return [
        GaugeSample(
            "plugway_gateway_routing_revision", "Routing revision.", {"gateway": gateway}, revision
        ),
        GaugeSample("plugway_gateway_breaker_open", "Open.", {"gateway": gateway, "plugin": P1}, 0),
    ]


def test_every_observed_call_is_in_the_histogram_count_and_buckets_are_cumulative() -> None:
    metrics = Metrics()
    series = metrics.series("echo", P1, "default")
    durations = [0, 1, 900, 5_000, 70_000, 3_000_000, 2**40]  # 0 ns up to past the last bound
    for ns in durations:
        series.observe_ns(ns)
    text = scrape(metrics)
    key = (("gateway", "echo"), ("plugin", P1), ("rule", "default"))
    assert samples(text, "plugway_gateway_calls_total") == {key: len(durations)}
    assert samples(text, "plugway_gateway_call_duration_seconds_count") == {key: len(durations)}
    assert samples(text, "plugway_gateway_call_duration_seconds_sum")[key] == pytest.approx(
        sum(durations) / 1e9
    )
    buckets = [
        (float(s.labels["le"]), s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "plugway_gateway_call_duration_seconds_bucket"
    ]
    assert [le for le, _ in buckets] == sorted(le for le, _ in buckets)
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == len(durations)
    assert dict(buckets)[2**10 / 1e9] == 3  # 0, 1 and 900 ns are at most 1024 ns
    assert counts[-2] == len(durations) - 1  # 2**40 ns lies past the last finite bound


def test_one_type_line_per_family_whichever_gateways_produce_it() -> None:
    metrics = Metrics()
    metrics.series("echo", P1, "default").observe_ns(1_000)
    metrics.series("search", P2, "rule0").observe_ns(1_000)
    metrics.set_gauge_source("gateway:echo", lambda: revision_gauges("echo", 3))
    metrics.set_gauge_source("gateway:search", lambda: revision_gauges("search", 5))
    text = scrape(metrics)
    types = Counter(line.split()[2] for line in text.splitlines() if line.startswith("# TYPE"))
    assert types and set(types.values()) == {1}
    assert {
        "plugway_gateway_calls_total",
        "plugway_gateway_shadow_mismatches_total",
        "plugway_gateway_call_duration_seconds",
        "plugway_gateway_routing_revision",
        "plugway_gateway_breaker_open",
    } <= set(types)
    assert samples(text, "plugway_gateway_routing_revision") == {
        (("gateway", "echo"),): 3,
        (("gateway", "search"),): 5,
    }
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["plugway_gateway_calls"] == "counter"
    assert families["plugway_gateway_call_duration_seconds"] == "histogram"
    assert families["plugway_gateway_breaker_open"] == "gauge"


def test_series_retained_away_disappear_from_the_exposition() -> None:
    metrics = Metrics()
    for plugin, rule in ((P1, "default"), (P1, "rule0"), (P2, "rule0")):
        metrics.series("echo", plugin, rule).observe_ns(1_000)
    metrics.series("other", P2, "rule0").observe_ns(1_000)
    metrics.retain("echo", [(P1, "rule0")])
    calls = samples(scrape(metrics), "plugway_gateway_calls_total")
    assert {(dict(k)["gateway"], dict(k)["plugin"], dict(k)["rule"]) for k in calls} == {
        ("echo", P1, "rule0"),
        ("other", P2, "rule0"),  # another gateway's series are not touched
    }
    kept = metrics.series("echo", P1, "rule0")
    assert kept.calls == 1  # a retained series keeps its counts (and its object)
    assert metrics.series("echo", P2, "rule0").calls == 0  # a dropped one starts afresh


def test_a_dropped_gateway_leaves_no_series_and_no_gauges() -> None:
    metrics = Metrics()
    metrics.series("echo", P1, "default").observe_ns(1_000)
    metrics.set_gauge_source("gateway:echo", lambda: revision_gauges("echo", 1))
    assert 'gateway="echo"' in scrape(metrics)
    metrics.drop_gateway("echo")
    assert 'gateway="echo"' not in scrape(metrics)


def test_series_past_the_cap_collapse_into_the_other_rule() -> None:
    metrics = Metrics(max_series_per_gateway=3)
    got = [metrics.series("echo", P1, f"rule{i}") for i in range(6)]
    assert [s.rule for s in got] == ["rule0", "rule1", "rule2", OTHER_RULE, OTHER_RULE, OTHER_RULE]
    assert got[3] is got[4] is got[5]
    assert metrics.series("echo", P2, "rule9").rule == OTHER_RULE  # one per plugin
    assert metrics.series("search", P1, "rule9").rule == "rule9"  # the cap is per gateway
    rules = {dict(k)["rule"] for k in samples(scrape(metrics), "plugway_gateway_calls_total")}
    assert rules == {"rule0", "rule1", "rule2", "rule9", OTHER_RULE}
    metrics.retain("echo", [(P1, "rule0"), (P1, "rule4")])  # rule4 lives on in _other
    assert [s.rule for s in metrics.all_series() if s.gateway == "echo"] == [OTHER_RULE, "rule0"]
    assert metrics.series("echo", P1, "rule7").rule == "rule7"  # room again under the cap


def test_the_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_series_per_gateway"):
        Metrics(max_series_per_gateway=0)
