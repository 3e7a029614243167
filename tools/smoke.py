"""After a deploy (the pipeline's last step): is the deployed stack alive, and is its API guarded?

    python tools/smoke.py <stack-name>

1. The schema migration runs (it must after each deploy): MySQL through RDS Proxy, the master secret.
2. The API without a token: API Gateway's 401 — the JWT authorizer is on. With the machine client
   (MachineClient=true): a real token from Cognito's token endpoint (client credentials, orders/read)
   gets past the authorizer — GET of an unknown order answers the function's 404.
3. ApiFunction invoked with the events/ files (claims as the authorizer passes them): GET answers 404
   (DynamoDB reachable, its role allows it), POST answers 202 or, while the catalog is empty, 422
   (MySQL through the proxy with the app user, then SQS).
Exit 0 when all hold, 1 naming what did not, 2 on bad arguments.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import boto3

EVENTS = Path(__file__).resolve().parents[1] / "events"


def _invoke(lambda_client: Any, function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    if "FunctionError" in response:
        raise RuntimeError(f"{function} failed: {payload.get('errorMessage')}")
    return payload


def _get_status(api_url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{api_url}/orders/smoke-test", headers=headers)  # noqa: S310 - https
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - https
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def machine_token(token_url: str, client_id: str, client_secret: str, scope: str = "orders/read") -> str:
    """An access token by the client credentials grant (RFC 6749 §4.4), as a machine caller gets one."""
    credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - https
        token_url,
        data=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode(),
        headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - https
        return str(json.loads(response.read())["access_token"])


def smoke(stack: str) -> list[str]:
    cloudformation, lambda_client = boto3.client("cloudformation"), boto3.client("lambda")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    api_function = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="ApiFunction")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    problems = []
    _invoke(lambda_client, outputs["SchemaMigrationFunctionName"], {})
    if (status := _get_status(outputs["ApiUrl"])) != 401:
        problems.append(f"GET without a token answered {status}, not API Gateway's 401: is the authorizer on?")
    if "MachineClientSecretName" in outputs:
        secret = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=outputs["MachineClientSecretName"])["SecretString"]
        )
        try:
            token = machine_token(outputs["TokenUrl"], secret["client_id"], secret["client_secret"])
        except urllib.error.HTTPError as error:
            problems.append(f"Cognito's token endpoint refused the machine client: {error.code} {error.read()!r}")
        else:
            if (status := _get_status(outputs["ApiUrl"], token)) != 404:
                problems.append(f"GET with a Cognito token (orders/read) answered {status}, not the function's 404")
    else:
        print("smoke test: no machine client (MachineClient=false): no real token tried", file=sys.stderr)
    get = _invoke(lambda_client, api_function, json.loads((EVENTS / "api_get_order.json").read_text()))
    if get.get("statusCode") != 404:
        problems.append(f"GET of an unknown order answered {get.get('statusCode')}, not 404: {get.get('body')}")
    post = _invoke(lambda_client, api_function, json.loads((EVENTS / "api_post_order.json").read_text()))
    if post.get("statusCode") not in {202, 422}:
        problems.append(f"POST answered {post.get('statusCode')}, not 202 (or 422, empty catalog): {post.get('body')}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].strip():
        print("usage: python tools/smoke.py <stack-name>", file=sys.stderr)
        return 2
    problems = smoke(argv[1])
    for problem in problems:
        print(f"smoke test: {problem}", file=sys.stderr)
    print("smoke test: passed" if not problems else "smoke test: FAILED", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
