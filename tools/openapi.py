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

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
# The handler module reads its settings at import; the contract depends on none of them.
_PLACEHOLDER_SETTINGS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "ORDERS_TABLE_NAME": "orders",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "ORDERS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
    "DB_HOST": "proxy.invalid",
    "DB_NAME": "orders",
    "DB_SECRET_ID": "orders/db",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def generated() -> str:
    for key, value in _PLACEHOLDER_SETTINGS.items():
        os.environ.setdefault(key, value)
    from orders.handlers import api

    return json.dumps(api.openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


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
