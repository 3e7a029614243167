"""`make openapi`: the API's contract, generated from the Powertools resolver, into docs/openapi.json.

The file is committed so a change to the contract shows in review; `--check` (run by the test
suite, tests/unit/test_contract.py) fails when the code and the committed document differ.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def _with_placeholder_settings() -> None:
    """The handler module reads its settings at import; the contract depends on none of their values."""
    from orders.config import ApiSettings

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    for field in ApiSettings.model_fields.values():
        if field.is_required() and field.alias:
            os.environ.setdefault(field.alias, "placeholder")


def openapi_document() -> dict[str, Any]:
    """The API's contract: Powertools' document without the 422 it adds to every validated route.

    Request validation errors are this API's 400 (the handler's invalid_request); a 422 stays only where
    a route documents its own (POST: orders that cannot be priced).
    """
    _with_placeholder_settings()
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from orders.handlers import api

    bearer = HTTPBearer(
        bearerFormat="JWT", description="An access token of the API's issuer (template.yaml, OrdersJwt)"
    )
    document: dict[str, Any] = json.loads(
        api.app.get_openapi_json_schema(title="Orders API", version="1.0.0", security_schemes={api.JWT_SCHEME: bearer})
    )
    for operation in (op for operations in document["paths"].values() for op in operations.values()):
        if operation["responses"].get("422", {}).get("description") == "Validation Error":
            del operation["responses"]["422"]
    schemas = document.get("components", {}).get("schemas", {})
    unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in json.dumps(document)]
    while unused:  # what only those 422s referred to, and what only that referred to
        for name in unused:
            del schemas[name]
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in json.dumps(document)]
    return document


def generated() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    document = generated()
    if argv[1:] == ["--check"]:
        committed = CONTRACT.read_text() if CONTRACT.exists() else ""
        if committed == document:
            return 0
        diff = difflib.unified_diff(committed.splitlines(), document.splitlines(), "committed", "code", lineterm="")
        print("\n".join(list(diff)[:80]), file=sys.stderr)
        print(f"{CONTRACT.name} is stale: run `make openapi` and review the contract change", file=sys.stderr)
        return 1
    if argv[1:]:
        print("usage: python tools/openapi.py [--check]", file=sys.stderr)
        return 2
    CONTRACT.write_text(document)
    print(f"wrote {CONTRACT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
