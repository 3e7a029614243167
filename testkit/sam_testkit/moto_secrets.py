"""moto's Secrets Manager, corrected where a rotation would otherwise end differently than on AWS.

Moving AWSCURRENT with UpdateSecretVersionStage (a rotation's finishSecret) moves the label in moto,
but its GetSecretValue without a stage still answers the version that was current before: moto
serves that from `default_version_id`, which only PutSecretValue and RotateSecret update. On AWS a
read without a stage is a read of AWSCURRENT. Applied by the local cloud and by the tests' moto.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.secretsmanager.models import SecretsManagerBackend

_CURRENT = "AWSCURRENT"


def apply() -> None:
    original = SecretsManagerBackend.update_secret_version_stage
    if getattr(original, "keeps_current_in_step", False):
        return

    @functools.wraps(original)
    def update_secret_version_stage(
        self: SecretsManagerBackend,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        answer = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == _CURRENT and move_to_version_id:
            secret: Any = self.secrets[secret_id]
            secret.default_version_id = move_to_version_id
        return answer

    update_secret_version_stage.keeps_current_in_step = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]
