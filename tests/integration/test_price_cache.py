"""Prices kept per execution environment (src/orders/adapters/catalog.py, CatalogCache): a warm POST makes no
MySQL query within CATALOG_MAX_AGE_SECONDS, and a price change is seen once that bound has passed."""

from __future__ import annotations

import json

import pytest

from orders import snapstart
from orders.adapters.catalog import catalog_cache
from orders.config import ApiSettings, get_settings
from orders.handlers import api
from tests.factories import FakeLambdaContext, order_request, post_order_event
from tests.fixtures import AwsWorld, MySqlAdmin

pytestmark = pytest.mark.integration


class TurnedClock:
    """The cache's clock, turned by the test: the bound is crossed when the test says, however slow the host."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> TurnedClock:
    turned = TurnedClock()
    catalog_cache().clock = turned  # this environment's cache (reset_execution_environment drops it after the test)
    return turned


def post(**lines: int) -> dict[str, object]:
    response = api.handler(post_order_event(order_request(**lines)), FakeLambdaContext())
    return {"status": response["statusCode"], **json.loads(response["body"])}


def catalog_queries(statements: list[str]) -> int:
    return sum("catalog_items" in sql for sql in statements)


def test_the_template_bounds_a_prices_age_at_a_minute(orders_service: AwsWorld):
    # GIVEN the functions' environment as template.yaml writes it, THEN a price is kept at most 60 s
    assert get_settings(ApiSettings).catalog_max_age_seconds == 60


def test_a_warm_post_within_the_bound_makes_no_catalog_query(
    orders_service: AwsWorld, mysql: MySqlAdmin, statements_sent: list[str], clock: TurnedClock
):
    # GIVEN an environment that priced a mug once
    assert post(MUG_CERAMIC_350ML=1)["total_cents"] == 1200
    assert catalog_queries(statements_sent) == 1
    queries_before = mysql.queries_sent()

    # WHEN more orders of it come within the bound
    clock.now += 59
    totals = [post(MUG_CERAMIC_350ML=quantity)["total_cents"] for quantity in (2, 3)]

    # THEN they are priced exactly, from the environment's memory: the proxy saw no query at all
    assert totals == [2400, 3600]
    assert mysql.queries_sent() == queries_before


def test_only_the_skus_not_kept_are_queried_in_one_statement(
    orders_service: AwsWorld, mysql: MySqlAdmin, statements_sent: list[str], clock: TurnedClock
):
    # GIVEN a kept mug, WHEN an order of the mug and the beans comes, THEN one query asks for the beans alone
    post(MUG_CERAMIC_350ML=1)
    assert post(MUG_CERAMIC_350ML=1, COFFEE_BEANS_1KG=1)["total_cents"] == 1200 + 2450
    queried = [sql for sql in statements_sent if "catalog_items" in sql]
    assert len(queried) == 2
    assert "COFFEE-BEANS-1KG" in queried[1]
    assert "MUG-CERAMIC-350ML" not in queried[1]


def test_a_price_change_is_seen_once_the_bound_has_passed(
    orders_service: AwsWorld, mysql: MySqlAdmin, clock: TurnedClock
):
    # GIVEN a kept mug price, WHEN the catalog's price changes
    assert post(MUG_CERAMIC_350ML=1)["total_cents"] == 1200
    mysql.execute("UPDATE catalog_items SET unit_price_cents = 1500 WHERE sku = 'MUG-CERAMIC-350ML'")

    # THEN within the bound the old price stands (the documented staleness), and at the bound the new one
    clock.now += 59.9
    assert post(MUG_CERAMIC_350ML=1)["total_cents"] == 1200
    clock.now += 0.1
    assert post(MUG_CERAMIC_350ML=1)["total_cents"] == 1500


def test_a_sku_the_catalog_did_not_sell_is_asked_for_again(orders_service: AwsWorld, mysql: MySqlAdmin, clock):
    # GIVEN an order refused for a SKU the catalog does not sell
    assert post(NEW_TEAPOT=1)["status"] == 422

    # WHEN the catalog starts selling it, THEN the next order is priced at once: unknown SKUs are never kept
    mysql.execute(
        "INSERT INTO catalog_items (sku, name, unit_price_cents, max_quantity, active) "
        "VALUES ('NEW-TEAPOT', 'Teapot', 3100, 5, TRUE)"
    )
    assert post(NEW_TEAPOT=1)["total_cents"] == 3100


def test_with_a_bound_of_zero_every_post_queries(
    orders_service: AwsWorld, mysql: MySqlAdmin, statements_sent: list[str], monkeypatch: pytest.MonkeyPatch
):
    # GIVEN CATALOG_MAX_AGE_SECONDS=0, WHEN three orders come, THEN each queries the catalog
    monkeypatch.setenv("CATALOG_MAX_AGE_SECONDS", "0")
    get_settings.cache_clear()
    for _ in range(3):
        post(MUG_CERAMIC_350ML=1)
    assert catalog_queries(statements_sent) == 3


def test_a_snapstart_restore_forgets_the_snapshots_prices(
    orders_service: AwsWorld, mysql: MySqlAdmin, statements_sent: list[str], clock: TurnedClock
):
    # GIVEN prices kept before the snapshot, WHEN an environment is restored from it
    post(MUG_CERAMIC_350ML=1)
    snapstart.after_restore()

    # THEN its first order queries the catalog again, however little time its clock says has passed
    post(MUG_CERAMIC_350ML=1)
    assert catalog_queries(statements_sent) == 2
