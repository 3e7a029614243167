"""The load test's clients, in a process of their own: N threads POSTing orders over keep-alive
connections to a loopback port, each as a customer whose token comes on stdin. Prints statuses and
latencies as JSON. Bounded in count and time."""

from __future__ import annotations

import collections
import http.client
import json
import random
import sys
import threading
import time

from workbench.scenarios.traffic import bearer, random_customer, random_order


def send(
    port: int, requests: int, clients: int, seed: int, time_limit_s: float, tokens: dict[str, str]
) -> dict[str, object]:
    deadline = time.monotonic() + time_limit_s
    next_request = iter(range(requests))
    lock = threading.Lock()
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    transport_errors = 0

    def client() -> None:
        nonlocal transport_errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                n = next(next_request, None)
            if n is None:
                break
            rng = random.Random(seed * 1_000_003 + n)  # noqa: S311 - test data
            body = json.dumps(random_order(rng))
            headers = {"content-type": "application/json"} | bearer(tokens[random_customer(rng)])
            started = time.perf_counter()
            try:
                connection.request("POST", "/orders", body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    transport_errors += 1
                continue
            with lock:
                statuses[response.status] += 1
                latencies.append((time.perf_counter() - started) * 1000)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": dict(statuses), "latencies_ms": latencies, "transport_errors": transport_errors}


if __name__ == "__main__":
    port, requests, clients, seed = (int(a) for a in sys.argv[1:5])
    tokens = json.loads(sys.stdin.read())  # each customer's access token, from the parent that serves the API
    print(json.dumps(send(port, requests, clients, seed, float(sys.argv[5]), tokens)))
