"""The "before" of src/orders/tracing: the same function, traced by the X-Ray SDK through Powertools'
default provider, as `Tracer()` did. Runs with the lab's X-Ray layer (aws-xray-sdk + wrapt), which
the deployable layer no longer carries. TWIN_HANDLER names the real handler, e.g.
orders.handlers.api.handler.
"""

import importlib
import os

from aws_lambda_powertools import Tracer

from orders import tracing

tracing.powertools_provider = lambda: None  # type: ignore[assignment,return-value]  # Powertools falls back to the X-Ray SDK
Tracer()  # as before: imports the X-Ray SDK and patches botocore (and every other library it knows)

_module, _, _name = os.environ["TWIN_HANDLER"].rpartition(".")
handler = getattr(importlib.import_module(_module), _name)
