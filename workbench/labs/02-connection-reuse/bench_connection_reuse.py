"""This lab's bench step: One MySQL connection per environment against one per invocation, counted at the proxy
(lab 02).
"""

from __future__ import annotations

from workbench.measure.bench import Bench, Comparison


def connection_reuse(bench: Bench) -> Comparison:
    comparison = bench.twins(
        Comparison(
            "connection reuse (RDS Proxy pooling)",
            "one connection per environment",
            "connect per invocation",
            "ms/invocation",
        ),
        ("connection_reuse.reused", "connection_reuse.per_invocation"),
        "MySQL connections opened per 100 invocations (counted at the proxy)",
        bench.delta(bench.service.database_proxy.connections_opened),
    )
    if not bench.service.database.tls:
        comparison.notes.append(
            "the local server offers no TLS, so the naive twin pays no handshake here; through RDS Proxy "
            "(RequireTLS) each connect also costs a TLS handshake, and PyMySQL >= 1.2 builds a new SSL context "
            "(loading the CA store) for every connect unless one is built once, as src/ does (tls_context)"
        )
    return comparison


STEPS = (connection_reuse,)
