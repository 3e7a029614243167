"""AppSecretRotationFunction: rotates the app user's MySQL password, Secrets Manager's four steps, single user.

The user signs in and changes its own password, directly on the cluster: RDS Proxy knows only the
current password, so it could not test the new one. The functions' next connection through the proxy
is refused the old password and reads the secret again (orders/adapters/mysql.py).
"""

from __future__ import annotations

import functools
from typing import Any

import pymysql
from aws_lambda_powertools.utilities.typing import LambdaContext
from pymysql.constants import ER

from orders.adapters import secret_versions
from orders.adapters.aws_clients import prime, secretsmanager_client
from orders.adapters.mysql import database_tls, set_own_password, sign_in
from orders.config import RotationSettings, get_settings
from orders.logic.rotation import CURRENT, RotationRefusedError, RotationRequest, has_work, new_password
from orders.observability import logger

SETTINGS = RotationSettings  # what this function reads from its environment: template.yaml gives it that

prime(functools.partial(get_settings, SETTINGS), secretsmanager_client, database_tls)  # INIT runs at full CPU


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    request = RotationRequest.model_validate(event)
    enabled, stages = secret_versions.versions(request.secret_id)
    if not has_work(stages, request.token, rotation_enabled=enabled):
        logger.info("version already current", step=request.step, version=request.token)
        return
    settings = get_settings(SETTINGS)
    if request.step == "createSecret":
        _create(settings, request)
    elif request.step == "setSecret":
        _set(settings, request)
    elif request.step == "testSecret":
        _test(settings, request)
    else:
        secret_versions.promote(request.secret_id, request.token, stages)
    logger.info("rotation step done", step=request.step, version=request.token)


def _create(settings: RotationSettings, request: RotationRequest) -> None:
    """A pending version: the current one with a new password (again the same if this step is retried)."""
    if secret_versions.pending(request.secret_id, request.token) is not None:
        return
    document = secret_versions.value(request.secret_id, CURRENT)
    document["password"] = new_password(settings.password_length, settings.password_exclude_characters)
    secret_versions.put_pending(request.secret_id, request.token, document)


def _set(settings: RotationSettings, request: RotationRequest) -> None:
    """The database takes the pending password — unless it already has it (a retried step)."""
    new = _required(secret_versions.pending(request.secret_id, request.token), request)
    if _signs_in(settings, new):
        return
    old = secret_versions.value(request.secret_id, CURRENT)
    if old["username"] != new["username"]:
        raise RotationRefusedError("the pending version names another user: single-user rotation changes none")
    connection = sign_in(settings, old["username"], old["password"])
    try:
        set_own_password(connection, new["password"])
    finally:
        connection.close()


def _test(settings: RotationSettings, request: RotationRequest) -> None:
    new = secret_versions.pending(request.secret_id, request.token)
    if new is None or new == secret_versions.value(request.secret_id, CURRENT):
        # Secrets Manager's test of the configuration when rotation is set up without rotating: it stages a
        # version with no new password. The function ran and read the secret; there is nothing to sign in with
        # (and at the stack's first deploy the user does not exist yet: the migration creates it after).
        logger.info("configuration test: no new password staged, nothing to sign in with")
        return
    if not _signs_in(settings, new):
        raise RotationRefusedError("the pending password does not sign in")


def _signs_in(settings: RotationSettings, document: dict[str, Any]) -> bool:
    try:
        connection = sign_in(settings, document["username"], document["password"])
    except pymysql.err.OperationalError as error:
        if error.args[0] != ER.ACCESS_DENIED_ERROR:
            raise  # unreachable or broken: not an answer about the password
        return False
    connection.close()
    return True


def _required(document: dict[str, Any] | None, request: RotationRequest) -> dict[str, Any]:
    if document is None:
        raise RotationRefusedError(f"{request.step}: no pending version {request.token} (createSecret first)")
    return document
