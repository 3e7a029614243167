"""One Logger, Tracer and Metrics per execution environment, shared by every module.

Service name, metrics namespace and log level come from POWERTOOLS_* environment variables.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

from orders.tracing import powertools_provider

logger = Logger()
# OpenTelemetry spans over UDP (orders/tracing/), not the X-Ray SDK: Powertools imports that SDK only
# when no provider is given. disabled=False: the provider itself records nothing when tracing is off.
tracer = Tracer(provider=powertools_provider(), auto_patch=False, disabled=False)
metrics = Metrics()
