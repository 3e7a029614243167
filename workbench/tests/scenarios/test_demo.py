"""`make demo`'s books, least privilege among them: the scenario walks the failure paths too."""

from __future__ import annotations

import pytest

from workbench.scenarios.demo import run_demo

pytestmark = pytest.mark.integration


def test_the_demo_balances_its_books_and_uses_every_permission_each_role_holds(capsys: pytest.CaptureFixture[str]):
    # GIVEN the demo's scenario: orders refused then corrected under their key, a late order redriven into the
    # queue, a scheduled run that fails every attempt — the paths that use the failure-only permissions
    # WHEN it runs against the template as it is
    status = run_demo(orders=60)

    # THEN every book holds: nothing denied, and nothing a role holds left unused
    printed = capsys.readouterr().out
    assert "✗" not in printed, printed
    assert "✓ no call denied by IAM" in printed
    assert "✓ every permission a role holds was used" in printed
    assert status == 0
