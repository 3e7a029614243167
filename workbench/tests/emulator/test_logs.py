"""Logs where CloudWatch keeps them: a file per log group with `log_dir` — each function's (its LoggingConfig's
group, or Lambda's default) and the HTTP API's access log, in the template's AccessLogSettings format."""

from __future__ import annotations

import http.client
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.emulator.access_log import AccessRecord, access_line
from workbench.emulator.service import LocalService, log_group_of
from workbench.emulator.template import DEFAULT_TEMPLATE, SamApplication
from workbench.emulator.testing import serving, signed_in_token
from workbench.scenarios.traffic import random_order

ORDER = json.dumps(random_order(random.Random(7))).encode()


def request(port: int, method: str, path: str, body: bytes = b"", token: str | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
    connection.request(method, path, body, headers)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The service after an accepted POST, a refused one (no token) and a request no route takes."""
    logs = tmp_path_factory.mktemp("logs")
    with LocalService(log_dir=logs) as service:
        service.prepare_database()
        with serving(service) as port:
            assert request(port, "POST", "/orders", ORDER, signed_in_token("c-logs")) == 202
            assert request(port, "POST", "/orders", ORDER) == 401
            assert request(port, "GET", "/nowhere") == 404
    return logs


@pytest.mark.integration
def test_each_request_has_its_access_log_line_in_the_templates_format(logged: Path):
    lines = [json.loads(line) for line in (logged / "ApiAccessLogGroup.log").read_text().splitlines()]
    assert [(line["route"], line["status"]) for line in lines] == [
        ("POST /orders", "202"),
        ("POST /orders", "401"),
        ("-", "404"),
    ]
    accepted = lines[0]
    assert int(accepted["latencyMs"]) >= int(accepted["integrationMs"]) >= 0
    assert lines[1]["integrationMs"] == "-"  # the authorizer refused it: no integration ran


@pytest.mark.integration
def test_a_function_logs_to_the_group_its_logging_config_names(logged: Path):
    group = log_group_of(SamApplication(DEFAULT_TEMPLATE).cloudformation, "ApiFunction")
    records = [json.loads(line) for line in (logged / f"{group}.log").read_text().splitlines() if line.startswith("{")]
    assert group == "ApiFunctionLogGroup"
    assert any(record.get("type") == "platform.report" for record in records)
    assert not any(record.get("message") == "request refused" for record in records)  # the 401 never reached it


def test_a_context_variable_the_run_cannot_fill_is_a_dash_and_said(capsys: pytest.CaptureFixture[str]):
    import datetime as dt

    record = AccessRecord(
        "r1",
        "10.0.0.1",
        dt.datetime(2026, 12, 6, 16, 0, tzinfo=dt.UTC),
        "GET",
        "/x",
        "GET /x",
        "$default",
        200,
        2,
        5,
        3,
    )
    line = access_line(
        '{"ip":"$context.identity.sourceIp","t":"$context.requestTime","ua":"$context.identity.userAgent"}', record
    )
    assert json.loads(line) == {"ip": "10.0.0.1", "t": "06/Dec/2026:16:00:00 +0000", "ua": "-"}
    assert "$context.identity.userAgent is not emulated" in capsys.readouterr().err
