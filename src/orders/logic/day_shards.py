"""The day index's partition key: a day's orders spread over N shards, so no one partition takes them all.

A DynamoDB partition takes at most 1,000 write units a second, and an index that cannot keep up throttles
its table's writes: with the day alone as the key, every order of a day would land on one partition.
"""

from __future__ import annotations

import zlib


def day_shard(order_date: str, order_id: str, shards: int) -> str:
    """`2026-11-22#7`: the same order always on the same shard (a redelivered write overwrites itself)."""
    return shard_key(order_date, zlib.crc32(order_id.encode()) % shards)  # crc32: stable across processes


def shard_key(order_date: str, shard: int) -> str:
    return f"{order_date}#{shard}"


def day_shards(order_date: str, shards: int) -> list[str]:
    """Every shard key of one day: what the rollup reads."""
    return [shard_key(order_date, shard) for shard in range(shards)]


def shard_groups(shards: int, runs: int) -> list[list[int]]:
    """The day's shards dealt to `runs` rollup runs, as evenly as they go (every shard to exactly one run)."""
    return [list(range(first, shards, runs)) for first in range(min(runs, shards))]
