"""echo: answers with its event (failing when asked to); call: invokes $TARGET through the SDK."""

import json
import os

import boto3
from botocore.exceptions import ClientError


def echo(event, context):
    print(f"echo got {json.dumps(event)}")
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    return event


def call(event, context):
    client = boto3.client("lambda")
    try:
        response = client.invoke(FunctionName=os.environ["TARGET"], Payload=json.dumps(event).encode())
    except ClientError as error:
        return {"refused": error.response["Error"]["Code"]}
    return {"status": response["StatusCode"], "answer": json.loads(response["Payload"].read())}
