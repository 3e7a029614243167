"""A secret's versions as rotation handles them: uncached reads by stage, a pending version, its promotion.

Not the cached provider the other functions read through (orders/adapters/secrets.py): rotation must
see each version as it is now.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from orders.adapters.aws_clients import secretsmanager_client
from orders.logic.rotation import CURRENT, PENDING, current_version


def versions(secret_id: str) -> tuple[bool, dict[str, list[str]]]:
    """(rotation enabled, version id -> its stages)."""
    described = secretsmanager_client().describe_secret(SecretId=secret_id)
    return bool(described.get("RotationEnabled")), dict(described.get("VersionIdsToStages", {}))


def value(secret_id: str, stage: str, version_id: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"SecretId": secret_id, "VersionStage": stage}
    if version_id is not None:
        request["VersionId"] = version_id
    document: dict[str, Any] = json.loads(secretsmanager_client().get_secret_value(**request)["SecretString"])
    return document


def pending(secret_id: str, token: str) -> dict[str, Any] | None:
    """The version being rotated in, if createSecret has put it already."""
    try:
        return value(secret_id, PENDING, token)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None


def put_pending(secret_id: str, token: str, document: dict[str, Any]) -> None:
    secretsmanager_client().put_secret_value(
        SecretId=secret_id, ClientRequestToken=token, SecretString=json.dumps(document), VersionStages=[PENDING]
    )


def promote(secret_id: str, token: str, stages: dict[str, list[str]]) -> None:
    """The pending version becomes current; the one it replaces becomes AWSPREVIOUS (Secrets Manager does that)."""
    secretsmanager_client().update_secret_version_stage(
        SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current_version(stages)
    )
