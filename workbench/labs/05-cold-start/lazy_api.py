"""The naive twin of ApiFunction's INIT priming: the same function with nothing built before the first call.

Clients, the secrets provider and the idempotency layer are then built on first use, inside the
first invocation, where Lambda gives the function only MemorySize's share of a vCPU.
"""

from orders.adapters import aws_clients

aws_clients.prime = lambda *builders: None  # the only difference: no priming

from orders.handlers import api  # noqa: E402 - after the patch, on purpose


def handler(event, context):
    return api.handler(event, context)
