"""Secrets Manager's rotation protocol: which version a step works on, and whether it has work to do."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"


class RotationRequest(BaseModel):
    """What Secrets Manager invokes a rotation function with, once per step."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    secret_id: str = Field(alias="SecretId", min_length=1)
    token: str = Field(alias="ClientRequestToken", min_length=1)  # the version being rotated in
    step: Literal["createSecret", "setSecret", "testSecret", "finishSecret"] = Field(alias="Step")


class RotationRefusedError(Exception):
    """The request does not fit the secret's versions: Secrets Manager is told, nothing is changed."""


def has_work(versions: Mapping[str, Sequence[str]], token: str, *, rotation_enabled: bool) -> bool:
    """False when the token's version is current already (a repeated finish); raises on a request that does
    not fit: rotation off, an unknown version, or one that is neither pending nor current."""
    if not rotation_enabled:
        raise RotationRefusedError("rotation is not enabled on this secret")
    if token not in versions:
        raise RotationRefusedError(f"version {token} is not a version of this secret")
    if CURRENT in versions[token]:
        return False
    if PENDING not in versions[token]:
        raise RotationRefusedError(f"version {token} is not staged {PENDING}")
    return True


def current_version(versions: Mapping[str, Sequence[str]]) -> str:
    return next(version for version, stages in versions.items() if CURRENT in stages)


# What GetRandomPassword draws from by default: letters, digits and punctuation (no space).
_ALPHABET = string.ascii_letters + string.digits + string.punctuation


def new_password(length: int, exclude_characters: str) -> str:
    """A password from the OS's CSPRNG, as GenerateSecretString made the first: no API call, no permission
    (GetRandomPassword takes no resource, so granting it means granting it on "*")."""
    alphabet = [character for character in _ALPHABET if character not in exclude_characters]
    return "".join(secrets.choice(alphabet) for _ in range(length))
