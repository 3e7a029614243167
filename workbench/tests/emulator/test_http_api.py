"""The local HTTP API over real sockets: HTTP framing as a maintained server does it, API Gateway's answers."""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from workbench.emulator.api_server import TokenBucket, admit
from workbench.emulator.authorizer import LocalAuthorizers
from workbench.emulator.payloads import GatewayRequest
from workbench.emulator.routes import api_routes
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication
from workbench.emulator.testing import running_start_api, serving, signed_in_token
from workbench.scenarios.traffic import random_order

pytestmark = pytest.mark.integration
ORDER = json.dumps(random_order(random.Random(7))).encode()  # SKUs of the demo catalog


def token() -> str:
    return signed_in_token("c-http")


def signed_in() -> dict[str, str]:
    return {"Authorization": f"Bearer {token()}"}


@pytest.fixture(scope="module")
def port(service: LocalService) -> Iterator[int]:
    with serving(service, idle_timeout_s=1) as api_port:
        yield api_port


def exchange(port: int, *requests: bytes, half_close: bool = False, wait_s: float = 5) -> bytes:
    """Send raw bytes on one connection; everything the server answers until it closes or goes quiet."""
    return conversation(port, *requests, half_close=half_close, wait_s=wait_s)[0]


def conversation(port: int, *requests: bytes, half_close: bool = False, wait_s: float = 5) -> tuple[bytes, bool]:
    """exchange(), and whether the server ended it (closed) rather than our read timing out."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as connection:
        for request in requests:
            connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:  # quiet: the server kept the connection open
            return received, False
        except ConnectionResetError:  # closed by the server with bytes unread
            pass
        return received, True


def post(body: bytes, *extra: str, content_length: str | None = None) -> bytes:
    length = content_length if content_length is not None else str(len(body))
    head = ["POST /orders HTTP/1.1", "Host: local", "Content-Type: application/json", f"Content-Length: {length}"]
    head.append(f"Authorization: Bearer {token()}")
    return ("\r\n".join([*head, *extra]) + "\r\n\r\n").encode() + body


def get(path: str, *extra: str) -> bytes:
    head = [f"GET {path} HTTP/1.1", "Host: local", f"Authorization: Bearer {token()}"]
    return ("\r\n".join([*head, *extra]) + "\r\n\r\n").encode()


def statuses(raw: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]  # a body has no line end before the next


def queued(service: LocalService) -> int:
    attributes = service.cloud.client("sqs").get_queue_attributes(
        QueueUrl=service.queue_url("OrdersQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_requests_on_one_kept_alive_connection_are_each_answered(port: int):
    # GIVEN three requests on one kept-alive connection, THEN each is answered in order
    raw = exchange(port, get("/orders/a"), post(ORDER), get("/orders/b", "Connection: close"))
    assert statuses(raw) == [404, 202, 404]


def test_an_unread_body_never_becomes_the_next_request(port: int):
    # GIVEN a body sent to a route that does not exist, then a request on the same connection
    smuggled = get("/orders/smuggled")
    raw = exchange(
        port, post(smuggled).replace(b"POST /orders ", b"POST /nowhere "), get("/orders/x", "Connection: close")
    )
    # THEN two answers: API Gateway's 404 for the route, the function's 404 for the order
    assert statuses(raw) == [404, 404]
    assert b'{"message": "Not Found"}' in raw or b'{"message":"Not Found"}' in raw
    assert b"smuggled" not in raw


def test_a_chunked_body_is_read_whole(port: int):
    # GIVEN an order sent chunked, THEN it is read whole and accepted
    chunked = f"{len(ORDER):x}\r\n".encode() + ORDER + b"\r\n0\r\n\r\n"
    head = "POST /orders HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    head += f"Authorization: Bearer {token()}\r\n"
    raw = exchange(port, head.encode() + b"Connection: close\r\n\r\n" + chunked)
    assert statuses(raw) == [202]


def test_head_gets_no_body_and_the_connection_stays_in_step(port: int):
    # GIVEN a HEAD then a GET on one connection, THEN HEAD gets no body and the GET its own answer
    head = f"HEAD /orders/x HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer {token()}\r\n\r\n".encode()
    raw = exchange(port, head, get("/orders/y", "Connection: close"))
    assert statuses(raw) == [404, 404]  # HEAD is not a declared method: API Gateway's 404; then the GET
    _, _, rest = raw.partition(b"\r\n\r\n")
    assert rest.startswith(b"HTTP/1.1 404"), "the HEAD response carried a body"


def test_a_truncated_body_is_never_accepted(service: LocalService, port: int):
    # GIVEN a body shorter than its Content-Length, THEN it is never accepted and nothing is queued
    before = queued(service)
    raw = exchange(port, post(ORDER[:-10], "Connection: close", content_length=str(len(ORDER))), half_close=True)
    assert 202 not in statuses(raw)
    assert queued(service) == before


@pytest.mark.parametrize("length", ["abc", "-1", "1, 2"])
def test_a_bad_content_length_is_a_400_and_the_connection_closes(port: int, length: str):
    # GIVEN a Content-Length that cannot be right, THEN a 400 (not HTML), and the server closes the connection
    raw, closed = conversation(port, post(ORDER, content_length=length), wait_s=10)
    assert statuses(raw) == [400]
    assert b"<html" not in raw.lower()
    assert closed  # by the server, not by our read timeout


def test_a_client_that_never_finishes_its_headers_is_dropped(port: int):
    # GIVEN a client that never finishes its headers, THEN the server drops it at its idle timeout
    raw, closed = conversation(port, b"GET /orders/x HTTP/1.1\r\nHost: loc", wait_s=10)
    assert raw == b"" or 400 <= statuses(raw)[0] < 500
    assert closed  # by the server's idle timeout (1 s here, 30 s by default), before our 10 s read timeout


def test_path_parameters_are_percent_decoded_and_checked_decoded(port: int):
    # GIVEN encoded path parameters, THEN the function gets them decoded and checks their decoded length
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/orders/%41", headers=signed_in())
    answer = json.loads(connection.getresponse().read())
    assert answer["message"] == "order A not found"
    eleven = "%C3%A9" * 11  # 11 "é": 66 characters encoded, 11 decoded
    connection.request("GET", f"/orders/{eleven}", headers=signed_in())
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["message"]) == (404, f"order {'é' * 11} not found")


def test_over_ten_mb_is_api_gateways_413_in_its_shape(port: int):
    # GIVEN a body over API Gateway's 10 MB, THEN its 413, in its shape
    raw = exchange(port, post(b"x" * (10 * 1024 * 1024 + 1), "Connection: close"), wait_s=30)
    assert statuses(raw) == [413]
    assert raw.endswith(b'{"message": "Request Entity Too Large"}')


NAMES = ("Host", "Authorization", "Connection")


def test_a_request_line_and_headers_over_10240_bytes_get_a_431_before_the_authorizer(service: LocalService, port: int):
    # GIVEN two GETs whose request line and header values are just within and just over the HTTP API quota
    ran_before = len(service.pool("ApiFunction").invocations)
    values = ["local", f"Bearer {token()}", "close"]

    def padded_to(total: int) -> bytes:
        pad = total - len(b"GET /orders/x HTTP/1.1") - sum(len(value.encode()) for value in values)
        head = ["GET /orders/x HTTP/1.1", *(f"{name}: {value}" for name, value in zip(NAMES, values, strict=True))]
        return ("\r\n".join([*head, f"X-Pad: {'p' * pad}"]) + "\r\n\r\n").encode()

    within, over = padded_to(10_240), padded_to(10_241)

    # WHEN each is sent, THEN the one within reaches the function (404: no such order), the other is refused
    assert statuses(exchange(port, within)) == [404]
    raw = exchange(port, over)
    assert statuses(raw) == [431]
    assert raw.endswith(b'{"message": "Request Header Fields Too Large"}')
    assert len(service.pool("ApiFunction").invocations) == ran_before + 1


def test_a_body_within_api_gateways_10_mb_but_over_lambdas_6_mb_is_a_500_and_the_function_never_runs(
    service: LocalService, port: int
):
    # GIVEN a body API Gateway takes but over Lambda's 6 MB, THEN a 500 and the function never runs
    ran_before = len(service.pool("ApiFunction").invocations)
    raw = exchange(port, post(b"x" * (7 * 1024 * 1024), "Connection: close"), wait_s=30)
    assert statuses(raw) == [500]
    assert raw.endswith(b'{"message": "Internal Server Error"}')
    assert len(service.pool("ApiFunction").invocations) == ran_before


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "application/json; charset=UTF-8"])
def test_json_in_any_spelling_is_accepted(port: int, content_type: str):
    # GIVEN JSON's media type in another spelling, THEN the order is accepted
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/orders", ORDER, {"Content-Type": content_type} | signed_in())
    assert connection.getresponse().status == 202


def _cli_token(*args: str) -> str:
    command = [sys.executable, "-m", "workbench", "token", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout.strip()  # noqa: S603


def test_start_api_authorizes_and_runs_the_queues_mapping_so_only_the_customer_reads_the_order():
    # GIVEN `start-api`, as a user runs it, and tokens printed by `workbench token`
    writer = {"Authorization": f"Bearer {_cli_token('--sub', 'c-1', '--scope', 'orders/write')}"}
    reader = {"Authorization": f"Bearer {_cli_token('--sub', 'c-1', '--scope', 'orders/read')}"}
    stranger = {"Authorization": f"Bearer {_cli_token('--sub', 'c-2')}"}  # every scope, another customer
    with running_start_api() as api_port:
        connection = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
        # WHEN an order is posted without a token, THEN API Gateway's 401
        connection.request("POST", "/orders", ORDER, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (401, {"message": "Unauthorized"})

        # WHEN c-1 posts it with its token, THEN 202
        connection.request("POST", "/orders", ORDER, {"Content-Type": "application/json"} | writer)
        response = connection.getresponse()
        assert response.status == 202
        order_id = json.loads(response.read())["order_id"]

        # THEN the consumer stores it behind the API, and c-1's GET finds it
        deadline, status = time.monotonic() + 30, 404
        while status == 404 and time.monotonic() < deadline:
            connection.request("GET", f"/orders/{order_id}", headers=reader)
            response = connection.getresponse()
            status = response.status
            response.read()
            time.sleep(0.2)
        assert status == 200
        # AND c-2 is told it does not exist
        connection.request("GET", f"/orders/{order_id}", headers=stranger)
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["message"]) == (404, f"order {order_id} not found")


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": ' + b"9" * 5000 + b"}]}",
        b"[" * 10_000 + b"]" * 10_000,
        b'{"items": [], "items": []}',
        b'{"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": NaN}]}',
        b'{"items": [{"sku": "\xff\xfe", "quantity": 1}]}',
        b"\xef\xbb\xbf{}",
    ],
    ids=["huge-number", "deep-nesting", "duplicate-key", "nan", "not-utf8", "bom"],
)
def test_hostile_bodies_over_the_socket_get_a_json_400(port: int, body: bytes):
    # GIVEN a hostile body over a real socket, THEN a JSON 400, never a 5xx
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/orders", body, {"Content-Type": "application/json"} | signed_in())
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 400
    assert answer["message"] == "the request is not valid"
    assert answer["errors"][0]["field"].startswith("body")


# ---------------------------------------------------------------- route throttling, as the stage declares it


def test_a_route_takes_its_burst_then_refills_at_its_rate():
    # GIVEN a route's token bucket, WHEN a burst comes, THEN it takes its burst, refuses the rest, refills at its rate
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])  # the test owns the clock: no timing
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back at 2 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3
    assert bucket.throttled == 1 + 1 + 7


def test_over_its_limit_a_route_answers_api_gateways_429_before_the_authorizer_and_the_function():
    # GIVEN the template's routes with a throttle of one request and no refill (its parameters, as a team sets them)
    app = SamApplication(parameter_overrides={"ApiThrottlingRateLimit": "0", "ApiThrottlingBurstLimit": "1"})
    routes = api_routes(app)
    assert {route.throttle for route in routes} == {(0.0, 1)}
    authorizers = LocalAuthorizers.of_template(app)
    throttles = {route.route_key: TokenBucket(*route.throttle) for route in routes if route.throttle}

    # WHEN two requests without a token reach POST /orders
    first = admit(routes, authorizers, GatewayRequest("POST", "/orders", {}), throttles)
    second = admit(routes, authorizers, GatewayRequest("POST", "/orders", {}), throttles)

    # THEN the first is the authorizer's 401, the second the throttle's 429, which the authorizer never saw
    assert isinstance(first, tuple)
    assert first[0] == 401
    assert isinstance(second, tuple)
    assert (second[0], json.loads(second[2])) == (429, {"message": "Too Many Requests"})
    assert authorizers.refused_total == 1
    # … and the other route has a bucket of its own
    assert admit(routes, authorizers, GatewayRequest("GET", "/orders/x", {}), throttles)[0] == 401  # type: ignore[index]


def test_the_stage_limits_are_the_templates_parameters():
    # GIVEN the template's throttling parameters, THEN the local stage's limits are theirs
    routes = api_routes(SamApplication())
    assert {route.throttle for route in routes} == {(100.0, 200)}
