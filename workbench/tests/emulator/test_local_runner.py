"""The Docker-free runner: template fidelity, execution environments, event sources, start-api."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import http.client
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from tests.factories import EVENTS_DIR, load_event, order_message, sqs_event
from tests.fixtures import PROJECT_ROOT, RUN_SCOPE, MySqlAdmin

from sam_testkit.run_scope import RunScope
from workbench.cli import parse_parameter_overrides
from workbench.emulator.api_server import make_server
from workbench.emulator.cloud import DatabaseEndpoint, LocalCloud
from workbench.emulator.environment import FunctionPool
from workbench.emulator.event_sources import DrainError, SqsEventSource
from workbench.emulator.lambda_api import LocalLambdaApi
from workbench.emulator.schedules import Schedule
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    local = LocalService(trace=True)
    local.prepare_database()
    yield local
    local.close()


def sqs_url(service: LocalService, logical_id: str) -> str:
    return service.queue_url(logical_id)


def test_resources_come_from_the_template(service: LocalService):
    # GIVEN the template, WHEN the local cloud starts, THEN its queues, tables and secrets exist as declared
    sqs = service.cloud.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=sqs_url(service, "OrdersQueue"), AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "185"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"] == service.cloud.symbols["OrdersDeadLetterQueue"]["Arn"]
    table = service.cloud.client("dynamodb").describe_table(TableName=service.cloud.symbols["OrdersTable"]["Ref"])
    assert [index["IndexName"] for index in table["Table"]["GlobalSecondaryIndexes"]] == ["by-day-shard"]


def test_function_environment_is_the_template_resolved_locally(service: LocalService):
    # GIVEN a function's Environment, THEN each reference resolves to the local resource
    env = service.environment("ApiFunction")
    assert env["ORDERS_QUEUE_URL"] == sqs_url(service, "OrdersQueue")
    assert env["ORDERS_TABLE_NAME"] == service.cloud.symbols["OrdersTable"]["Ref"]
    # MySQL through the run's proxy (it counts the connections), in the run's own database
    assert (env["DB_HOST"], env["DB_PORT"]) == ("127.0.0.1", str(service.database_proxy.port))
    assert env["DB_TLS"] == "false"  # [tool.workbench.local-environment]: the local MySQL offers no TLS
    consumer = service.environment("OrdersConsumer")
    assert not [name for name in consumer if name.startswith("DB_")]  # no variable the template does not give
    assert env["DB_NAME"] == service.database.database == service.mysql.scope.database("orders")
    assert env["DB_SECRET_ID"].startswith("arn:aws:secretsmanager:")
    assert service.database.password not in env.values()  # only the secret's ARN, never its value
    assert env["AWS_ENDPOINT_URL"] == service.cloud.endpoint_url


@pytest.mark.parametrize(
    ("function", "event_file", "check"),
    [
        ("ApiFunction", "api_post_order.json", lambda r: r["statusCode"] == 202),
        ("ApiFunction", "api_get_order.json", lambda r: r["statusCode"] == 404),
        ("OrdersConsumer", "sqs_orders_batch.json", lambda r: len(r["batchItemFailures"]) == 1),
        ("DailyRollupFunction", "schedule_daily_rollup.json", lambda r: r["sales_date"] == "2026-11-22"),
        ("SchemaMigrationFunction", "schema_migration.json", lambda r: r == {"statements": 3}),
    ],
)
def test_every_events_file_invokes(service: LocalService, function: str, event_file: str, check):
    # GIVEN each file of events/, WHEN its function is invoked with it, THEN it runs without an error
    invocation = service.pool(function).invoke(load_event(event_file))
    assert invocation.error is None, invocation.error
    assert check(invocation.payload), invocation.payload


def test_every_events_file_is_covered_above():
    # GIVEN events/, THEN every file is one the test above invokes
    assert {path.name for path in EVENTS_DIR.glob("*.json")} == {
        "api_post_order.json",
        "api_get_order.json",
        "sqs_orders_batch.json",
        "schedule_daily_rollup.json",
        "schema_migration.json",
    }


@pytest.fixture
def slow_pool(service: LocalService) -> Iterator[FunctionPool]:
    spec = dataclasses.replace(
        service.app.functions["ApiFunction"],
        logical_id="SlowFunction",
        handler="slow.handler",
        code_dir=Path(__file__).parent / "functions",
        layer_dirs=(),
        timeout_s=1,
    )
    pool = FunctionPool(spec, {"AWS_REGION": "us-east-1"}, max_environments=2)
    yield pool
    pool.close()


def test_cold_then_warm_reuses_the_environment(slow_pool: FunctionPool):
    # GIVEN two invocations, THEN the first is a cold start and the second reuses its environment
    first = slow_pool.invoke({})
    second = slow_pool.invoke({})

    assert first.init_duration_ms is not None  # INIT ran once …
    assert second.init_duration_ms is None  # … and not again
    assert first.payload["pid"] == second.payload["pid"]
    assert first.payload["loaded_at"] == second.payload["loaded_at"]  # module globals survived
    assert slow_pool.environments_started == 1
    assert "Init Duration" in first.report_line()
    assert "Init Duration" not in second.report_line()


def test_cold_forces_a_new_environment(slow_pool: FunctionPool):
    # GIVEN an invocation asked cold, THEN it gets a new environment
    first = slow_pool.invoke({})
    again = slow_pool.invoke({}, cold=True)
    assert again.init_duration_ms is not None
    assert again.payload["pid"] != first.payload["pid"]


def test_overlapping_invocations_get_their_own_environments(slow_pool: FunctionPool):
    # GIVEN invocations that overlap, THEN each gets an environment of its own
    threads = [threading.Thread(target=slow_pool.invoke, args=({"sleep_s": 0.3},)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slow_pool.environments_started == 2
    assert len({i.payload["pid"] for i in slow_pool.invocations}) == 2


def test_the_context_counts_down_from_the_timeout(slow_pool: FunctionPool):
    # GIVEN a function reading its context twice, THEN the remaining time counts down from its timeout
    remaining = slow_pool.invoke({"sleep_s": 0.2}).payload["remaining_ms"]
    assert 0 < remaining <= 800  # 1 s timeout, at least 0.2 s asleep: counted down, whatever the machine's speed


def test_a_handler_over_its_timeout_is_stopped_as_lambda_does(slow_pool: FunctionPool):
    # GIVEN a handler over its timeout, THEN it is stopped with Lambda's message and its environment discarded
    timed_out = slow_pool.invoke({"sleep_s": 5})
    after = slow_pool.invoke({})

    assert timed_out.error is not None
    assert timed_out.error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert after.init_duration_ms is not None  # the timed-out environment was discarded


def test_an_unhandled_exception_comes_back_in_lambdas_error_shape(service: LocalService, slow_pool: FunctionPool):
    # GIVEN a handler that raises, THEN the error comes back in Lambda's shape
    spec = dataclasses.replace(slow_pool.spec, handler="slow.crash")
    pool = FunctionPool(spec, {"AWS_REGION": "us-east-1"})
    invocation = pool.invoke({})
    pool.close()
    assert invocation.error is not None
    assert invocation.error["errorType"] == "ValueError"
    assert invocation.error["errorMessage"] == "boom"
    assert isinstance(invocation.error["stackTrace"], list)


def test_sqs_mapping_returns_only_reported_failures_and_poison_reaches_the_dlq(service: LocalService):
    # GIVEN three valid orders and one poison message in an otherwise empty orders queue
    SqsEventSource(service, "OrdersConsumer").drain()  # what earlier POSTs queued
    sqs = service.cloud.client("sqs")
    queue = sqs_url(service, "OrdersQueue")
    orders = [order_message() for _ in range(3)]
    for order in orders:
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(order))
    sqs.send_message(QueueUrl=queue, MessageBody="{poison")

    # WHEN the event source mapping drains the queue
    stats = SqsEventSource(service, "OrdersConsumer").drain()

    # THEN the valid orders were deleted after one delivery, the poison one came back until maxReceiveCount
    assert stats.messages_deleted == 3
    assert stats.messages_returned == 5
    dlq = sqs.receive_message(
        QueueUrl=sqs_url(service, "OrdersDeadLetterQueue"), AttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert [m["Body"] for m in dlq] == ["{poison"]
    assert dlq[0]["Attributes"]["ApproximateReceiveCount"] in {"5", "6"}
    table = service.cloud.symbols["OrdersTable"]["Ref"]
    for order in orders:
        item = service.cloud.client("dynamodb").get_item(TableName=table, Key={"order_id": {"S": order["order_id"]}})
        assert "Item" in item


def queue_orders(service: LocalService, count: int) -> list[dict[str, object]]:
    SqsEventSource(service, "OrdersConsumer").drain()  # what earlier tests queued
    orders = [order_message() for _ in range(count)]
    for order in orders:
        service.cloud.client("sqs").send_message(
            QueueUrl=sqs_url(service, "OrdersQueue"), MessageBody=json.dumps(order)
        )
    return orders


def stored(service: LocalService, orders: list[dict[str, object]]) -> bool:
    dynamodb, table = service.cloud.client("dynamodb"), service.cloud.symbols["OrdersTable"]["Ref"]
    return all("Item" in dynamodb.get_item(TableName=table, Key={"order_id": {"S": o["order_id"]}}) for o in orders)


def fail_deletes(source: SqsEventSource, times: int) -> None:
    """Each message's first `times` deletes answer Failed, as SQS can; the rest are deleted.

    Counted per message, so the outcome does not depend on how the pollers happened to batch them.
    """
    message_ids: dict[str, str] = {}  # receipt handle → message id, from what the mapping received
    failures: collections.Counter[str] = collections.Counter()

    def received(parsed: dict[str, Any], **_: Any) -> None:
        message_ids.update({m["ReceiptHandle"]: m["MessageId"] for m in parsed.get("Messages", [])})

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["entries"] = params["Entries"]

    def answer(context: dict[str, Any], **_: Any) -> Any:
        failed, deleted = [], []
        for entry in context["entries"]:
            message_id = message_ids[entry["ReceiptHandle"]]
            if failures[message_id] < times:
                failures[message_id] += 1
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": "InternalError"})
            else:
                deleted.append(entry)
        if deleted:
            source.runner_sqs.delete_message_batch(QueueUrl=source.queue_url, Entries=deleted)
        response = {"Successful": [{"Id": e["Id"]} for e in deleted], "Failed": failed}
        return AWSResponse("https://sqs", 200, {}, None), response

    source.sqs.meta.events.register("after-call.sqs.ReceiveMessage", received)
    source.sqs.meta.events.register("before-parameter-build.sqs.DeleteMessageBatch", remember)
    source.sqs.meta.events.register_first("before-call.sqs.DeleteMessageBatch", answer)


def test_deletes_that_fail_return_the_messages_and_the_drain_still_ends(service: LocalService):
    # GIVEN queued orders, and SQS failing each one's first two deletes (the first try and its retry)
    orders = queue_orders(service, 4)
    source = SqsEventSource(service, "OrdersConsumer")
    fail_deletes(source, times=2)

    # WHEN the mapping drains the queue
    stats = source.drain()

    # THEN those messages went back to the queue, came again, and everything ended stored and deleted
    assert stats.delete_failures == 4
    assert stats.messages_returned == 4
    assert stats.messages_deleted == 4
    assert stored(service, orders)
    assert source.in_flight() == 0


def test_a_poller_that_raises_returns_its_messages_and_is_reported(
    service: LocalService, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN queued orders, and the first invocation failing inside the runner itself
    orders = queue_orders(service, 3)
    source = SqsEventSource(service, "OrdersConsumer")
    invoke, calls = source.pool.invoke, [0]

    def broken_once(event: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("the runner broke")
        return invoke(event, **kwargs)

    monkeypatch.setattr(source.pool, "invoke", broken_once)

    # WHEN the mapping drains, THEN the failure is reported by name …
    with pytest.raises(DrainError, match="RuntimeError: the runner broke"):
        source.drain()
    # … and its messages were not lost: the other pollers delivered them
    assert stored(service, orders)
    assert source.in_flight() == 0


def test_messages_in_flight_that_nobody_holds_end_the_drain_with_an_error_not_a_wait(service: LocalService):
    # GIVEN an order received by someone else, invisible for the queue's visibility timeout
    queue_orders(service, 1)
    service.cloud.client("sqs").receive_message(QueueUrl=sqs_url(service, "OrdersQueue"))

    # WHEN the mapping drains, THEN it says so at once instead of spinning until its deadline
    with pytest.raises(DrainError, match="1 messages in flight that no poller holds") as raised:
        SqsEventSource(service, "OrdersConsumer").drain(timeout_s=120)
    assert "not drained within" not in str(raised.value)
    purge = service.cloud.client("sqs").purge_queue  # leave the queue empty for the next tests
    purge(QueueUrl=sqs_url(service, "OrdersQueue"))


def test_a_failing_scheduled_run_is_retried_then_sent_to_the_failure_destination(service: LocalService):
    # GIVEN a scheduled run that always fails, THEN it is retried as configured, then sent to the failure destination
    schedule = Schedule(service, "DailyRollupFunction")

    run = schedule.fire(dt.datetime(2026, 11, 23, 0, 15, tzinfo=dt.UTC), input_override='{"date": "not-a-date"}')

    assert len(run.attempts) == 1 + schedule.max_retries == 2
    assert run.sent_to_failure_destination
    (message,) = service.cloud.client("sqs").receive_message(QueueUrl=sqs_url(service, "RollupFailureQueue"))[
        "Messages"
    ]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"date": "not-a-date"}


def test_an_event_invoke_of_the_rollup_through_the_lambda_api_retries_then_lands_in_its_destination(
    service: LocalService,
):
    # GIVEN the Lambda API over this app, as start-api serves it
    with LocalLambdaApi(service, quiet=True) as api:
        client = boto3.client(
            "lambda",
            endpoint_url=api.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        # WHEN an Event invoke of the rollup carries a date it refuses, THEN 202, then its retry
        queued = client.invoke(FunctionName="DailyRollupFunction", InvocationType="Event", Payload=b'{"date": "x"}')
        assert queued["StatusCode"] == 202
    # … (the API's exit waits for the queued runs) and the record of both attempts is in RollupFailureQueue
    (message,) = service.cloud.client("sqs").receive_message(QueueUrl=sqs_url(service, "RollupFailureQueue"))[
        "Messages"
    ]
    record = json.loads(message["Body"])
    assert (record["requestContext"]["approximateInvokeCount"], record["requestPayload"]) == (2, {"date": "x"})


def test_the_scheduler_input_gets_its_scheduled_time(service: LocalService):
    # GIVEN the schedule's Input, WHEN it fires, THEN its scheduled-time placeholder is the run's time
    event = Schedule(service, "DailyRollupFunction").event_for(dt.datetime(2026, 11, 23, 0, 15, tzinfo=dt.UTC))
    assert event == {"scheduled_time": "2026-11-23T00:15:00Z"}


def test_start_api_serves_post_and_get_over_http(service: LocalService):
    # GIVEN start-api, WHEN an order is posted and read back over HTTP, THEN 202, then the stored order
    server = make_server(service, "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        token = {"authorization": f"Bearer {service.authorizers.token('c-http', ['orders/read', 'orders/write'])}"}
        body = {"items": [{"sku": "SCALE-01G", "quantity": 1}]}
        connection.request("POST", "/orders", json.dumps(body), {"content-type": "application/json"} | token)
        response = connection.getresponse()
        created = json.loads(response.read())
        assert response.status == 202

        SqsEventSource(service, "OrdersConsumer").drain()
        connection.request("GET", f"/orders/{created['order_id']}", headers=token)
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["customer_id"] == "c-http"

        connection.request("GET", "/no-such-route")
        response = connection.getresponse()
        response.read()
        assert response.status == 404
    finally:
        server.shutdown()


def test_tracing_shows_subsegments_around_the_db_query_and_the_sqs_send(service: LocalService):
    # GIVEN tracing on, WHEN an order is posted, THEN the trace has the MySQL query and the SQS send under the handler
    event = load_event("api_post_order.json")
    del event["headers"]["idempotency-key"]  # an earlier test used it: a replay would skip the work
    # A new environment: a warm one may hold these prices already (the price cache), and then sends no query.
    invocation = service.pool("ApiFunction").invoke(event, cold=True)
    assert service.traces is not None
    service.traces.wait_for(invocation.trace_id, {"MySQL", "SQS.SendMessage"})  # UDP: lands when it lands
    tree = service.traces.tree(invocation.trace_id, "trace")
    assert "## orders.adapters.catalog.fetch_catalog_entries" in tree
    assert "└─ MySQL" in tree
    assert "## orders.adapters.orders_queue.enqueue_order" in tree
    assert "└─ SQS.SendMessage" in tree


def test_tracing_shows_the_batch_read_and_write(service: LocalService):
    # GIVEN orders never stored before (a repeat of a stored one is not written again)
    invocation = service.pool("OrdersConsumer").invoke(sqs_event([order_message(), order_message()]))
    assert service.traces is not None
    service.traces.wait_for(invocation.trace_id, {"DynamoDB.BatchGetItem", "DynamoDB.BatchWriteItem"})
    tree = service.traces.tree(invocation.trace_id, "trace")
    assert "└─ DynamoDB.BatchGetItem" in tree
    assert "## orders.adapters.orders_table.write_orders" in tree
    assert "└─ DynamoDB.BatchWriteItem" in tree


def test_each_function_calls_the_local_cloud_as_its_own_role_with_the_templates_policies(service: LocalService):
    # GIVEN the roles the local cloud created from the translated template
    iam, sts_of = service.cloud.client("iam"), {}
    for function in ("ApiFunction", "OrdersConsumer"):
        environment = service.environment(function)
        session = boto3.session.Session(
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=environment["AWS_SESSION_TOKEN"],
            region_name="us-east-1",
        )
        sts_of[function] = session.client("sts", endpoint_url=service.cloud.endpoint_url).get_caller_identity()["Arn"]

    # THEN each environment's credentials are a session of that function's own role …
    assert sts_of["ApiFunction"].endswith(f"{service.cloud.stack_name}-ApiFunctionRole/ApiFunction")
    assert sts_of["OrdersConsumer"].endswith(f"{service.cloud.stack_name}-OrdersConsumerRole/OrdersConsumer")
    # … whose inline policies are the template's, resolved to the local resources, with a Version
    role = f"{service.cloud.stack_name}-OrdersConsumerRole"
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    documents = [iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"] for name in names]
    assert all(document["Version"] == "2012-10-17" for document in documents)
    resources = json.dumps([document["Statement"] for document in documents])
    assert service.cloud.symbols["OrdersTable"]["Arn"] in resources
    assert "Fn::" not in resources


def test_parameter_overrides_take_both_sam_spellings():
    # GIVEN overrides in both of SAM's spellings, THEN both parse to the same values
    assert parse_parameter_overrides(["Stage=prod", "ParameterKey=DatabaseName,ParameterValue=x"]) == {
        "Stage": "prod",
        "DatabaseName": "x",
    }


def test_the_cli_invokes_like_sam_local_invoke(tmp_path: Path, mysql_server: MySqlAdmin):
    # GIVEN `workbench invoke` as sam local invoke is used, THEN the response on stdout, logs and REPORT on stderr
    chosen = RUN_SCOPE.database("cli")  # a name on purpose (under this session's claim: see tests/fixtures.py)
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"ApiFunction": {"POWERTOOLS_SERVICE_NAME": "orders-cli-test"}}))
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "workbench",
            "invoke",
            "ApiFunction",
            "-e",
            "-",
            "--env-vars",
            str(env_vars),
            "--parameter-overrides",
            f"DatabaseName={chosen}",
        ],
        input=(EVENTS_DIR / "api_post_order.json").read_text(),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=True,
    )
    assert json.loads(result.stdout)["statusCode"] == 202  # stdout is the response only
    # the template logs JSON and keeps the platform's records (SystemLogLevel INFO): the REPORT is platform.report's
    reports = [json.loads(line) for line in result.stderr.splitlines() if '"type": "platform.report"' in line]
    assert reports  # the database's preparation runs its migration first: its report is there too
    assert all(report["record"]["metrics"]["initDurationMs"] > 0 for report in reports)  # each a cold start
    assert '"service":"orders-cli-test"' in result.stderr  # --env-vars reached the function
    assert f"this run's database {chosen} " in result.stderr  # the override chose it
    assert not mysql_server.execute("SHOW DATABASES LIKE %s", (chosen,))  # and the run dropped it


def test_serve_aws_env_vars_point_containers_at_this_run(service: LocalService):
    # WHEN the --env-vars document for functions in Docker is made
    generated = service.docker_env_vars("host.docker.internal")

    # THEN every function reaches this run's moto through the Docker host, and those given a database
    # (all but the consumer) this run's proxy and database
    assert set(generated) == set(service.app.functions)
    moto_port = service.cloud.endpoint_url.rsplit(":", 1)[1]
    with_database = {name: variables for name, variables in generated.items() if "DB_HOST" in variables}
    assert set(generated) - set(with_database) == {"OrdersConsumer"}
    for variables in generated.values():
        assert variables["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{moto_port}"
    for variables in with_database.values():
        assert (variables["DB_HOST"], variables["DB_PORT"]) == (
            "host.docker.internal",
            str(service.database_proxy.port),
        )
        assert variables["DB_NAME"] == service.database.database
        secret = service.cloud.client("secretsmanager").describe_secret(SecretId=variables["DB_SECRET_ID"])
        assert variables["DB_SECRET_ID"] == secret["Name"]  # by name: a secret's ARN ends in a random suffix


def _generate_event(*args: str) -> dict:
    sam = Path(sys.executable).with_name("sam")
    result = subprocess.run(  # noqa: S603
        [str(sam), "local", "generate-event", *args], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)


def test_events_from_sam_generate_event_work_too(service: LocalService):
    # GIVEN events made by `sam local generate-event` with our payloads (its JWT claims name no subject)
    order = {"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": 1}]}
    post = _generate_event(
        "apigateway", "http-api-proxy", "--method", "POST", "--path", "orders", "--body", json.dumps(order)
    )
    anonymous = service.pool("ApiFunction").invoke(post)
    post["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = "c-gen"
    message = json.dumps(order_message())
    batch = _generate_event("sqs", "receive-message", "--body", json.dumps(message)[1:-1])  # SAM does not escape
    scheduled = _generate_event("cloudwatch", "scheduled-event")

    # WHEN each is invoked
    api = service.pool("ApiFunction").invoke(post)
    consumer = service.pool("OrdersConsumer").invoke(batch)
    rollup = service.pool("DailyRollupFunction").invoke(scheduled)

    # THEN they are understood: base64 bodies, SQS records, EventBridge's `time`
    assert anonymous.payload["statusCode"] == 401  # claims without `sub`: no caller, refused
    assert api.payload["statusCode"] == 202, api.payload
    assert consumer.payload == {"batchItemFailures": []}
    assert rollup.error is None
    assert rollup.payload["sales_date"] == "1969-12-31"  # the day before the sample event's time


@pytest.mark.parametrize(
    ("strategy", "snapstart"), [("snapstart", {"ApplyOn": "PublishedVersions"}), ("on-demand", None)]
)
def test_a_conditional_property_is_read_as_cloudformation_applies_it(strategy: str, snapstart: Any):
    # GIVEN a property under Fn::If, THEN the emulator applies the branch CloudFormation would
    app = SamApplication(parameter_overrides={"ColdStartStrategy": strategy})
    endpoint = DatabaseEndpoint("127.0.0.1", 3306, "user", "password", "orders", tls=False)
    cloud = LocalCloud(app, endpoint, RunScope.new())
    assert cloud.applied(app.cloudformation["Resources"]["ApiFunction"]["Properties"]["SnapStart"]) == snapstart
