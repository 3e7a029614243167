"""Sorting a batch's deliveries against stored orders: pure, no I/O."""

from __future__ import annotations

from orders.logic.deliveries import sort_deliveries
from orders.models import Order
from tests.factories import order_message


def an_order(order_id: str = "order-1", **lines: int) -> Order:
    return Order.model_validate(order_message(order_id, **lines))


def test_new_orders_are_written_once_each_in_the_batchs_order():
    # GIVEN two new orders, the first delivered twice
    first, second = an_order("a"), an_order("b")

    # WHEN sorted against an empty table
    sorted_out = sort_deliveries([("m1", first), ("m2", second), ("m3", an_order("a"))], stored={})

    # THEN each is written once, in order, and nothing conflicts
    assert sorted_out.to_write == [first, second]
    assert sorted_out.conflicts == {}
    assert sorted_out.already_stored == set()


def test_a_later_delivery_with_other_contents_conflicts_with_the_first():
    # GIVEN one order_id delivered with two contents in one batch
    first, other = an_order(MUG=1200), an_order(MUG=1)

    # WHEN sorted
    sorted_out = sort_deliveries([("m1", first), ("m2", other)], stored={})

    # THEN the first is written and the later one is the conflict, naming the order it collides with
    assert sorted_out.to_write == [first]
    assert sorted_out.conflicts == {"m2": first}


def test_a_stored_order_wins_over_every_delivery_that_differs_from_it():
    # GIVEN an order already stored, delivered again once as stored and once changed
    stored = an_order(MUG=1200)

    # WHEN sorted against the table
    sorted_out = sort_deliveries(
        [("m1", an_order(MUG=5)), ("m2", an_order(MUG=1200))], stored={stored.order_id: stored}
    )

    # THEN nothing is written: the changed one conflicts, the repeat is already stored
    assert sorted_out.to_write == []
    assert sorted_out.conflicts == {"m1": stored}
    assert sorted_out.already_stored == {"m2"}
