"""Answers by path: /fail raises, /plain returns a bare dict, anything else echoes the event it got."""

import json


def handler(event, context):
    path = event["rawPath"]
    if path == "/fail":
        raise RuntimeError("asked to fail")
    if path == "/plain":
        return {"hello": "world"}
    return {
        "statusCode": 201,
        "headers": {"x-request-kind": "echo", "access-control-allow-origin": "https://elsewhere.example.com"},
        "cookies": ["seen=1; Path=/"],
        "body": json.dumps(event),
    }
