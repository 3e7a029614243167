"""Full-jitter backoff for UnprocessedItems."""

from __future__ import annotations

import random

from orders.logic.backoff import full_jitter_delay_seconds


def test_delays_are_random_below_an_exponential_ceiling_capped():
    # GIVEN a seeded generator and a 50 ms base capped at 1 s
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(1000, 50 * 2**attempt) / 1000
        # WHEN 200 delays are drawn for each attempt
        delays = [full_jitter_delay_seconds(attempt, base_ms=50, cap_ms=1000, rng=rng) for _ in range(200)]
        # THEN each lies under the attempt's ceiling, and they spread over all of it
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range: full jitter, not a fixed wait
        assert min(delays) < ceiling * 0.2


def test_zero_base_means_no_wait():
    # GIVEN a zero base, WHEN any attempt waits, THEN it waits nothing
    assert full_jitter_delay_seconds(3, base_ms=0, cap_ms=1000, rng=random.Random(1)) == 0
