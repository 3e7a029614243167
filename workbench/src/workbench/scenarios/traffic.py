"""Traffic and bookkeeping shared by the demo and the chaos run: orders in, what was stored, the DLQ."""

from __future__ import annotations

import http.client
import json
import random
import re
from typing import Any

from workbench.emulator.app_config import AppConfig
from workbench.emulator.routes import route_scopes
from workbench.emulator.service import LocalService
from workbench.emulator.template import DEFAULT_TEMPLATE

# The stage's route throttling (100/s, burst 200 by default) would turn part of a run's burst into 429s:
# the demo, chaos and load runs exercise the service behind the gateway, so they lift it through the
# template's parameters (start-api applies the template's own; tests/emulator/test_http_api.py checks the 429).
UNTHROTTLED = {"ApiThrottlingRateLimit": "1000000", "ApiThrottlingBurstLimit": "1000000"}

# A catalog row of the seed data: ('SKU', 'name', unit_price_cents, max_quantity, active).
_SEED_ROW = re.compile(
    r"\(\s*'(?P<sku>[A-Z0-9-]+)'\s*,\s*'(?:[^']|'')*'\s*,\s*\d+\s*,"  # sku, name, unit price
    r"\s*(?P<max>\d+)\s*,\s*(?P<active>TRUE|FALSE)\s*\)"  # max quantity, active
)


def seed_catalog(sql: str) -> dict[str, int]:
    """The active SKUs of a seed file and their per-order limits: what the demo's orders may ask for."""
    return {row["sku"]: int(row["max"]) for row in _SEED_ROW.finditer(sql) if row["active"] == "TRUE"}


CATALOG = seed_catalog("".join(path.read_text() for path in AppConfig.beside(DEFAULT_TEMPLATE).seed_sql))
CUSTOMERS = 60  # cust-0001 … cust-0060, each with its own token


def customer_name(number: int) -> str:
    return f"cust-{number:04d}"


def random_order(rng: random.Random) -> dict[str, Any]:
    skus = rng.sample(sorted(CATALOG), rng.randint(1, 3))
    return {"items": [{"sku": sku, "quantity": rng.randint(1, CATALOG[sku])} for sku in skus]}


def random_customer(rng: random.Random) -> str:
    return customer_name(rng.randint(1, CUSTOMERS))


def customer_tokens(service: LocalService, customers: int = CUSTOMERS) -> dict[str, str]:
    """Each customer's access token with every scope the routes name, as a signed-in client holds one."""
    scopes = route_scopes(service.app)
    names = [customer_name(n) for n in range(1, customers + 1)]
    return {name: service.authorizers.token(name, scopes) for name in names}


def bearer(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def post_order(port: int, body: dict[str, Any], key: str | None, token: str | None) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json"} | ({"idempotency-key": key} if key else {}) | bearer(token)
    connection.request("POST", "/orders", json.dumps(body), headers)
    response = connection.getresponse()
    payload = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, payload


def get_order_status(port: int, order_id: str, token: str | None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", f"/orders/{order_id}", headers=bearer(token))
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def stored_order_ids(service: LocalService) -> set[str]:
    table = str(service.cloud.symbols["OrdersTable"]["Ref"])
    pages = service.cloud.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return {item["order_id"]["S"] for page in pages for item in page["Items"]}


def stored_revenue_by_day(service: LocalService) -> dict[str, int]:
    """The stored orders' revenue per sales day (the rollup's index key): what each day's totals must add to."""
    table = str(service.cloud.symbols["OrdersTable"]["Ref"])
    pages = service.cloud.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    revenue: dict[str, int] = {}
    for item in (item for page in pages for item in page["Items"]):
        day = item["order_date"]["S"]
        revenue[day] = revenue.get(day, 0) + int(item["total_cents"]["N"])
    return revenue


def queue_bodies(service: LocalService, queue_url: str) -> list[Any]:
    sqs = service.cloud.client("sqs")
    bodies: list[Any] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
        "Messages", []
    ):
        for message in messages:
            try:
                bodies.append(json.loads(message["Body"]))
            except json.JSONDecodeError:
                bodies.append(message["Body"])
    return bodies


def database_user(service: LocalService, function: str) -> tuple[str, str]:
    """(the secret's resource, MySQL user) the function connects as: its DB_SECRET_ID's (a secret, or the
    cluster whose RDS-managed master secret it is)."""
    arn = service.environment(function)["DB_SECRET_ID"]
    logical_id = next(name for name, symbol in service.cloud.symbols.items() if arn in symbol.values())
    return logical_id, service.cloud.database_users.get(logical_id, service.database.username)
