"""Logs through the standard library at two levels, and answers with what the runtime told it."""

import logging
import os

logger = logging.getLogger("app")


def handler(event, context):
    logger.info("informed")
    logger.warning("warned")
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    return {
        name: os.environ.get(name)
        for name in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_GROUP_NAME")
    }
