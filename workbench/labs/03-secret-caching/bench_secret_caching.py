"""This lab's bench step: The secret cached with a TTL against GetSecretValue per invocation (lab 03)."""

from __future__ import annotations

from workbench.measure.bench import Bench, Comparison


def secret_caching(bench: Bench) -> Comparison:
    return bench.twins(
        Comparison("secret caching", "cached with TTL", "GetSecretValue per invocation", "ms/invocation"),
        ("secret_caching.cached", "secret_caching.per_invocation"),
        "GetSecretValue calls per 100 invocations (within one TTL)",
        bench.delta(lambda: bench.aws_calls("secretsmanager.GetSecretValue")),
    )


STEPS = (secret_caching,)
