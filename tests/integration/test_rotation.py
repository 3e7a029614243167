"""AppSecretRotationFunction against moto's Secrets Manager and the real MySQL: the four steps, retried steps,
refusals, and the functions still signing in after the password changed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pymysql
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from orders.handlers import api, rotate_secret
from orders.logic.rotation import RotationRefusedError
from tests.factories import FakeLambdaContext, order_request, post_order_event
from tests.fixtures import APP_PASSWORD, APP_USER, LAMBDA_ENV, MYSQL_ADMIN, AwsWorld, MySqlAdmin

pytestmark = pytest.mark.integration
SECRET = LAMBDA_ENV["DB_SECRET_ID"]
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def as_secrets_manager_starts_a_rotation(*, enabled: bool = True) -> str:
    """What Secrets Manager does before createSecret: rotation on, a new version staged AWSPENDING, no value."""
    secret: Any = secretsmanager_backends[DEFAULT_ACCOUNT_ID][LAMBDA_ENV["AWS_REGION"]].secrets[SECRET]
    secret.rotation_requested = secret.rotation_enabled = enabled
    token = str(uuid.uuid4())
    secret.versions[token] = {"createdate": 0, "version_id": token, "version_stages": ["AWSPENDING"]}
    return token


def step(name: str, token: str) -> None:
    rotate_secret.handler({"Step": name, "SecretId": SECRET, "ClientRequestToken": token}, FakeLambdaContext())


def signs_in(password: str) -> bool:
    try:
        pymysql.connect(host=MYSQL_ADMIN["host"], port=MYSQL_ADMIN["port"], user=APP_USER, password=password).close()
    except pymysql.err.OperationalError:
        return False
    return True


def stage(aws: AwsWorld, stage_name: str) -> dict[str, Any]:
    value = aws.client("secretsmanager").get_secret_value(SecretId=SECRET, VersionStage=stage_name)
    return dict(json.loads(value["SecretString"]))


def test_the_four_steps_change_the_app_users_password_and_the_api_still_signs_in(
    orders_service: AwsWorld, mysql: MySqlAdmin
):
    # GIVEN a rotation started by Secrets Manager
    token = as_secrets_manager_starts_a_rotation()

    # WHEN the function runs each step
    for name in STEPS:
        step(name, token)

    # THEN the user has a new password, the secret serves it as current and keeps the old one as previous
    new = stage(orders_service, "AWSCURRENT")
    assert new["username"] == APP_USER
    assert new["password"] != APP_PASSWORD
    assert stage(orders_service, "AWSPREVIOUS")["password"] == APP_PASSWORD
    assert signs_in(new["password"])
    assert not signs_in(APP_PASSWORD)
    # … and an API environment started now prices an order with it (MySQL through the secret)
    response = api.handler(post_order_event(order_request(MUG_CERAMIC_350ML=1)), FakeLambdaContext())
    assert response["statusCode"] == 202


def test_each_step_retried_does_no_harm(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a rotation whose steps Secrets Manager retries (a timeout, a throttled call)
    token = as_secrets_manager_starts_a_rotation()
    step("createSecret", token)
    pending = stage(orders_service, "AWSPENDING")["password"]

    # WHEN each step runs twice
    for name in STEPS:
        step(name, token)
        step(name, token)

    # THEN the first pending password is the one in use: nothing was generated or set twice
    assert stage(orders_service, "AWSCURRENT")["password"] == pending
    assert signs_in(pending)


def test_when_the_current_password_no_longer_signs_in_nothing_is_promoted(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN the user's password was changed behind the secret's back
    mysql.set_app_password("changed-out-of-band")
    token = as_secrets_manager_starts_a_rotation()
    step("createSecret", token)

    # WHEN setSecret runs, THEN it fails (MySQL refuses the current password), and the secret is as it was
    with pytest.raises(pymysql.err.OperationalError):
        step("setSecret", token)
    assert stage(orders_service, "AWSCURRENT")["password"] == APP_PASSWORD
    assert signs_in("changed-out-of-band")


@pytest.mark.parametrize(
    ("enabled", "token", "reason"),
    [(False, None, "not enabled"), (True, "not-a-version", "is not a version")],
)
def test_a_request_that_does_not_fit_the_secret_is_refused(
    orders_service: AwsWorld, mysql: MySqlAdmin, enabled: bool, token: str | None, reason: str
):
    # GIVEN a rotation request for no version or with rotation off, WHEN createSecret runs
    # THEN it is refused saying why
    staged = as_secrets_manager_starts_a_rotation(enabled=enabled)
    with pytest.raises(RotationRefusedError, match=reason):
        step("createSecret", token or staged)


def test_set_and_test_need_the_pending_version_first(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a rotation started but no new password made, WHEN setSecret runs, THEN it is refused: createSecret first
    token = as_secrets_manager_starts_a_rotation()
    with pytest.raises(RotationRefusedError, match="createSecret first"):
        step("setSecret", token)


def test_secrets_managers_configuration_test_passes_before_the_user_exists(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN rotation set up without rotating (RotateImmediatelyOnUpdate: false): Secrets Manager stages a
    # version with no new password and runs testSecret alone — at the first deploy, before the migration
    mysql.set_app_password("no-one-signs-in-with-this")  # as if the user did not exist yet
    token = as_secrets_manager_starts_a_rotation()

    # WHEN / THEN the test passes: nothing to sign in with, and nothing was changed
    step("testSecret", token)
    assert stage(orders_service, "AWSCURRENT")["password"] == APP_PASSWORD
