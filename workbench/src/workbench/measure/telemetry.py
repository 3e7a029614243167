"""What an order writes to CloudWatch: its functions' log bytes and its spans' bytes, measured on a local run.

`make capacity` prices them. Measured warm (a first order pays the cold starts, not counted): orders POSTed
through the local HTTP API, then the queue drained by the consumer. Every line the functions and the runtime
write counts (the application's JSON logs, Powertools' EMF metrics, START/END/REPORT); every span as the JSON
document it is stored as. The consumer's batches here hold the orders of this run, fewer than the 100 a busy
queue fills: its per-batch lines are spread over fewer orders, so the figure is an upper bound.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass

from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.testing import serving
from workbench.scenarios.traffic import UNTHROTTLED, customer_tokens, post_order, random_order

CONSUMER = "OrdersConsumer"


@dataclass(frozen=True)
class Telemetry:
    log_bytes_per_order: float
    span_bytes_per_order: float
    orders: int


def measure_telemetry(orders: int = 25, seed: int = 7) -> Telemetry:
    rng = random.Random(seed)  # noqa: S311 - reproducible orders, not cryptography
    with (
        tempfile.TemporaryFile("w+") as logs,
        LocalService(parameter_overrides=UNTHROTTLED, trace=True, log_sink=logs) as service,
    ):
        service.prepare_database()
        traces = service.traces
        assert traces is not None  # trace=True
        token = next(iter(customer_tokens(service, customers=1).values()))
        with serving(service) as port:

            def order_and_drain(count: int) -> None:
                for _ in range(count):
                    status, body = post_order(port, random_order(rng), None, token)
                    if status != 202:
                        raise RuntimeError(f"telemetry: POST /orders answered {status}: {body}")
                SqsEventSource(service, CONSUMER).drain()
                traces.settle()

            order_and_drain(1)  # the cold starts: INIT's lines are not an order's
            logged, traced = os.fstat(logs.fileno()).st_size, _span_bytes(service)
            order_and_drain(orders)
            return Telemetry(
                log_bytes_per_order=(os.fstat(logs.fileno()).st_size - logged) / orders,
                span_bytes_per_order=(_span_bytes(service) - traced) / orders,
                orders=orders,
            )


def _span_bytes(service: LocalService) -> int:
    assert service.traces is not None
    return sum(len(json.dumps(document, separators=(",", ":"))) for document in service.traces.documents())
