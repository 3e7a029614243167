"""This lab's bench step: boto3 clients built once per environment against one per invocation (lab 01)."""

from __future__ import annotations

from workbench.measure.bench import Bench, Comparison


def client_reuse(bench: Bench) -> Comparison:
    return bench.twins(
        Comparison("client reuse", "module-scope client", "client per invocation", "ms/invocation"),
        ("client_reuse.reused", "client_reuse.per_invocation"),
        "clients built per 100 invocations",
        lambda run: int(run()[-1].payload["clients_built"]),  # the worker's own create_client count
    )


STEPS = (client_reuse,)
