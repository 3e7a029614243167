"""The API contract is committed (docs/openapi.json): a change to it shows in review, never by surprise."""

from __future__ import annotations

import json

from tools import openapi


def test_the_committed_contract_is_what_the_code_generates():
    # WHEN the resolver's document differs from the committed one, THEN `make openapi` and review the diff
    assert openapi.main(["openapi", "--check"]) == 0, "docs/openapi.json is stale: run `make openapi`"


def test_the_committed_contract_is_an_openapi_document_of_both_routes():
    # GIVEN the committed contract, THEN it is an OpenAPI 3.1 document of both routes
    document = json.loads(openapi.CONTRACT.read_text())
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/orders", "/orders/{order_id}"}
