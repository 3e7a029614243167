"""The slower job: the same Schemathesis run against the local start-api over real HTTP, with the
functions in worker processes. Deselected by default; `pytest -m slow` (CI with FULL=1) runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from local_runner.api_server import make_server
from local_runner.service import LocalService
from schemathesis.checks import positive_data_acceptance, unsupported_method

from orders.handlers import api

schema = schemathesis.openapi.from_dict(api.openapi_document())


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with LocalService(parameter_overrides={"DatabaseName": "orders_fuzz_http"}) as service:
        service.prepare_database()
        server = make_server(service, "127.0.0.1", 0, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()


@pytest.mark.slow
@pytest.mark.integration
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_over_http_gets_a_server_error(case, base_url):
    response = case.call(base_url=base_url)
    assert response.status_code < 500, response.text
    # Same exclusions as in-process: API Gateway routes methods; catalog misses are documented 422s.
    case.validate_response(response, excluded_checks=[unsupported_method, positive_data_acceptance])
