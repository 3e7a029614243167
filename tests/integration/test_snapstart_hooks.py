"""SnapStart's hooks (src/orders/snapstart.py): nothing open in the snapshot, nothing shared after a restore."""

from __future__ import annotations

import copy

import pytest
import snapshot_restore_py

from orders import snapstart
from orders.adapters import orders_table
from orders.adapters.mysql import get_database
from orders.adapters.secrets import secrets_provider
from orders.config import ApiSettings, get_settings
from tests.fixtures import AwsWorld, MySqlAdmin

pytestmark = pytest.mark.integration


def test_the_api_registers_both_hooks_at_init():
    # GIVEN the API's INIT, THEN both SnapStart hooks are registered with the runtime
    from orders.handlers import api  # noqa: F401 - its INIT registers them

    assert snapstart.before_snapshot in [hook for hook, _, _ in snapshot_restore_py.get_before_snapshot()]
    assert snapstart.after_restore in [hook for hook, _, _ in snapshot_restore_py.get_after_restore()]


def test_before_the_snapshot_the_database_connection_is_closed(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN an environment that has talked to MySQL during INIT-time work
    get_database().run(lambda cursor: cursor.execute("SELECT 1"))
    assert len(mysql.wait_for_app_connections(1)) == 1

    # WHEN the snapshot is about to be taken
    snapstart.before_snapshot()

    # THEN no socket goes into it (the server sees the connection gone), and the next call reconnects
    assert mysql.wait_for_app_connections(0) == []
    assert get_database().run(lambda cursor: cursor.execute("SELECT 1")) == 1


def test_after_a_restore_nothing_of_the_snapshot_moment_is_reused(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a snapshot holding a cached secret and a retry-jitter state
    provider = secrets_provider()
    provider.get(get_settings(ApiSettings).db_secret_id, transform="json")
    snapshot_state = copy.deepcopy(orders_table.retry_jitter().getstate())

    # WHEN two environments are restored from it
    draws = []
    for _ in range(2):
        orders_table.retry_jitter().setstate(snapshot_state)
        snapstart.after_restore()
        draws.append([orders_table.retry_jitter().random() for _ in range(3)])

    # THEN the secret is fetched afresh and their backoff delays differ
    assert not provider.store  # Powertools' cache emptied: the next get calls Secrets Manager
    assert draws[0] != draws[1]
