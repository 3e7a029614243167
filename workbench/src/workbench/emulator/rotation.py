"""Secrets Manager's rotation of a template's secret, on demand: the schedule is not run, the steps are.

An `AWS::SecretsManager::RotationSchedule` names a secret and its rotation function. Secrets Manager,
when the schedule is due (or on RotateSecret), stages a new version AWSPENDING with no value and
invokes the function once per step — createSecret, setSecret, testSecret, finishSecret — with the
same ClientRequestToken, stopping at the first failure (AWSPENDING stays; it tries again later).
Here `rotate()` does exactly that against the local cloud; nothing runs it on a timer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from workbench.emulator.cloud import rotation_schedules
from workbench.emulator.environment import Invocation
from workbench.emulator.service import LocalService

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@dataclass(frozen=True)
class RotationRun:
    token: str
    invocations: list[Invocation]

    @property
    def completed(self) -> bool:
        return len(self.invocations) == len(STEPS) and all(i.error is None for i in self.invocations)


def rotate(service: LocalService, secret: str) -> RotationRun:
    """One rotation of `secret` (a logical id), step by step as Secrets Manager runs it."""
    schedules = rotation_schedules(service.app)
    if secret not in schedules:
        raise KeyError(f"no RotationSchedule with a function of the template rotates {secret!r} ({sorted(schedules)})")
    token = str(uuid.uuid4())
    service.cloud.secret_rotation(secret, token=token)  # a rotation left half-done is started over
    arn = str(service.cloud.symbols[secret]["Ref"])
    pool = service.pool(schedules[secret])
    invocations: list[Invocation] = []
    for step in STEPS:
        invocations.append(pool.invoke({"Step": step, "SecretId": arn, "ClientRequestToken": token}))
        if invocations[-1].error is not None:
            break
    return RotationRun(token, invocations)
