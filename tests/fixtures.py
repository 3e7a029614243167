"""Shared fixtures: a real MySQL/MariaDB, moto for AWS, and a fresh "execution environment" per test.

MySQL is found through MYSQL_HOST / MYSQL_PORT / MYSQL_USER / MYSQL_PASSWORD (default
127.0.0.1:3306, root, no password); the tests use a database and an application user of their own.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pymysql
import pytest
from boto3.dynamodb.types import TypeDeserializer
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID

from sam_testkit import moto_secrets
from sam_testkit.db_proxy import CountingRelay
from sam_testkit.run_scope import RunScope, stop_cleanly_on_sigterm, sweep
from sam_testkit.sam_template import read_template

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = PROJECT_ROOT / "template.yaml"

# The functions the tests run with the environment template.yaml gives them; the migration and the rotation
# override some of it (their own secret, the cluster's address), and their tests say so.
FUNCTIONS_UNDER_TEST = ("ApiFunction", "OrdersConsumer", "DailyRollupFunction")
# What the tests change on purpose: no AWS account, MySQL without TLS, quiet logs, short retry waits.
TEST_OVERRIDES = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_METRICS_NAMESPACE": "OrdersTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "DB_TLS": "false",
    "BATCH_WRITE_BASE_DELAY_MS": "1",
    "BATCH_WRITE_MAX_DELAY_MS": "5",
}


def _tests_value(value: Any, template: dict[str, Any]) -> str | None:
    """A template value as the tests see it: a `!Ref` to a table, queue or secret names the tests' own
    (`<LogicalId>-test`); one to a parameter is its default; a literal stays; the database's address and name
    are the MySQL fixture's (None here)."""
    if isinstance(value, str):
        return value
    resources, parameter = template["Resources"], template.get("Parameters", {}).get(value.get("Ref", ""))
    if parameter is not None and value.get("Ref") != "DatabaseName":
        return str(parameter["Default"])
    kind = resources.get(value.get("Ref", ""), {}).get("Type")
    name = f"{value.get('Ref')}-test"
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.us-east-1.amazonaws.com/{DEFAULT_ACCOUNT_ID}/{name}"
    return name if kind in {"AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"} else None


def _variables_under_test(template: dict[str, Any]) -> dict[str, Any]:
    """The Globals' variables, then each function under test's own, as the template writes them."""
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for function in FUNCTIONS_UNDER_TEST:
        variables |= template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return variables


def _lambda_environment() -> dict[str, str]:
    template = read_template(TEMPLATE)
    variables = _variables_under_test(template)
    derived = {name: _tests_value(value, template) for name, value in variables.items()}
    return {name: value for name, value in derived.items() if value is not None} | TEST_OVERRIDES


# The functions' environment, set before any orders module (and Powertools) is imported: the template's.
LAMBDA_ENV = _lambda_environment()
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(LAMBDA_ENV)
moto_secrets.apply()  # the tests' moto reads AWSCURRENT after a rotation, as AWS and the local cloud do

MYSQL_ADMIN = {
    "host": os.environ.get("MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MYSQL_PORT", "3306")),
    "user": os.environ.get("MYSQL_USER", "root"),
    "password": os.environ.get("MYSQL_PASSWORD", ""),
}
# The server is shared (other runs, other clones, CI): this session's names are its own (sam_testkit/run_scope.py).
RUN_SCOPE = RunScope.new()
TEST_DATABASE = os.environ.get("MYSQL_TEST_DATABASE") or RUN_SCOPE.database("test")
APP_USER = RUN_SCOPE.name("app")
APP_PASSWORD = "correct-horse-battery-staple"
SEED_SQL = PROJECT_ROOT / "db" / "seed_catalog.sql"

os.environ.update({"DB_HOST": MYSQL_ADMIN["host"], "DB_PORT": str(MYSQL_ADMIN["port"]), "DB_NAME": TEST_DATABASE})


def reset_execution_environment() -> None:
    """Forget everything a warm Lambda environment keeps: the next invocation is a cold start."""
    from orders.adapters import mysql

    if mysql.get_database.cache_info().currsize:
        mysql.get_database().close()
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("orders.") and module is not None:
            for value in vars(module).values():
                if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == module_name:
                    value.cache_clear()


# ---------------------------------------------------------------- MySQL


