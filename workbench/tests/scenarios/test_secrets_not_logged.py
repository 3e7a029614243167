"""With DEBUG logging and events logged, no function writes the database password anywhere:
not in a log line, not in a span it sends."""

from __future__ import annotations

import json

import pytest
from tests.factories import load_event

from workbench.emulator.service import LocalService
from workbench.scenarios.traffic import database_user

pytestmark = pytest.mark.integration


def test_no_log_line_carries_the_secret(tmp_path):
    # GIVEN every function at DEBUG with its events logged, WHEN they run through a password rotation
    # THEN no log line carries the password
    log_file = tmp_path / "functions.log"
    debug = {"POWERTOOLS_LOG_LEVEL": "DEBUG", "POWERTOOLS_LOGGER_LOG_EVENT": "true", "POWERTOOLS_DEBUG": "true"}
    with (
        log_file.open("w") as sink,
        LocalService(
            env_vars={"Parameters": debug},
            log_sink=sink,
            trace=True,
        ) as service,
    ):
        service.prepare_database()
        master_password = service.database.password  # the migration's
        secret, user = database_user(service, "ApiFunction")  # the least-privilege user the others connect as
        secret_id = service.cloud.symbols[secret]["Ref"]
        secret_value = service.cloud.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        password = json.loads(secret_value)["password"]
        for function, event in [
            ("ApiFunction", "api_post_order.json"),
            ("ApiFunction", "api_get_order.json"),
            ("OrdersConsumer", "sqs_orders_batch.json"),
            ("DailyRollupFunction", "schedule_daily_rollup.json"),
        ]:
            assert service.pool(function).invoke(load_event(event)).error is None
        # and the refresh path: a rotated password, the cached one refused, the secret read again
        for (connection_id,) in service.mysql.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,)
        ):
            service.mysql.execute(f"KILL {connection_id}")
        new_password = "rotated-" + password
        service.cloud.client("secretsmanager").put_secret_value(
            SecretId=secret_id, SecretString=json.dumps({"username": user, "password": new_password})
        )
        service.mysql.execute(f"ALTER USER '{user}'@'%%' IDENTIFIED BY %s", (new_password,))
        event = load_event("api_post_order.json")
        del event["headers"]["idempotency-key"]  # a replay would not touch the database
        # nor would the SKUs this environment priced already (the price cache): a SKU it has not
        event["body"] = json.dumps({"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": 1}]})
        invocation = service.pool("ApiFunction").invoke(event)
        assert invocation.error is None
        assert service.traces is not None
        service.traces.wait_for(invocation.trace_id, {"Secrets Manager.GetSecretValue"})  # UDP: lands when it lands
        spans = json.dumps(service.traces.documents())

    assert "Secrets Manager.GetSecretValue" in spans  # the secret fetch itself was traced
    logs = log_file.read_text()
    assert "refreshing the secret once" in logs  # the refresh path really ran, at DEBUG
    assert "[DEBUG]" in logs  # Powertools' own debug output was on
    for needle in (master_password, password, new_password, secret_value):
        assert needle not in logs
        assert needle not in spans
