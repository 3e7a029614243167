"""Full-jitter backoff for UnprocessedItems."""

from __future__ import annotations

import random

from orders.logic.backoff import full_jitter_delay_seconds


def test_delays_are_random_below_an_exponential_ceiling_capped():
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(1000, 50 * 2**attempt) / 1000
        delays = [full_jitter_delay_seconds(attempt, base_ms=50, cap_ms=1000, rng=rng) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range: full jitter, not a fixed wait
        assert min(delays) < ceiling * 0.2


def test_zero_base_means_no_wait():
    assert full_jitter_delay_seconds(3, base_ms=0, cap_ms=1000, rng=random.Random(1)) == 0
