"""Deliveries of orders: which to write, which are repeats, which conflict with an order already known."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orders.models import Order


@dataclass(frozen=True)
class Deliveries:
    """One batch's valid orders sorted out against what is stored and against each other."""

    to_write: list[Order] = field(default_factory=list)  # each order_id once, in the batch's order
    already_stored: set[str] = field(default_factory=set)  # message ids whose order is stored as delivered
    conflicts: dict[str, Order] = field(default_factory=dict)  # message id -> the order its order_id already names


def sort_deliveries(delivered: Iterable[tuple[str, Order]], stored: Mapping[str, Order]) -> Deliveries:
    """Sort (message id, order) pairs, in the batch's order, against the orders already stored.

    The first contents known for an order_id win — the stored order, else the batch's first delivery of it.
    A repeat of those contents succeeds without another write (SQS is at-least-once); other contents under
    the same order_id are a conflict: that delivery fails, and the order already known is never overwritten.
    """
    sorted_out = Deliveries()
    known = dict(stored)
    for message_id, order in delivered:
        first = known.setdefault(order.order_id, order)
        if first != order:
            sorted_out.conflicts[message_id] = first
        elif order.order_id in stored:
            sorted_out.already_stored.add(message_id)
        elif first is order:
            sorted_out.to_write.append(order)
    return sorted_out
