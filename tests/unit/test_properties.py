"""Property tests (Hypothesis) for the order model and pricing: any input validates or is refused
naming a field; totals are never negative and never outgrow what JSON and DynamoDB hold exactly."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orders.logic.pricing import PricingError, price_order
from orders.models import MAX_ITEMS_PER_ORDER, MAX_QUANTITY_PER_LINE, CatalogEntry, OrderRequest

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
LINE = st.fixed_dictionaries(
    {"sku": st.one_of(st.from_regex(r"[A-Z0-9-]{1,12}", fullmatch=True), st.text(max_size=8)), "quantity": JSON_VALUES}
)
BODIES = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"items": st.lists(LINE, max_size=6) | JSON_VALUES},
        optional={"customer_id": st.one_of(st.text(max_size=70), JSON_VALUES)},  # never accepted: the token says
    ),
)
MAX_SAFE_INTEGER = 2**53 - 1  # what a JSON number carries exactly in every client


@given(BODIES)
@settings(max_examples=400)
def test_any_body_validates_or_is_refused_naming_a_field(body: object):
    # GIVEN any JSON body, WHEN it is read as an order request, THEN it is one, or each error names where
    try:
        OrderRequest.model_validate(body)
    except ValidationError as error:
        for detail in error.errors():
            assert detail["msg"]
            assert isinstance(detail["loc"], tuple)


PRICES = st.integers(min_value=0, max_value=10**7)  # up to $100,000 a unit
CATALOG = st.dictionaries(
    st.from_regex(r"[A-Z]{1,6}", fullmatch=True),
    st.tuples(PRICES, st.integers(min_value=1, max_value=MAX_QUANTITY_PER_LINE)),
    min_size=1,
    max_size=MAX_ITEMS_PER_ORDER,
)


@given(CATALOG, st.data())
def test_totals_are_exact_non_negative_and_bounded(catalog_rows: dict, data: st.DataObject):
    # GIVEN any catalog and an order of some of its SKUs, in any quantities
    catalog = {sku: CatalogEntry(sku=sku, unit_price_cents=p, max_quantity=m) for sku, (p, m) in catalog_rows.items()}
    skus = data.draw(st.lists(st.sampled_from(sorted(catalog)), min_size=1, unique=True))
    quantities = [data.draw(st.integers(min_value=1, max_value=MAX_QUANTITY_PER_LINE)) for _ in skus]
    request = OrderRequest.model_validate(
        {"items": [{"sku": s, "quantity": q} for s, q in zip(skus, quantities, strict=True)]}
    )
    # WHEN it is priced: THEN a line over its SKU's limit is refused naming the line, else the total is exact
    over_limit = any(q > catalog[s].max_quantity for s, q in zip(skus, quantities, strict=True))
    if over_limit:
        with pytest.raises(PricingError) as raised:
            price_order(
                request, catalog, customer_id="c", order_id="o", created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            )
        assert all(p["field"].startswith("items.") for p in raised.value.problems)
        return
    order = price_order(
        request, catalog, customer_id="c", order_id="o", created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert order.total_cents == sum(catalog[s].unit_price_cents * q for s, q in zip(skus, quantities, strict=True))
    assert 0 <= order.total_cents <= MAX_SAFE_INTEGER
