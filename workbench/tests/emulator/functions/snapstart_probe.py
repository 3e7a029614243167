"""A test-only handler for SnapStart's hazards: a connection and a random generator made at INIT.

PROBE_HOOKS=on registers the after-restore hook that src/orders/snapstart.py's shape prescribes:
reconnect and reseed. Off, every environment restored from one snapshot shares both.
"""

import os
import random
import socket

from snapshot_restore_py import register_after_restore

ADDRESS = (os.environ["PROBE_HOST"], int(os.environ["PROBE_PORT"]))
rng = random.Random()  # seeded at INIT: part of the snapshot
connection = socket.create_connection(ADDRESS)  # opened at INIT: part of the snapshot


def fresh_after_restore():
    global rng, connection
    connection.close()
    connection = socket.create_connection(ADDRESS)
    rng = random.Random()


if os.environ.get("PROBE_HOOKS") == "on":
    register_after_restore(fresh_after_restore)


def handler(event, context):
    return {"draws": [rng.random() for _ in range(3)], "socket": connection.getsockname()[1], "pid": os.getpid()}
