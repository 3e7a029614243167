"""The day index's shard keys (src/orders/logic/day_shards.py)."""

from __future__ import annotations

import collections
import random
import uuid

from orders.logic.day_shards import day_shard, day_shards, shard_groups


def test_an_order_always_lands_on_the_same_shard_of_its_day():
    # GIVEN one order id, WHEN its shard is computed twice (a redelivery), THEN it is the same key, of that day
    assert day_shard("2026-11-22", "a1b2", 16) == day_shard("2026-11-22", "a1b2", 16)
    assert day_shard("2026-11-22", "a1b2", 16) in day_shards("2026-11-22", 16)


def test_a_days_orders_spread_evenly_over_its_shards():
    # GIVEN 16,000 order ids as the API makes them (UUID4; seeded here), WHEN each gets its shard
    rng = random.Random(24)
    counts = collections.Counter(
        day_shard("2026-11-22", str(uuid.UUID(int=rng.getrandbits(128), version=4)), 16) for _ in range(16_000)
    )
    # THEN every shard gets its share, within 15 %: no partition takes much more than 1/16 of the day
    assert set(counts) == set(day_shards("2026-11-22", 16))
    assert max(counts.values()) < 1_000 * 1.15
    assert min(counts.values()) > 1_000 * 0.85


def test_one_shard_is_the_day_itself_keyed():
    assert day_shards("2026-11-22", 1) == ["2026-11-22#0"]


def test_shard_groups_deal_every_shard_to_exactly_one_run_as_evenly_as_they_go():
    groups = shard_groups(16, 3)
    assert sorted(shard for group in groups for shard in group) == list(range(16))
    assert [len(group) for group in groups] == [6, 5, 5]
    assert shard_groups(2, 5) == [[0], [1]]  # never an empty run
