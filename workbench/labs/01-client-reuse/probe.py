"""Counts boto3 clients built in this execution environment (lab instrumentation, not a pattern)."""

import botocore.session

clients_built = 0
_create_client = botocore.session.Session.create_client


def _counting_create_client(self, *args, **kwargs):
    global clients_built
    clients_built += 1
    return _create_client(self, *args, **kwargs)


botocore.session.Session.create_client = _counting_create_client  # type: ignore[method-assign]
