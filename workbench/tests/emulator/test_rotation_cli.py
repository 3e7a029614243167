"""`workbench rotate-secret`: a template's RotationSchedule run once, as Secrets Manager runs it."""

from __future__ import annotations

import pytest

from workbench.cli import main as runner_main

pytestmark = pytest.mark.integration


def test_rotate_secret_runs_the_four_steps_of_the_schedules_function(capfd: pytest.CaptureFixture[str]):
    # WHEN the app user's secret is rotated through the CLI
    status = runner_main(["rotate-secret", "AppDatabaseSecret"])

    # THEN every step ran in AppSecretRotationFunction, in Secrets Manager's order, and the secret rotated
    printed = capfd.readouterr()
    assert status == 0
    steps = [line.split(": ")[1].split(" ")[0] for line in printed.err.splitlines() if " version " in line]
    assert steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert printed.out.strip() == "AppDatabaseSecret: rotated"


def test_a_secret_without_a_schedule_is_a_one_line_error_and_exit_2(capfd: pytest.CaptureFixture[str]):
    # GIVEN a resource no RotationSchedule rotates, WHEN rotate-secret names it, THEN one line says so, and exit 2
    assert runner_main(["rotate-secret", "OrdersTable"]) == 2
    assert "no RotationSchedule with a function of the template rotates 'OrdersTable'" in capfd.readouterr().err
