"""Pricing logic: pure, no I/O."""

from __future__ import annotations

import datetime as dt

import pytest

from orders.logic.pricing import PricingError, price_order
from orders.models import CatalogEntry, OrderRequest

CATALOG = {
    "MUG": CatalogEntry(sku="MUG", unit_price_cents=1200, max_quantity=12),
    "BEANS": CatalogEntry(sku="BEANS", unit_price_cents=2450, max_quantity=20),
}
NOW = dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC)


def request(**lines: int) -> OrderRequest:
    return OrderRequest.model_validate({"items": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()]})


def test_lines_are_priced_and_summed():
    # GIVEN an order of two SKUs, WHEN it is priced, THEN lines and total are the catalog's prices times the quantities
    order = price_order(request(MUG=2, BEANS=3), CATALOG, customer_id="c-1", order_id="o-1", created_at=NOW)

    assert [(line.sku, line.line_total_cents) for line in order.items] == [("MUG", 2400), ("BEANS", 7350)]
    assert order.total_cents == 9750
    assert order.order_id == "o-1"
    assert order.order_date == "2026-11-22"


def test_every_problem_is_reported_not_just_the_first():
    # GIVEN an order with an unknown SKU and a quantity over its limit, THEN both are reported, by line
    with pytest.raises(PricingError) as raised:
        price_order(request(NOPE=1, MUG=13, BEANS=1), CATALOG, customer_id="c-1", order_id="o-1", created_at=NOW)

    assert raised.value.problems == [
        {"field": "items.0.sku", "message": "unknown SKU NOPE"},
        {"field": "items.1.quantity", "message": "quantity 13 of MUG exceeds the limit of 12"},
    ]
    assert "unknown SKU NOPE" in str(raised.value)


def test_the_order_date_is_the_utc_day():
    # GIVEN an order made late in the evening in New York, THEN its day is the UTC one
    late_in_new_york = dt.datetime(2026, 11, 22, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    order = price_order(request(MUG=1), CATALOG, customer_id="c-1", order_id="o-1", created_at=late_in_new_york)
    assert order.order_date == "2026-11-23"


def test_a_sku_on_two_lines_is_a_pricing_problem_naming_both_lines():
    # GIVEN a schema-valid order naming MUG twice (JSON Schema cannot require unique SKUs)
    twice = OrderRequest.model_validate({"items": [{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 2}]})
    # WHEN it is priced, THEN a 422-class problem on the second line, pointing at the first
    with pytest.raises(PricingError) as raised:
        price_order(twice, CATALOG, customer_id="c-1", order_id="o-1", created_at=NOW)
    assert raised.value.problems == [
        {"field": "items.1.sku", "message": "MUG is already on line 0: each SKU may appear once"}
    ]
