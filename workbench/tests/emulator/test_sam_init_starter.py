"""Any SAM template, not only this one: SAM CLI's python3.13 hello-world starter, as `sam init` generates it.

`templates/sam-app/` is the starter's template unchanged (architecture x86_64), a handler of the same
shape, and an event from `sam local generate-event apigateway aws-proxy`. It declares no database,
no queue and no table: the runner starts no MySQL, runs no migration, and serves its REST API.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from workbench.emulator.service import LocalService, NoDatabaseError
from workbench.emulator.testing import application_copy, run_workbench, running_start_api

pytestmark = pytest.mark.integration
STARTER = Path(__file__).parent / "templates" / "sam-app"


@pytest.fixture(scope="module")
def sam_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return application_copy(STARTER, tmp_path_factory.mktemp("starter"))


def test_invoke_answers_the_starters_event_with_its_body(sam_app: Path):
    # WHEN the starter's function is invoked with its event, in its folder, as `sam local invoke` would be
    result = run_workbench(sam_app, "invoke", "HelloWorldFunction", "-e", "events/event.json")

    # THEN it answers 200 with the starter's body, and no MySQL was started for a template without a database
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"message": "hello world"})
    assert "no database: template.yaml declares no RDS resource" in result.stderr
    assert "MySQL at" not in result.stderr


def test_start_api_serves_get_hello_on_the_implicit_rest_api(sam_app: Path):
    # GIVEN start-api in the starter's folder
    with running_start_api(sam_app, database_expected=False) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        # WHEN GET /hello arrives, THEN the function's 200 and body, typed as a REST API types it
        connection.request("GET", "/hello")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"message": "hello world"})
        assert response.getheader("content-type") == "application/json"

        # … and a method the resource lacks is the REST API's own 403
        connection.request("POST", "/hello", body=b"{}")
        refused = connection.getresponse()
        assert (refused.status, json.loads(refused.read())) == (403, {"message": "Missing Authentication Token"})


def test_a_run_without_a_database_says_why_when_one_is_asked_for(sam_app: Path):
    with LocalService(template=sam_app / "template.yaml") as service:
        assert service.describe_database().startswith("no database: template.yaml declares no RDS resource")
        with pytest.raises(NoDatabaseError, match="this run has no database"):
            _ = service.database
