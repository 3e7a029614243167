"""An authorizer that decides by the credential it is given, and a function that says what it was told."""

import json
import time


def _policy(effect, resource, principal="u-1"):
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"user": principal, "n": 7},
    }


def decide(event, context):
    if event["type"] == "TOKEN":
        credential = event["authorizationToken"].removeprefix("Bearer ")
    else:
        headers = event.get("headers") or {}
        credential = headers.get("x-key") or headers.get("authorization") or ""
    if event.get("version") == "2.0":  # HTTP API, simple responses
        return {"isAuthorized": credential == "allow", "context": {"user": "u-2"}}
    arn = event.get("methodArn") or event["routeArn"]
    if credential == "slow":
        time.sleep(3)  # past its 1 s timeout
    if credential == "fail":
        raise Exception("Unauthorized")  # the docs' way to refuse from a REST authorizer
    if credential == "broken":
        return "not a policy"
    if credential == "deny":
        return _policy("Deny", arn)
    if credential == "elsewhere":
        return _policy("Allow", arn.rsplit("/", 2)[0] + "/POST/other")
    return _policy("Allow", arn) if credential == "allow" else _policy("Deny", "*")


def protected(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
