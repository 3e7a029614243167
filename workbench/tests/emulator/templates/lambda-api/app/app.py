"""echo: answers with its event (failing when asked to); context_of: with its client context; call: invokes
$TARGET through the SDK."""

import json
import os

import boto3
from botocore.exceptions import ClientError


def echo(event, context):
    print(f"echo got {json.dumps(event)}")
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    return event


def context_of(event, context):
    """What the caller's client context became."""
    client = context.client_context
    if client is None:
        return None
    return {"app_title": client.client.app_title, "custom": client.custom, "env": client.env}


def call(event, context):
    client = boto3.client("lambda")
    try:
        response = client.invoke(FunctionName=os.environ["TARGET"], Payload=json.dumps(event).encode())
    except ClientError as error:
        return {"refused": error.response["Error"]["Code"]}
    return {"status": response["StatusCode"], "answer": json.loads(response["Payload"].read())}
