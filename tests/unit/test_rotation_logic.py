"""Secrets Manager's rotation protocol, the pure part: which requests have work, which are refused."""

from __future__ import annotations

import pytest

from orders.logic.rotation import RotationRefusedError, current_version, has_work, new_password

VERSIONS = {"old": ["AWSCURRENT"], "new": ["AWSPENDING"], "older": ["AWSPREVIOUS"]}


def test_a_pending_version_has_work():
    # GIVEN a secret with a version staged AWSPENDING, WHEN Secrets Manager asks a step for it, THEN there is work
    assert has_work(VERSIONS, "new", rotation_enabled=True) is True


def test_a_version_already_current_has_none_a_repeated_finish_changes_nothing():
    # GIVEN the version already promoted, WHEN a step is asked again for it, THEN it has nothing to do
    assert has_work(VERSIONS, "old", rotation_enabled=True) is False


@pytest.mark.parametrize(
    ("token", "enabled", "reason"),
    [
        ("new", False, "rotation is not enabled"),
        ("unknown", True, "is not a version of this secret"),
        ("older", True, "is not staged AWSPENDING"),
    ],
)
def test_a_request_that_does_not_fit_the_versions_is_refused(token: str, enabled: bool, reason: str):
    # GIVEN a request for a version that is not pending, or with rotation off, THEN it is refused saying why
    with pytest.raises(RotationRefusedError, match=reason):
        has_work(VERSIONS, token, rotation_enabled=enabled)


def test_the_current_version_is_the_one_staged_current():
    # GIVEN three versions, THEN the current one is the one labelled AWSCURRENT
    assert current_version(VERSIONS) == "old"


def test_a_new_password_has_the_length_asked_and_none_of_the_excluded_characters():
    # GIVEN the secret's length and excluded characters
    excluded = "\"@/\\' "
    # WHEN fifty passwords are made
    passwords = {new_password(32, excluded) for _ in range(50)}
    # THEN they are all different, of that length, without those characters
    assert len(passwords) == 50  # never the same twice
    for password in passwords:
        assert len(password) == 32
        assert not set(password) & set(excluded)
