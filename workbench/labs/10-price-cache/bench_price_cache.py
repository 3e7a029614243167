"""This lab's bench step: prices kept per environment against a catalog query per POST (lab 10).

Both twins are the shipped ApiFunction; only CATALOG_MAX_AGE_SECONDS differs (60 as template.yaml sets it, 0).
"""

from __future__ import annotations

import json

from workbench.emulator.environment import FunctionPool
from workbench.emulator.template import PROJECT_ROOT
from workbench.measure.bench import Bench, Comparison

MAX_AGES = {"optimized": "60", "naive": "0"}


def price_cache(bench: Bench) -> Comparison:
    comparison = Comparison(
        "price cache per environment", "prices kept 60 s", "catalog query per POST", "ms/invocation"
    )
    event = json.loads((PROJECT_ROOT / "events" / "api_post_order.json").read_text())
    event["headers"].pop("idempotency-key", None)  # every POST priced anew (a retry with a key is not)
    proxy = bench.service.database_proxy
    pools: dict[str, FunctionPool] = {
        name: bench.function("ApiFunction", CATALOG_MAX_AGE_SECONDS=max_age) for name, max_age in MAX_AGES.items()
    }
    figure = "MySQL queries per 100 warm POSTs (counted at the proxy)"
    comparison.counts[figure] = {}
    for name, pool in pools.items():
        bench.ok(pool.invoke(event))  # the cold POST: a cache miss, and the connection's own queries
        before = proxy.queries_sent()
        for _ in range(bench.sizes.counted):
            bench.ok(pool.invoke(event))
        comparison.counts[figure][name] = proxy.queries_sent() - before
    comparison.expected_counts[figure] = {"optimized": 0, "naive": bench.sizes.counted}
    timings = bench.interleaved(pools, lambda: event)
    comparison.optimized_timing, comparison.naive_timing = timings["optimized"], timings["naive"]
    for pool in pools.values():
        pool.close()
    if proxy.queries_unseen():
        comparison.notes.append("a connection to MySQL used TLS: the proxy could not count its queries")
    return comparison


STEPS = (price_cache,)
