"""Says which records it received; the first record's "answer", if it has one, is its whole response."""

import json


def handler(event, context):
    bodies = [json.loads(record["body"]) for record in event["Records"]]
    if "answer" in bodies[0]:
        return bodies[0]["answer"]
    return {"batchItemFailures": [], "received": [body["n"] for body in bodies]}
