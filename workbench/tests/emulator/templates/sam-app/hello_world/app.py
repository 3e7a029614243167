"""The starter's handler, in the shape `sam init` generates it: a REST API (payload 1.0) response."""

import json


def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"message": "hello world"})}
