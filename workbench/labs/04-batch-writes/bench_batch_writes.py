"""This lab's bench step: BatchWriteItem in chunks of 25 against PutItem per message, as the consumer's role
(lab 04).
"""

from __future__ import annotations

import math
import statistics

from workbench.emulator.environment import FunctionPool
from workbench.measure.bench import Bench, Comparison, Timing
from workbench.measure.events import sqs_batches


def batch_writes(bench: Bench) -> Comparison:
    consumer = bench.service.app.functions["OrdersConsumer"]
    (mapping,) = consumer.events_of_type("SQS").values()
    batch_size = int(mapping.get("BatchSize", 10))
    messages = bench.sizes.messages
    comparison = Comparison(
        "batch writes",
        f"BatchWriteItem x25 (batches of {batch_size})",
        "PutItem per message",
        "ms per batch of " + str(batch_size),
    )
    optimized = FunctionPool(
        bench.service.build.spec(consumer),
        bench.service.environment("OrdersConsumer"),
        max_environments=1,
        log_sink=bench.service.log_sink,
    )
    naive = bench.twin("put_item_consumer.handler", template_function="OrdersConsumer")
    batches = sqs_batches(messages, batch_size)
    counted: dict[str, dict[str, float]] = {"DynamoDB write requests": {}, "messages per second": {}}
    durations: dict[str, list[float]] = {}
    # The naive twin writes one PutItem per message: a permission the shipped consumer, which only
    # batches, does not hold. Granted to its role for this comparison only.
    with bench.granted("OrdersConsumer", "dynamodb:PutItem", "OrdersTable"):
        for name, pool, operation in (
            ("optimized", optimized, "dynamodb.BatchWriteItem"),
            ("naive", naive, "dynamodb.PutItem"),
        ):
            bench.ok(pool.invoke(sqs_batches(1, 1)[0]))  # INIT and lazy clients out of the way
            before = bench.aws_calls(operation)
            durations[name] = [bench.ok(pool.invoke(batch)).duration_ms for batch in batches]
            counted["DynamoDB write requests"][name] = bench.aws_calls(operation) - before
            counted["messages per second"][name] = round(messages / (sum(durations[name]) / 1000), 1)
            pool.close()
    comparison.counts = counted
    comparison.expected_counts["DynamoDB write requests"] = {
        "optimized": sum(math.ceil(len(batch["Records"]) / 25) for batch in batches),  # ceil(n/25) per batch
        "naive": messages,
    }
    per_round = max(1, len(durations["optimized"]) // bench.sizes.rounds)
    for name in ("optimized", "naive"):
        chunks = [durations[name][i : i + per_round] for i in range(0, len(durations[name]), per_round)]
        setattr(comparison, f"{name}_timing", Timing([statistics.median(chunk) for chunk in chunks]))
    return comparison


STEPS = (batch_writes,)
