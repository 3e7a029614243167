"""Pricing: pure functions from an order request and catalog rows to a priced order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from orders.models import CatalogEntry, Order, OrderRequest, PricedLine


class PricingError(ValueError):
    """The order is well formed but cannot be priced: the client must change it (HTTP 422)."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['sku']}: {p['reason']}" for p in problems))
        self.problems = problems


def price_order(
    request: OrderRequest,
    catalog: Mapping[str, CatalogEntry],
    *,
    order_id: str,
    created_at: dt.datetime,
) -> Order:
    """Price every line from the catalog; collect every problem before refusing, not just the first."""
    problems: list[dict[str, str]] = []
    lines: list[PricedLine] = []
    for line in request.items:
        entry = catalog.get(line.sku)
        if entry is None:
            problems.append({"sku": line.sku, "reason": "unknown SKU"})
            continue
        if line.quantity > entry.max_quantity:
            problems.append(
                {
                    "sku": line.sku,
                    "reason": f"quantity {line.quantity} exceeds the limit of {entry.max_quantity}",
                }
            )
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
        customer_id=request.customer_id,
        items=lines,
        total_cents=sum(line.line_total_cents for line in lines),
        created_at=created_at,
    )
