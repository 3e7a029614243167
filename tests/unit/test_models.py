"""Boundary models: what is accepted and what is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from orders.models import MAX_ITEMS_PER_ORDER, OrderRequest, RollupRequest


def test_skus_are_trimmed():
    # GIVEN a SKU sent with spaces around it, WHEN the request is read
    parsed = OrderRequest.model_validate({"items": [{"sku": " MUG ", "quantity": 1}]})
    # THEN the SKU is the catalog's spelling
    assert parsed.items[0].sku == "MUG"


@pytest.mark.parametrize("quantity", [0, -1, 1001, 1.5, "1", True, None])
def test_quantities_must_be_whole_numbers_in_range(quantity: object):
    # GIVEN a quantity that is not a whole number from 1 to 1,000, WHEN the request is read, THEN it is refused
    with pytest.raises(ValidationError):
        OrderRequest.model_validate({"items": [{"sku": "MUG", "quantity": quantity}]})


def test_an_order_has_a_bounded_number_of_lines():
    # GIVEN one line more than an order may have
    items = [{"sku": f"SKU-{n}", "quantity": 1} for n in range(MAX_ITEMS_PER_ORDER + 1)]
    # WHEN the request is read, THEN it is refused, saying the bound
    with pytest.raises(ValidationError, match="at most 50"):
        OrderRequest.model_validate({"items": items})


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"date": "2026-03-01"}, dt.date(2026, 3, 1)),
        ({"scheduled_time": "2026-11-23T00:15:00Z"}, dt.date(2026, 11, 22)),
        ({"time": "2026-01-01T00:15:00Z", "source": "aws.events"}, dt.date(2025, 12, 31)),
        ({}, dt.date(2026, 6, 9)),
    ],
)
def test_the_rollup_day_comes_from_the_event_or_the_clock(event: dict, expected: dt.date):
    # GIVEN the scheduler's run at 00:15 UTC (or a date asked for)
    now = dt.datetime(2026, 6, 10, 0, 15, tzinfo=dt.UTC)
    # THEN the day rolled up is the one asked for, else the day before the run
    assert RollupRequest.model_validate(event).sales_date(now=now) == expected
