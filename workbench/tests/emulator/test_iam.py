"""IAM in the local cloud: each function may do what its template policies allow, and nothing else."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.factories import EVENTS_DIR, load_event, order_message

from orders.adapters.orders_table import to_item
from orders.models import Order
from workbench.cli import main as runner_main
from workbench.emulator.event_sources import DrainError, SqsEventSource
from workbench.emulator.iam import Check, ParsedRequest, Statement, checks_for, evaluate
from workbench.emulator.rotation import rotate
from workbench.emulator.schedules import Schedule
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication
from workbench.emulator.testing import serving
from workbench.scenarios.traffic import get_order_status, post_order, random_order

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"


# ---------------------------------------------------------------- policy evaluation (no server)
def _statements(*raw: dict[str, Any]) -> list[Statement]:
    return Statement.all_in("test-policy", {"Version": "2012-10-17", "Statement": list(raw)})


def test_an_explicit_deny_wins_over_any_allow():
    # GIVEN an Allow and an explicit Deny of one action, THEN the call is denied
    statements = _statements(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert evaluate(statements, Check("dynamodb:GetItem", TABLE)).allowed
    assert not evaluate(statements, Check("dynamodb:DeleteItem", TABLE)).allowed


def test_nothing_is_allowed_unless_a_statement_says_so():
    # GIVEN no statement about an action, THEN the call is denied
    statements = _statements({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE})
    assert not evaluate(statements, Check("dynamodb:GetItem", f"{TABLE}-other")).allowed
    assert not evaluate(statements, Check("dynamodb:PutItem", TABLE)).allowed
    assert not evaluate([], Check("dynamodb:GetItem", TABLE)).allowed


def test_actions_match_case_insensitively_and_resources_exactly_with_iam_wildcards():
    # GIVEN actions and resources with wildcards, THEN actions match in any case, resources exactly, * and ? as IAM
    statements = _statements({"Effect": "Allow", "Action": "DynamoDB:get*", "Resource": f"{TABLE}/index/?y-*"})
    assert evaluate(statements, Check("dynamodb:GetItem", f"{TABLE}/index/by-order-date")).allowed
    assert not evaluate(statements, Check("dynamodb:GetItem", f"{TABLE}/INDEX/by-order-date")).allowed
    assert not evaluate(statements, Check("dynamodb:GetItem", TABLE)).allowed  # the index pattern is not the table


def test_not_action_and_not_resource_invert_the_match():
    # GIVEN NotAction and NotResource, THEN they allow everything but what they name
    statements = _statements({"Effect": "Allow", "NotAction": "sqs:DeleteMessage", "NotResource": TABLE})
    assert evaluate(statements, Check("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q")).allowed
    assert not evaluate(statements, Check("sqs:DeleteMessage", "arn:aws:sqs:us-east-1:1:q")).allowed
    assert not evaluate(statements, Check("sqs:SendMessage", TABLE)).allowed


def _request(service: str, operation: str, **parameters: Any) -> ParsedRequest:
    return ParsedRequest(service, operation, "us-east-1", "AKID", "token", True, parameters)


def test_sqs_batch_actions_are_authorised_as_the_single_action_on_the_queue_arn():
    # GIVEN SQS batch calls, THEN each is authorised as its single action on the queue's ARN
    queue_url = f"http://127.0.0.1:5000/{ACCOUNT}/orders-queue"
    assert checks_for(_request("sqs", "SendMessageBatch", QueueUrl=queue_url), ACCOUNT) == [
        Check("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-queue")
    ]
    assert checks_for(_request("sqs", "DeleteMessageBatch", QueueUrl=queue_url), ACCOUNT)[0].action == (
        "sqs:DeleteMessage"
    )
    assert checks_for(_request("sqs", "ChangeMessageVisibilityBatch", QueueUrl=queue_url), ACCOUNT)[0].action == (
        "sqs:ChangeMessageVisibility"
    )


def test_dynamodb_is_authorised_per_table_and_per_index():
    # GIVEN DynamoDB calls on a table and on its index, THEN each is authorised on its own ARN
    query = _request("dynamodb", "Query", TableName="orders", IndexName="by-order-date")
    assert checks_for(query, ACCOUNT) == [Check("dynamodb:Query", f"{TABLE}/index/by-order-date")]
    batch = _request("dynamodb", "BatchWriteItem", RequestItems={"orders": [], "audit": []})
    assert {c.resource for c in checks_for(batch, ACCOUNT)} == {TABLE, TABLE.replace("orders", "audit")}
    transaction = _request(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[{"Put": {"TableName": "orders"}}, {"ConditionCheck": {"TableName": "audit"}}],
    )
    assert checks_for(transaction, ACCOUNT) == [
        Check("dynamodb:PutItem", TABLE),
        Check("dynamodb:ConditionCheckItem", TABLE.replace("orders", "audit")),
    ]


# ---------------------------------------------------------------- the local cloud enforcing the template
# The managed policies SAM attaches for Lambda's own use (logs, network interfaces, X-Ray) serve no call
# the functions make; AWSLambdaSQSQueueExecutionRole serves the event source mapping's polling, emulated here.
POLLING_POLICY = "AWSLambdaSQSQueueExecutionRole"


def _role_policies() -> list[tuple[str, str]]:
    """(function, policy) for every policy the translated template gives a function's role that a call needs."""
    app = SamApplication()
    cases: list[tuple[str, str]] = []
    for function in sorted(app.functions):
        role_id = app.cloudformation["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        properties = app.cloudformation["Resources"][role_id]["Properties"]
        cases += [(function, policy["PolicyName"]) for policy in properties.get("Policies", [])]
        cases += [
            (function, POLLING_POLICY) for arn in properties.get("ManagedPolicyArns", []) if POLLING_POLICY in arn
        ]
    return cases


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    logs = tempfile.TemporaryFile("w+")  # noqa: SIM115 - the functions' log stream, closed with the service
    local = LocalService(log_sink=logs)
    local.prepare_database()
    yield local
    local.close()
    logs.close()


def _as(service: LocalService, function: str, client: str) -> Any:
    return service.cloud.client(client, as_function=function)


def _error(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def _fresh_environments(service: LocalService, function: str) -> None:
    """Cached secrets, clients and connections go with the environments: the next call starts cold."""
    pool = service.pools.pop(function, None)
    if pool is not None:
        pool.close()


@contextlib.contextmanager
def _role_without(service: LocalService, function: str, policy: str) -> Iterator[None]:
    """The function's role without one of its policies (inline or managed) while the block runs."""
    iam, role = service.cloud.client("iam"), service.cloud.role_names[function]
    restore: Callable[[], Any]
    if policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
        restore = lambda: iam.put_role_policy(  # noqa: E731
            RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document)
        )
    else:
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        arn = next(p["PolicyArn"] for p in attached if p["PolicyName"] == policy)
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
        restore = lambda: iam.attach_role_policy(RoleName=role, PolicyArn=arn)  # noqa: E731
    _fresh_environments(service, function)
    try:
        yield
    finally:
        restore()
        _fresh_environments(service, function)


# What each function does in production, run end to end; each returns what went wrong (nothing: []).
def _api_work(service: LocalService) -> list[str]:
    post = load_event("api_post_order.json")
    post["headers"]["idempotency-key"] = str(uuid.uuid4())  # a new order each run, not a replay
    posted = service.pool("ApiFunction").invoke(post)
    read = service.pool("ApiFunction").invoke(load_event("api_get_order.json"))
    problems = [] if posted.error is None and posted.payload["statusCode"] == 202 else [f"POST: {posted.response}"]
    return problems + ([] if read.error is None and read.payload["statusCode"] == 404 else [f"GET: {read.response}"])


def _empty(service: LocalService, queue: str) -> None:
    """Delete what is left (PurgeQueue is allowed once a minute)."""
    sqs, url = service.cloud.client("sqs"), service.queue_url(queue)
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _consumer_work(service: LocalService) -> list[str]:
    batch = service.pool("OrdersConsumer").invoke(load_event("sqs_orders_batch.json"))
    problems = [] if batch.error is None and len(batch.payload["batchItemFailures"]) == 1 else [f"{batch.response}"]
    sqs = service.cloud.client("sqs")
    sqs.send_message(QueueUrl=service.queue_url("OrdersQueue"), MessageBody=json.dumps(order_message()))
    try:
        SqsEventSource(service, "OrdersConsumer").drain(timeout_s=30)
    except (ClientError, DrainError) as error:  # what the mapping could not do as the function's role
        _empty(service, "OrdersQueue")
        problems.append(f"drain: {error}")
    return problems


def _rollup_work(service: LocalService) -> list[str]:
    order = Order.model_validate(order_message(created_at="2026-11-23T10:00:00Z"))  # a sale to roll up
    table = service.cloud.symbols["OrdersTable"]["Ref"]
    shards = int(service.environment("OrdersConsumer")["ORDER_DAY_SHARDS"])
    service.cloud.client("dynamodb").put_item(TableName=table, Item=to_item(order, shards))
    schedule = Schedule(service, "DailyRollupFunction")
    run = schedule.fire(dt.datetime(2026, 11, 24, 0, 15, tzinfo=dt.UTC))
    problems = [f"rollup: {run.attempts[-1].error}"] if run.attempts[-1].error is not None else []
    try:  # a failing run must reach the on-failure destination, which Lambda sends to as the role
        schedule.fire(dt.datetime(2026, 11, 24, 0, 15, tzinfo=dt.UTC), input_override='{"date": "not-a-date"}')
    except ClientError as error:
        problems.append(f"on-failure destination: {error}")
    _empty(service, "RollupFailureQueue")
    return problems


def _migration_work(service: LocalService) -> list[str]:
    invocation = service.pool("SchemaMigrationFunction").invoke(load_event("schema_migration.json"))
    return [] if invocation.error is None else [f"migration: {invocation.error}"]


def _rotation_work(service: LocalService) -> list[str]:
    run = rotate(service, "AppDatabaseSecret")
    return [] if run.completed else [f"rotation: {[i.error for i in run.invocations if i.error]}"]


WORK: dict[str, Callable[[LocalService], list[str]]] = {
    "ApiFunction": _api_work,
    "OrdersConsumer": _consumer_work,
    "DailyRollupFunction": _rollup_work,
    "SchemaMigrationFunction": _migration_work,
    "AppSecretRotationFunction": _rotation_work,
}


def _denials(service: LocalService, function: str) -> int:
    return service.cloud.iam_report()[function].denied_count


@pytest.mark.integration
@pytest.mark.parametrize("function", sorted(WORK))
def test_the_unmodified_template_lets_every_function_do_its_work_without_a_denial(service: LocalService, function):
    # GIVEN the template as committed, WHEN every function does its work, THEN no call is denied
    before = _denials(service, function)
    assert WORK[function](service) == []
    assert _denials(service, function) == before
    assert service.cloud.iam_report()[function].calls  # it did call AWS, as its role


@pytest.mark.integration
@pytest.mark.parametrize(("function", "policy"), _role_policies())
def test_removing_any_policy_of_a_function_makes_its_work_fail_with_a_denial(service: LocalService, function, policy):
    # GIVEN the function's role without this one policy
    before = _denials(service, function)
    with _role_without(service, function, policy):
        # WHEN the function does its work, THEN something fails — and IAM is why
        problems = WORK[function](service)
        denials = service.cloud.iam_report()[function]
    assert problems, f"{function} works without {policy}: the policy is not needed"
    assert denials.denied_count > before
    assert any(d["action"] for d in denials.denied)


@pytest.mark.integration
def test_the_books_list_allowed_actions_that_nothing_used(service: LocalService):
    # GIVEN a role allowed more than its function used, THEN the books list what nothing used
    _api_work(service)
    labels = service.cloud.policy_labels
    unused = service.cloud.iam_report()["ApiFunction"].never_used(labels)
    # the orders table's one statement grants GetItem, which GET uses; the idempotency statement keeps
    # DeleteItem, which Powertools needs only on its failure path (named unused here; the demo walks it)
    assert "Policies[1] Statement" not in unused
    assert set(unused.get("Policies[2] Statement", [])) <= {"dynamodb:DeleteItem"}
    report = service.cloud.iam_report()["ApiFunction"]
    assert report.calls.get("sqs:SendMessage", 0) > 0  # its explicit statement grants exactly what it uses
    assert "sqs:SendMessage" not in unused.get("Policies[0] Statement", [])


@pytest.mark.integration
def test_a_denial_comes_in_each_protocols_own_error_shape(service: LocalService):
    # GIVEN the consumer's role, which may write orders and poll its queue — and nothing else
    symbols = service.cloud.symbols
    dynamodb, sqs = _as(service, "OrdersConsumer", "dynamodb"), _as(service, "OrdersConsumer", "sqs")
    secrets = _as(service, "OrdersConsumer", "secretsmanager")

    # WHEN it reads the idempotency table, THEN DynamoDB's JSON error: AccessDeniedException, 400
    idempotency = symbols["IdempotencyTable"]
    status, code, message = _error(lambda: dynamodb.get_item(TableName=idempotency["Ref"], Key={"id": {"S": "x"}}))
    assert (status, code) == (400, "AccessDeniedException")
    assert f"assumed-role/{service.cloud.role_names['OrdersConsumer']}/OrdersConsumer" in message
    assert f"dynamodb:GetItem on resource: {idempotency['Arn']}" in message

    # … SQS's query-compatible code: AccessDenied, 403
    status, code, _ = _error(lambda: sqs.send_message(QueueUrl=service.queue_url("OrdersQueue"), MessageBody="{}"))
    assert (status, code) == (403, "AccessDenied")

    # … Secrets Manager's: AccessDeniedException, on the secret's full ARN
    master_secret = symbols["DatabaseCluster"]["MasterUserSecret.SecretArn"]
    status, code, message = _error(lambda: secrets.get_secret_value(SecretId=master_secret))
    assert (status, code) == (400, "AccessDeniedException")
    assert master_secret in message

    # … and a key the local cloud never issued belongs to nobody
    stranger = boto3.session.Session("AKIASTRANGER", "secret", "token", region_name="us-east-1")
    _, code, _ = _error(lambda: stranger.client("dynamodb", endpoint_url=service.cloud.endpoint_url).list_tables())
    assert code == "UnrecognizedClientException"


@pytest.mark.integration
def test_a_policy_on_a_table_does_not_cover_its_indexes(service: LocalService):
    # GIVEN the rollup's role allowed to Query the orders table — the table's ARN only, no index
    table = service.cloud.symbols["OrdersTable"]
    statement = {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": table["Arn"]}
    iam, role = service.cloud.client("iam"), service.cloud.role_names["DailyRollupFunction"]
    with _role_without(service, "DailyRollupFunction", "DailyRollupFunctionRolePolicy0"):
        iam.put_role_policy(
            RoleName=role,
            PolicyName="table-only",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        try:
            # WHEN the rollup runs (it queries the by-day-shard index)
            problems = _rollup_work(service)
        finally:
            iam.delete_role_policy(RoleName=role, PolicyName="table-only")
        denied = service.cloud.iam_report()["DailyRollupFunction"].denied

    # THEN the index's own ARN is what was refused
    assert problems
    index = f"{table['Arn']}/index/by-day-shard"
    assert any(d["action"] == "dynamodb:Query" and d["resource"] == index for d in denied), denied


# ---------------------------------------------------------------- modified templates (the fixture template_with)
CONSUMER_BATCH_ACTIONS = "Action: [dynamodb:BatchGetItem, dynamodb:BatchWriteItem]"
API_SECRET_POLICY = """        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: !Ref AppDatabaseSecret
      Events:
        CreateOrder:"""
API_READ_POLICY = """              Action: dynamodb:GetItem
              Resource: !GetAtt OrdersTable.Arn"""


@pytest.mark.integration
def test_without_the_consumers_write_policy_invoke_fails_every_record_with_access_denied(template_with, capfd):
    # GIVEN template.yaml whose consumer may read the orders table but not write it
    template = template_with(CONSUMER_BATCH_ACTIONS, "Action: dynamodb:BatchGetItem")

    # WHEN the batch is invoked through the CLI with -t, as `sam local invoke -t` would
    event = str(EVENTS_DIR / "sqs_orders_batch.json")
    arguments = ["invoke", "OrdersConsumer", "-e", event, "-t", str(template)]
    assert runner_main(arguments) == 0
    response = json.loads(capfd.readouterr().out.splitlines()[-1])  # the logs go to stderr, as with sam

    # THEN every record failed (Powertools raises), and the response says AccessDenied for each order
    assert response["errorType"] == "BatchProcessingError"
    assert response["errorMessage"].startswith("All records failed processing. 3 individual errors")
    refused = [line for line in response["errorMessage"].splitlines() if line.startswith("orders.handlers.consumer.")]
    assert len(refused) == 2  # the two valid orders; the third record is malformed JSON
    assert all("AccessDeniedException" in line and "dynamodb:BatchWriteItem" in line for line in refused)


def _read(logs: IO[str]) -> str:
    logs.seek(0)
    text = logs.read()
    logs.close()
    return text


@pytest.mark.integration
def test_without_the_apis_secret_policy_post_answers_5xx_and_logs_access_denied(template_with):
    # GIVEN template.yaml without the API's AWSSecretsManagerGetSecretValuePolicy
    template = template_with(API_SECRET_POLICY, "      Events:\n        CreateOrder:")
    logs = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read below, closed at the end of the test
    with LocalService(template=template, log_sink=logs) as local:
        local.prepare_database()
        # WHEN an order is posted over HTTP
        token = local.authorizers.token("c-1", ["orders/write"])
        with serving(local) as port:
            status, _ = post_order(port, random_order(random.Random(1)), str(uuid.uuid4()), token)

    # THEN a 5xx, and the function's log names the refused call
    assert status == 500
    logged = _read(logs)
    assert "AccessDeniedException" in logged
    assert "secretsmanager:GetSecretValue" in logged


@pytest.mark.integration
def test_with_the_read_policy_scoped_to_another_table_get_answers_5xx_and_logs_access_denied(template_with):
    # GIVEN the API's GetItem statement on the idempotency table instead of the orders table
    template = template_with(API_READ_POLICY, API_READ_POLICY.replace("OrdersTable", "IdempotencyTable"))
    logs = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read below, closed at the end of the test
    with LocalService(template=template, log_sink=logs) as local:
        local.prepare_database()
        orders_table = local.cloud.symbols["OrdersTable"]["Arn"]
        # WHEN an order is read over HTTP
        with serving(local) as port:
            status = get_order_status(port, str(uuid.uuid4()), local.authorizers.token("c-1", ["orders/read"]))

    # THEN a 5xx, and the log names the orders table the policy does not cover
    assert status == 500
    assert f"dynamodb:GetItem on resource: {orders_table}" in _read(logs)
