"""`workbench proxy`: what the local proxy (testkit/sam_testkit/db_proxy.py) adds to a MySQL round trip.

The functions reach MySQL through a relay so that their connections are counted as theirs alone.
This measures the price: a query's round trip and a connect, direct and through the relay, in
interleaved rounds of the same run (median of the round medians, with min and max).
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import pymysql

from sam_testkit.db_proxy import CountingRelay
from workbench.emulator.mysql_server import admin_settings

ROUNDS = 7
QUERIES = 300
CONNECTS = 30


def _per_call_ms(work: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - started) * 1000 / calls


def _connect_and_close(where: dict[str, Any]) -> None:
    pymysql.connect(**where).close()


def run(rounds: int = ROUNDS) -> dict[str, dict[str, list[float]]]:
    settings = admin_settings()
    relay = CountingRelay((settings["host"], settings["port"]))
    routes = {"direct": settings, "through the proxy": settings | {"host": relay.host, "port": relay.port}}
    results: dict[str, dict[str, list[float]]] = {"query": {}, "connect": {}}
    try:
        connections = {name: pymysql.connect(**where, autocommit=True) for name, where in routes.items()}
        for _ in range(rounds):
            for name, where in routes.items():
                query = _per_call_ms(functools.partial(connections[name].cursor().execute, "SELECT 1"), QUERIES)
                connect = _per_call_ms(functools.partial(_connect_and_close, where), CONNECTS)
                results["query"].setdefault(name, []).append(query)
                results["connect"].setdefault(name, []).append(connect)
        for connection in connections.values():
            connection.close()
    finally:
        relay.close()
    return results


def main(argv: list[str]) -> int:
    results = run()
    print(
        f"ms per call: median of {ROUNDS} interleaved rounds [min–max] ({QUERIES} queries, {CONNECTS} connects a round)"
    )
    for operation, routes in results.items():
        direct = statistics.median(routes["direct"])
        for name, values in routes.items():
            median = statistics.median(values)
            extra = "" if name == "direct" else f"  (+{median - direct:.3f} ms, {median / direct:.2f}×)"
            print(f"{operation:>8} {name:<18} {median:7.3f} [{min(values):.3f}–{max(values):.3f}]{extra}")
    return 0
