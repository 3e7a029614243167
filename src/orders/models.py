"""Pydantic models at the service's boundaries: the HTTP body, the queue message, the stored order."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Z0-9-]+$")]
# The customer is the token's subject; OpenID Connect Core 1.0 §2 caps `sub` at 255 ASCII characters.
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]

MAX_ITEMS_PER_ORDER = 50
MAX_QUANTITY_PER_LINE = 1000
# Money is bounded by what stores it: catalog_items.unit_price_cents is INT UNSIGNED (src/orders/sql/schema.sql),
# so no priced order exceeds these, and DynamoDB (38 digits) and the BIGINT daily totals hold any of them.
MAX_UNIT_PRICE_CENTS = 2**32 - 1
MAX_LINE_TOTAL_CENTS = MAX_UNIT_PRICE_CENTS * MAX_QUANTITY_PER_LINE
MAX_ORDER_TOTAL_CENTS = MAX_LINE_TOTAL_CENTS * MAX_ITEMS_PER_ORDER


class OrderLine(BaseModel):
    """One line of an order as the client sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Sku
    quantity: int = Field(strict=True, ge=1, le=MAX_QUANTITY_PER_LINE)


class OrderRequest(BaseModel):
    """Body of ``POST /orders``: the lines only. Who orders is the caller's token, never the body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # One line per SKU is a business rule (pricing's 422), not a schema rule: JSON Schema cannot say
    # "unique by sku", and a schema-valid request must never get a 400.
    items: list[OrderLine] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)


class CatalogEntry(BaseModel):
    """A row of the MySQL catalog, as the pricing logic needs it."""

    model_config = ConfigDict(frozen=True)

    sku: str
    unit_price_cents: int = Field(ge=0)
    max_quantity: int = Field(ge=1)


class PricedLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Sku
    quantity: int = Field(strict=True, ge=1, le=MAX_QUANTITY_PER_LINE)
    unit_price_cents: int = Field(strict=True, ge=0, le=MAX_UNIT_PRICE_CENTS)
    line_total_cents: int = Field(strict=True, ge=0, le=MAX_LINE_TOTAL_CENTS)


class Order(BaseModel):
    """A priced order: the SQS message body and the DynamoDB item, one shape for both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1, max_length=64)
    customer_id: CustomerId
    items: list[PricedLine] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)
    total_cents: int = Field(strict=True, ge=0, le=MAX_ORDER_TOTAL_CENTS)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    created_at: AwareDatetime  # a naive time has no UTC day to be rolled up into

    @field_validator("created_at")
    @classmethod
    def _has_a_utc_day(cls, value: dt.datetime) -> dt.datetime:
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("its UTC date must fall in the years 1 to 9999") from None
        return value

    @property
    def sales_day(self) -> dt.date:
        """The UTC calendar day the order belongs to."""
        return self.created_at.astimezone(dt.UTC).date()

    @property
    def order_date(self) -> str:
        """The sales day as the rollup's index keys it."""
        return self.sales_day.isoformat()


class OrderAccepted(BaseModel):
    """Response body of an accepted ``POST /orders`` (also what idempotent retries get back)."""

    order_id: str
    status: str = "accepted"
    total_cents: int
    currency: str


class ErrorDetail(BaseModel):
    field: str
    message: str
    type: str | None = None


class GatewayMessage(BaseModel):
    """API Gateway's own answers (its authorizer's 401 and 403) carry only a message."""

    message: str


class ErrorBody(BaseModel):
    """Every 4xx the API answers has this shape: a sentence, and what is wrong field by field."""

    message: str
    errors: list[ErrorDetail]


class RollupRequest(BaseModel):
    """The scheduler's input: roll up ``date``, or the day before ``scheduled_time``.

    ``time`` is accepted as well so an EventBridge rule's scheduled event works unchanged.
    """

    model_config = ConfigDict(extra="ignore")

    date: dt.date | None = None
    scheduled_time: dt.datetime | None = None
    time: dt.datetime | None = None
    # A run the scheduled one handed some of the day's shards to (ROLLUP_RUNS > 1): it reads these only.
    shards: list[Annotated[int, Field(ge=0, le=999)]] | None = Field(default=None, min_length=1)

    def sales_date(self, now: dt.datetime) -> dt.date:
        if self.date is not None:
            return self.date
        reference = self.scheduled_time or self.time or now
        return (reference.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


class SkuDailyTotal(BaseModel):
    """One row of the daily rollup table."""

    model_config = ConfigDict(frozen=True)

    sales_date: dt.date
    sku: str
    units: int = Field(ge=0)
    revenue_cents: int = Field(ge=0)
    order_count: int = Field(ge=0)
