"""Pricing: pure functions from an order request and catalog rows to a priced order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from orders.models import CatalogEntry, Order, OrderRequest, PricedLine


class PricingError(ValueError):
    """The order is well formed but cannot be priced: the client must change it (HTTP 422)."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(p["message"] for p in problems))
        self.problems = problems  # each names the field (items.<n>.sku or .quantity) and what is wrong


def price_order(
    request: OrderRequest,
    catalog: Mapping[str, CatalogEntry],
    *,
    customer_id: str,
    order_id: str,
    created_at: dt.datetime,
) -> Order:
    """Price every line from the catalog; collect every problem before refusing, not just the first."""
    problems: list[dict[str, str]] = []
    lines: list[PricedLine] = []
    first_line: dict[str, int] = {}
    for index, line in enumerate(request.items):
        if line.sku in first_line:
            repeated = f"{line.sku} is already on line {first_line[line.sku]}: each SKU may appear once"
            problems.append({"field": f"items.{index}.sku", "message": repeated})
            continue
        first_line[line.sku] = index
        entry = catalog.get(line.sku)
        if entry is None:
            problems.append({"field": f"items.{index}.sku", "message": f"unknown SKU {line.sku}"})
            continue
        if line.quantity > entry.max_quantity:
            limit = f"quantity {line.quantity} of {line.sku} exceeds the limit of {entry.max_quantity}"
            problems.append({"field": f"items.{index}.quantity", "message": limit})
            continue
        lines.append(
            PricedLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price_cents=entry.unit_price_cents,
                line_total_cents=entry.unit_price_cents * line.quantity,
            )
        )
    if problems:
        raise PricingError(problems)
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        items=lines,
        total_cents=sum(line.line_total_cents for line in lines),
        created_at=created_at,
    )
