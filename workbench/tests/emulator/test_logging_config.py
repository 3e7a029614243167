"""Logs as Lambda writes them, from each function's LoggingConfig (templates/logging-config/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "logging-config"


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalService, Path]]:
    folder = application_copy(APPLICATION, tmp_path_factory.mktemp("logging"))
    log_path = folder / "functions.log"
    with log_path.open("a") as sink, LocalService(template=folder / "template.yaml", log_sink=sink) as service:
        yield service, log_path


def stream_of(logged: tuple[LocalService, Path], function: str, event: dict[str, Any]) -> tuple[Any, list[str]]:
    """Invoke; the response and the log lines of this invocation (the functions share one log file here)."""
    service, log_path = logged
    before = len(log_path.read_text().splitlines())
    invocation = service.pool(function).invoke(event)
    return invocation, log_path.read_text().splitlines()[before:]


def test_text_logs_have_start_end_and_report_around_the_runtimes_lines(logged: tuple[LocalService, Path]):
    # WHEN the function without a LoggingConfig runs
    invocation, lines = stream_of(logged, "TextFunction", {})

    # THEN its stream is Lambda's plain text: START, the runtime's tab-separated WARNING line (INFO is below the
    # root logger's default level), END and REPORT
    request_id = invocation.request_id
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    level, _stamp, logged_id, message = lines[1].split("\t")
    assert (level, logged_id, message) == ("[WARNING]", request_id, "warned")
    assert lines[2] == f"END RequestId: {request_id}"
    assert lines[3].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert len(lines) == 4
    assert invocation.payload == {
        "AWS_LAMBDA_LOG_FORMAT": "Text",
        "AWS_LAMBDA_LOG_LEVEL": None,
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/TextFunction",
    }


def test_json_logs_are_records_filtered_at_the_application_level(logged: tuple[LocalService, Path]):
    # WHEN the JSON function (application level WARN, system level INFO, its own log group) runs and fails
    invocation, lines = stream_of(logged, "JsonFunction", {"fail": True})
    records = [json.loads(line) for line in lines]

    # THEN every line is a JSON record: the platform's start, the WARNING record (not the INFO one), the
    # runtime's record of the error, the platform's runtimeDone and report with its metrics
    request_id = invocation.request_id
    assert [r.get("type", r.get("level")) for r in records] == [
        "platform.start",
        "WARNING",
        "ERROR",
        "platform.runtimeDone",
        "platform.report",
    ]
    assert records[0]["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert (records[1]["message"], records[1]["logger"], records[1]["requestId"]) == ("warned", "app", request_id)
    assert (records[2]["errorType"], records[2]["errorMessage"]) == ("RuntimeError", "failed on purpose")
    assert records[3]["record"]["status"] == "error"
    metrics = records[4]["record"]["metrics"]
    assert metrics["memorySizeMB"] == 128
    assert metrics["billedDurationMs"] >= 1
    assert "initDurationMs" in metrics  # its first invocation: a cold start


def test_the_runtime_is_told_the_format_the_level_and_the_log_group(logged: tuple[LocalService, Path]):
    invocation, _ = stream_of(logged, "JsonFunction", {})
    assert invocation.payload == {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/json-function",
    }


def test_system_logs_at_warn_keep_no_platform_record(logged: tuple[LocalService, Path]):
    # WHEN the function whose SystemLogLevel is WARN runs
    _, lines = stream_of(logged, "QuietFunction", {})

    # THEN only its application record is there (application level INFO by default with JSON: both records)
    assert [json.loads(line)["message"] for line in lines] == ["informed", "warned"]
