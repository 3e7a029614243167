"""Pattern 5 — the cold-start floor: a handler that only imports boto3 and builds one client."""

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    return {}
