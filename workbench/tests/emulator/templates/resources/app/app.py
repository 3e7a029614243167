"""Uses the bucket, the topic and the parameter; says what each call answered (AccessDenied included)."""

import os

import boto3
from botocore.exceptions import ClientError


def _outcome(call):
    try:
        return call()
    except ClientError as error:
        return error.response["Error"]["Code"]


def handler(event, context):
    s3, sns, ssm = boto3.client("s3"), boto3.client("sns"), boto3.client("ssm")
    bucket = os.environ["BUCKET"]
    return {
        "put": _outcome(lambda: s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello") and "ok"),
        "get": _outcome(lambda: s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read().decode()),
        "delete_bucket": _outcome(lambda: s3.delete_bucket(Bucket=bucket) and "ok"),
        "publish": _outcome(lambda: sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message="hi") and "ok"),
        "parameter": _outcome(lambda: ssm.get_parameter(Name=os.environ["PARAMETER"])["Parameter"]["Value"]),
    }
