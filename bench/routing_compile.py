"""Cost of applying routing documents in process, and of the first and later decisions of a split.

One run prints, per routing document, the median wall time of ``gw.apply_routing(doc)`` (parse,
validate against the plugins, compile, store as a revision in memory, swap in) and its peak
memory (tracemalloc, measured in a separate run so tracing does not inflate the times):

- an ordinary routing of 3 rules (a tenant rule, a 90/10 split, a 10 % rollout): the baseline;
- 300 split rules of 2 variants each (each rule matches its own tenant);
- one split of 255 variants (the most a split may have).

Each run applies the document to a fresh gateway holding the same plugins, so every apply is a
real change. Then, per split document, the cost of ``gw.decide(ctx)``: the first call after the
apply (it allocates the split's bucket table and fills one bucket), later calls on keys not seen
yet (each fills its bucket), and calls on keys seen already (a table read). The figures are
printed next to the baseline as ratios; nothing asserts a time. Before the gateway core was
rewritten, (a) took 10 s and 150 MB to apply and (b) 6 s (issue 7).

    .venv/bin/python bench/routing_compile.py [--repeats 5] [--keys 2000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tracemalloc
from time import perf_counter_ns
from typing import Any, Protocol

from plugway.plugins import Gateway, PluginContract, PluginSpec, SecurityContext
from plugway.plugins._metrics import Metrics
from plugway.plugins.routing import N_BUCKETS


class SearchPlugin(Protocol):
    async def search(self, ctx: SecurityContext, query: str) -> str: ...


CONTRACT = PluginContract(
    SearchPlugin, type_id="gts.x.core.modkit.plugin.v1~x.bench.search.plugin.v1.0~"
)
N_PLUGINS = 255
PLUGIN_IDS = [CONTRACT.instance_id(f"x.bench.p{i:03d}.plugin.v1") for i in range(N_PLUGINS)]


class Plugin:
    async def search(self, ctx: SecurityContext, query: str) -> str:
        return query


def ordinary_routing() -> dict[str, Any]:
    """The baseline: what a routing usually is (3 rules)."""
    a, b, c = PLUGIN_IDS[:3]
    return {
        "timeout": 0.5,
        "rules": [
            {"name": "beta", "match": {"tenant": ["t-beta"]}, "target": {"plugin": c}},
            {
                "name": "ab",
                "match": {"tenant": ["t-ab"]},
                "split": {
                    "key": "subject_id",
                    "variants": [{"plugin": a, "weight": 90}, {"plugin": b, "weight": 10}],
                },
            },
            {
                "name": "ramp",
                "rollout": {"key": "tenant_id", "percent": 10, "target": {"plugin": b}},
            },
        ],
    }


def many_splits(n: int = 300) -> dict[str, Any]:
    """``n`` split rules of 2 variants each, rule i for tenant ``t{i}``."""
    rules = []
    for i in range(n):
        a = PLUGIN_IDS[(2 * i) % N_PLUGINS]
        b = PLUGIN_IDS[(2 * i + 1) % N_PLUGINS]
        rules.append(
            {
                "name": f"split-{i}",
                "match": {"tenant": [f"t{i}"]},
                "split": {
                    "key": "subject_id",
                    "variants": [{"plugin": a, "weight": 50 + i % 50}, {"plugin": b, "weight": 50}],
                },
            }
        )
    return {"rules": rules}


def wide_split(n: int = 255) -> dict[str, Any]:
    """One split of ``n`` variants with unequal weights."""
    variants = [{"plugin": PLUGIN_IDS[i], "weight": 1 + i % 7} for i in range(n)]
    return {"rules": [{"name": "wide", "split": {"key": "subject_id", "variants": variants}}]}


def fresh_gateway() -> Gateway[SearchPlugin]:
    gw: Gateway[SearchPlugin] = Gateway("bench", CONTRACT, metrics=Metrics())
    for i, pid in enumerate(PLUGIN_IDS):
        gw.add_plugin(PluginSpec(pid, "x", 100 + i), Plugin())
    return gw


def time_apply(doc: dict[str, Any]) -> float:
    """Seconds for one apply of ``doc`` to a fresh gateway."""
    gw = fresh_gateway()
    gc.collect()
    t0 = perf_counter_ns()
    gw.apply_routing(doc, who="bench")
    return (perf_counter_ns() - t0) / 1e9


def peak_apply(doc: dict[str, Any]) -> int:
    """Peak bytes traced while applying ``doc`` to a fresh gateway."""
    gw = fresh_gateway()
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        gw.apply_routing(doc, who="bench")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def time_decides(doc: dict[str, Any], tenant: str, keys: int) -> tuple[float, float, float]:
    """ns of the first decide after an apply, then median ns per decide on new and seen keys."""
    gw = fresh_gateway()
    gw.apply_routing(doc, who="bench")
    first_ctx = SecurityContext(tenant, "first-subject")
    new = [SecurityContext(tenant, f"user-{i}") for i in range(keys)]
    decide = gw.decide
    gc.collect()
    t0 = perf_counter_ns()
    decide(first_ctx)
    first = perf_counter_ns() - t0
    t0 = perf_counter_ns()
    for ctx in new:
        decide(ctx)
    later_new = (perf_counter_ns() - t0) / keys
    t0 = perf_counter_ns()
    for ctx in new:
        decide(ctx)
    seen = (perf_counter_ns() - t0) / keys
    return first, later_new, seen


def main(repeats: int, keys: int) -> None:
    docs: dict[str, tuple[dict[str, Any], str]] = {
        "ordinary 3-rule routing (baseline)": (ordinary_routing(), "t-ab"),
        "(a) 300 split rules x 2 variants": (many_splits(300), "t299"),
        "(b) 1 split x 255 variants": (wide_split(255), "t1"),
    }
    time_apply(ordinary_routing())  # warm-up (imports, pydantic schema caches)
    apply_s = {
        k: statistics.median(time_apply(d) for _ in range(repeats)) for k, (d, _) in docs.items()
    }
    peak_b = {k: statistics.median(peak_apply(d) for _ in range(3)) for k, (d, _) in docs.items()}
    base_key = "ordinary 3-rule routing (baseline)"
    print(
        f"\n== apply_routing to a gateway of {N_PLUGINS} plugins; time: median of {repeats}; "
        "peak: median of 3 traced runs =="
    )
    print(f"{'':36} {'ms':>9} {'x baseline':>11} {'peak KiB':>10} {'x baseline':>11}")
    for name in docs:
        t, p = apply_s[name], peak_b[name]
        print(
            f"{name:36} {t * 1e3:9.2f} {t / apply_s[base_key]:10.1f}x "
            f"{p / 1024:10.0f} {p / peak_b[base_key]:10.1f}x"
        )
    print("issue 7, before the rewrite: (a) 10 s and 150 MB; (b) 6 s")

    print(f"\n== gw.decide(ctx) after an apply; median of {repeats} runs; {keys} new keys ==")
    print(f"{'':36} {'first ns':>10} {'new key ns':>11} {'seen key ns':>12} {'first/seen':>11}")
    rows: dict[str, tuple[float, float, float]] = {}
    for name, (doc, tenant) in docs.items():
        runs = [time_decides(doc, tenant, keys) for _ in range(repeats)]
        rows[name] = (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs),
        )
    base_seen = rows[base_key][2]
    for name, (first, new, seen) in rows.items():
        print(f"{name:36} {first:10.0f} {new:11.0f} {seen:12.0f} {first / seen:10.0f}x")
    print(
        "\nbaseline row: the 90/10 split of the ordinary routing (tenant t-ab); (a): the last of "
        "the 300 rules\n(tenant t299, so 299 rules are passed first); (b): the 255-variant split."
        "\nseen key / baseline seen key: "
        + ", ".join(f"{n.split(' ')[0]} {r[2] / base_seen:.1f}x" for n, r in rows.items())
    )
    fill = {n: (r[1] - r[2]) * N_BUCKETS / 1e9 for n, r in rows.items() if "(a)" not in n}
    print(
        f"filling one whole bucket table ({N_BUCKETS:,} buckets) lazily costs about "
        f"(new - seen) x {N_BUCKETS:,} ns, spread over the calls that first land in each bucket:\n"
        + ", ".join(f"{n.split(' (')[0]}: {v:.2f} s" for n, v in fill.items())
        + " ((a): 300 2-variant tables, like the baseline's; its rule scan hides the fill)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keys", type=int, default=2000)
    args = parser.parse_args()
    main(args.repeats, args.keys)
    sys.exit(0)
