"""The chaos run, sized for CI: every fault kind triggered, and the books balance exactly."""

from __future__ import annotations

import pytest

from workbench.scenarios.chaos import run_chaos

pytestmark = pytest.mark.integration


def test_nothing_is_lost_or_duplicated_under_faults():
    # GIVEN poison messages, unprocessed items, throttling, killed connections and a password rotation
    # WHEN 300 orders go through the API and the consumer
    report = run_chaos(300, seed=5)

    # THEN every accepted order is stored exactly once or dead-lettered, poison only in the DLQ, no 5xx
    assert report.problems() == [], report.figures()
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.server_errors == 0
    assert report.dlq_poison == report.poison_sent > 0
    assert len(report.accepted) == report.sent == 300