class MySqlAdmin:
    """An administrative connection: set up data, look at the server from outside the function."""

    def __init__(self) -> None:
        try:
            self.connection = pymysql.connect(**MYSQL_ADMIN, autocommit=True, connect_timeout=3)
        except pymysql.err.OperationalError as error:
            pytest.fail(
                f"no MySQL/MariaDB at {MYSQL_ADMIN['host']}:{MYSQL_ADMIN['port']} ({error}). "
                "Start one (README: 'Getting a MySQL') or point MYSQL_HOST/MYSQL_PORT/MYSQL_USER/"
                "MYSQL_PASSWORD at one."
            )
        # The functions reach MySQL through a relay that counts their connections, as RDS Proxy would:
        # the server's own counter counts every other client of a shared server too.
        self.relay = CountingRelay((MYSQL_ADMIN["host"], MYSQL_ADMIN["port"]))

    def execute(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, args if args is not None else ())  # always interpolate: "%%" means "%"
            return list(cursor.fetchall())

    def connections_opened(self) -> int:
        """Connections the functions opened so far, through the relay (compare deltas)."""
        return self.relay.connections_opened()

    def queries_sent(self) -> int:
        """Queries the functions sent so far, through the relay (RDS Proxy's QueryRequests; compare deltas)."""
        assert not self.relay.queries_unseen(), "a connection turned to TLS: its queries are not counted"
        return self.relay.queries_sent()

    def app_connection_ids(self) -> list[int]:
        rows = self.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (APP_USER,))
        return [int(row[0]) for row in rows]

    def wait_for_app_connections(self, count: int, timeout_s: float = 30) -> list[int]:
        """The app user's connections once there are `count` (or at the timeout): a closed connection
        leaves the server when the relay's and the server's threads get the CPU, not at once."""
        deadline = time.monotonic() + timeout_s
        while len(ids := self.app_connection_ids()) != count and time.monotonic() < deadline:
            time.sleep(0.02)
        return ids

    def kill_app_connections(self) -> int:
        ids = self.app_connection_ids()
        for connection_id in ids:
            self.execute(f"KILL {connection_id}")
        return len(ids)

    def set_app_password(self, password: str) -> None:
        self.execute(f"ALTER USER '{APP_USER}'@'%%' IDENTIFIED BY %s", (password,))


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MySqlAdmin]:
    from orders.adapters.schema import schema_statements

    stop_cleanly_on_sigterm()  # the teardown below drops what the session made
    admin = MySqlAdmin()
    RUN_SCOPE.claim(admin)
    sweep(admin)  # what sessions and runs that are gone left behind
    admin.execute(f"DROP DATABASE IF EXISTS `{TEST_DATABASE}`")
    admin.execute(f"CREATE DATABASE `{TEST_DATABASE}` CHARACTER SET utf8mb4")
    admin.execute(f"DROP USER IF EXISTS '{APP_USER}'@'%%'")
    admin.execute(f"CREATE USER '{APP_USER}'@'%%' IDENTIFIED BY %s", (APP_PASSWORD,))
    admin.execute(f"GRANT ALL PRIVILEGES ON `{TEST_DATABASE}`.* TO '{APP_USER}'@'%%'")
    admin.execute(f"USE `{TEST_DATABASE}`")
    for statement in schema_statements():
        admin.execute(statement)
    through_relay = {"DB_HOST": admin.relay.host, "DB_PORT": str(admin.relay.port)}
    direct = {key: os.environ[key] for key in through_relay}
    os.environ.update(through_relay)
    yield admin
    os.environ.update(direct)
    admin.kill_app_connections()
    admin.relay.close()
    admin.execute(f"DROP DATABASE IF EXISTS `{TEST_DATABASE}`")
    RUN_SCOPE.drop_all(admin)
    admin.connection.close()


@pytest.fixture
def statements_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement PyMySQL sends to the server (pings are not statements)."""
    sent: list[str] = []
    original = pymysql.connections.Connection.query

    def query(self: Any, sql: str | bytes | bytearray, unbuffered: bool = False) -> int:
        sent.append(sql if isinstance(sql, str) else bytes(sql).decode())
        return original(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", query)
    return sent


@pytest.fixture
def mysql(mysql_server: MySqlAdmin) -> MySqlAdmin:
    """The test database with the demo catalog, no rollup rows, and the app user's known password."""
    mysql_server.kill_app_connections()  # each test starts with none: counts of them are its own
    mysql_server.wait_for_app_connections(0)
    mysql_server.set_app_password(APP_PASSWORD)
    mysql_server.execute("DELETE FROM daily_sku_sales")
    mysql_server.execute("DELETE FROM daily_sku_shard_sales")
    mysql_server.execute("DELETE FROM catalog_items")
    mysql_server.execute(SEED_SQL.read_text())
    return mysql_server


# ---------------------------------------------------------------- AWS (moto)


