"""SnapStart's runtime hooks, in one place (template.yaml: ColdStartStrategy=snapstart).

With SnapStart, Lambda runs INIT once per published version, snapshots the initialized
environment and starts every new environment from that snapshot: each begins with the same memory
— the same sockets, the same cached secret, the same random state. These hooks make that safe.
Without SnapStart they are registered and never called, so the same code runs either way
(docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html). The boto3 clients
need nothing: under SnapStart Lambda hands out credentials through the container credentials
endpoint, which botocore refreshes by itself.
"""

from __future__ import annotations

from snapshot_restore_py import register_after_restore, register_before_snapshot

from orders.adapters.catalog import catalog_cache
from orders.adapters.mysql import get_database
from orders.adapters.orders_table import reseed_retry_jitter
from orders.adapters.secrets import secrets_provider


def before_snapshot() -> None:
    """Nothing open goes into the snapshot: a socket in it would be shared by every restored copy."""
    get_database().close()


def after_restore() -> None:
    """Drop what belongs to one environment or one moment (Lambda allows hooks 10 s, these take µs)."""
    get_database().close()  # a restored copy's connection is the snapshot's socket, shared and stale
    secrets_provider().clear_cache()  # type: ignore[no-untyped-call]  # the password may have rotated since the snapshot
    reseed_retry_jitter()  # else every restored environment would draw the same backoff delays
    catalog_cache().clear()  # prices kept before the snapshot are as old as the version, past any bound


def register_hooks() -> None:
    """Called at INIT by the handlers of functions that may run with SnapStart."""
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
