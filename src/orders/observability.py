"""One Logger, Tracer and Metrics per execution environment, shared by every module.

Service name, metrics namespace and log level come from POWERTOOLS_* environment variables.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Tracer imports the X-Ray SDK: the largest single init cost we pay (see the optimization lab).
tracer = Tracer()
metrics = Metrics()
