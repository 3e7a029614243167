"""Retry pacing for DynamoDB UnprocessedItems."""

from __future__ import annotations

import random


def full_jitter_delay_seconds(attempt: int, *, base_ms: int, cap_ms: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2**attempt)].

    Full jitter spreads the retries of many concurrent consumers instead of having them hit a
    throttled partition again in lock-step (AWS Architecture Blog, "Exponential Backoff and Jitter").
    """
    ceiling_ms = min(cap_ms, base_ms * 2**attempt)
    return rng.uniform(0, ceiling_ms) / 1000
