"""An API's access log: one line per request in the template's `AccessLogSettings.Format`, written to the log
group its `DestinationArn` names (LocalService's log_dir keeps a file per group).

The `$context` variables a request here has are filled: requestId, identity.sourceIp, requestTime(Epoch),
httpMethod, path, protocol, routeKey, stage, status, responseLength, responseLatency, integrationLatency,
integrationErrorMessage. Any other is "-" and said once ("Customizing HTTP API access logs", API Gateway
Developer Guide, lists them all).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from workbench.emulator.environment import say_once

_VARIABLE = re.compile(r"\$context\.([A-Za-z][A-Za-z.]*[A-Za-z])")


@dataclass(frozen=True)
class AccessRecord:
    """What API Gateway knows of one request once it has answered."""

    request_id: str
    source_ip: str
    received: dt.datetime
    method: str
    path: str
    route_key: str  # "-" when no route took it
    stage: str
    status: int
    response_length: int
    response_latency_ms: int
    integration_latency_ms: int | None  # None: no integration ran (refused, throttled, no route)
    integration_error: str = ""

    def variables(self) -> dict[str, str]:
        return {
            "requestId": self.request_id,
            "extendedRequestId": self.request_id,
            "identity.sourceIp": self.source_ip,
            "requestTime": self.received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": str(int(self.received.timestamp() * 1000)),
            "httpMethod": self.method,
            "path": self.path,
            "protocol": "HTTP/1.1",
            "routeKey": self.route_key,
            "stage": self.stage,
            "status": str(self.status),
            "responseLength": str(self.response_length),
            "responseLatency": str(self.response_latency_ms),
            "integrationLatency": "-" if self.integration_latency_ms is None else str(self.integration_latency_ms),
            "integrationErrorMessage": self.integration_error or "-",
        }


def access_line(log_format: str, record: AccessRecord) -> str:
    """The format with each `$context` variable replaced; one API Gateway has that this run does not: "-"."""
    known = record.variables()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in known:
            say_once(f"access log: $context.{name} is not emulated; its value is written as -")
        return known.get(name, "-")

    return _VARIABLE.sub(value, log_format)