@dataclass
class AwsWorld:
    """The mocked account, plus what the functions did to it."""

    session: boto3.session.Session
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    clients_built: collections.Counter[str] = field(default_factory=collections.Counter)
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """The test's own clients, built before counting starts, so they never show in clients_built."""
        return self._clients[service]

    def queue_messages(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            messages.extend(batch)
        return messages

    def stored_order_ids(self) -> set[str]:
        pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=LAMBDA_ENV["ORDERS_TABLE_NAME"])
        return {item["order_id"]["S"] for page in pages for item in page["Items"]}

    def stored_order(self, order_id: str) -> dict[str, Any]:
        item = self.client("dynamodb").get_item(
            TableName=LAMBDA_ENV["ORDERS_TABLE_NAME"], Key={"order_id": {"S": order_id}}
        )["Item"]
        return {key: TypeDeserializer().deserialize(value) for key, value in item.items()}

    def put_db_secret(self, password: str) -> None:
        self.client("secretsmanager").put_secret_value(
            SecretId=LAMBDA_ENV["DB_SECRET_ID"], SecretString=json.dumps({"username": APP_USER, "password": password})
        )


@functools.cache
def _template_tables() -> dict[str, dict[str, Any]]:
    """The tables the functions' settings name (`ORDERS_TABLE_NAME: !Ref OrdersTable`, …), each with its keys
    and indexes as template.yaml declares them: the tests' tables are the template's, never a copy."""
    template = read_template(TEMPLATE)
    variables = _variables_under_test(template)
    tables = {}
    for variable, value in variables.items():
        logical_id = value.get("Ref") if isinstance(value, dict) else None
        resource = template["Resources"].get(logical_id or "", {})
        if resource.get("Type") == "AWS::DynamoDB::Table":
            properties = resource["Properties"]
            declared = {key: properties[key] for key in ("KeySchema", "AttributeDefinitions") if key in properties}
            if properties.get("GlobalSecondaryIndexes"):
                declared["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
            tables[variable] = declared
    assert {"ORDERS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "LATE_DAYS_TABLE_NAME"} <= tables.keys()
    return tables


def _create_resources(session: boto3.session.Session) -> None:
    dynamodb = session.client("dynamodb")
    for variable, declared in _template_tables().items():
        dynamodb.create_table(TableName=LAMBDA_ENV[variable], BillingMode="PAY_PER_REQUEST", **declared)
    session.client("sqs").create_queue(QueueName=LAMBDA_ENV["ORDERS_QUEUE_URL"].rsplit("/", 1)[1])
    session.client("secretsmanager").create_secret(
        Name=LAMBDA_ENV["DB_SECRET_ID"], SecretString=json.dumps({"username": APP_USER, "password": APP_PASSWORD})
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsWorld]:
    """A fresh moto account with the service's resources, and a cold execution environment."""
    reset_execution_environment()
    with mock_aws():
        boto3.setup_default_session()  # the session the functions' clients come from
        world = AwsWorld(session=boto3.session.Session())
        world._clients = {name: world.session.client(name) for name in ("dynamodb", "sqs", "secretsmanager")}
        _create_resources(world.session)

        def count_call(model: Any, **_: Any) -> None:
            world.calls[f"{model.service_model.service_name}.{model.name}"] += 1

        # before-parameter-build runs for every call, even one a fault injector answers without sending.
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", count_call)  # type: ignore[union-attr]
        create_client = botocore.session.Session.create_client

        def counting_create_client(self: botocore.session.Session, service_name: str, *args: Any, **kwargs: Any):
            world.clients_built[service_name] += 1
            return create_client(self, service_name, *args, **kwargs)

        monkeypatch.setattr(botocore.session.Session, "create_client", counting_create_client)
        yield world
        reset_execution_environment()


@pytest.fixture
def orders_service(aws: AwsWorld, mysql: MySqlAdmin) -> AwsWorld:
    """Everything the functions need: moto resources and the MySQL catalog."""
    return aws


# ---------------------------------------------------------------- modified templates, as a team would run them


@pytest.fixture
def template_with() -> Iterator[Callable[[str, str], Path]]:
    """A copy of template.yaml with one text replaced, beside it (so its CodeUri paths still resolve)."""
    made: list[Path] = []

    def make(old: str, new: str) -> Path:
        text = TEMPLATE.read_text()
        assert text.count(old) == 1, f"template.yaml no longer has exactly one {old!r}"
        path = PROJECT_ROOT / f".template-test-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(text.replace(old, new))
        made.append(path)
        return path

    yield make
    for path in made:
        path.unlink(missing_ok=True)
