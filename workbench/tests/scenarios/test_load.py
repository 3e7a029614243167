"""A bounded load run against the local start-api, sized for CI (`make load` is the full size)."""

from __future__ import annotations

import pytest

from workbench.scenarios.load import run_load

pytestmark = pytest.mark.integration


def test_concurrent_clients_get_no_errors_and_pooling_holds():
    # GIVEN 16 concurrent clients and at most 4 API execution environments
    # WHEN they send 400 orders through the HTTP server while the consumer drains the queue
    report = run_load(400, 16, max_environments=4)

    # THEN every request got a 202, MySQL saw one connection per environment, and the queue emptied
    summary = {k: v for k, v in vars(report).items() if k != "latencies_ms"}
    assert report.problems() == [], summary
    assert report.statuses == {202: 400}, summary
    assert 1 <= report.api_environments <= 4  # how many the clients needed at once: the machine decides
    assert report.connections_opened == report.api_environments
    assert report.queue_depth_after == 0
    assert report.orders_stored == 400
    assert report.messages_consumed >= 400  # at-least-once: a redelivery is consumed again, stored once
