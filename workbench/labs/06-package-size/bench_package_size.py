"""This lab's bench step: INIT from read-only code with the shipped bytecode and without (lab 06)."""

from __future__ import annotations

from workbench.measure.bench import Bench, Comparison, Timing


def shipped_bytecode(bench: Bench) -> Comparison:
    """INIT from read-only code with the .pyc files the build ships, and with none (`--no-compile`)."""
    comparison = Comparison(
        "shipped bytecode", "code + layer with .pyc", "source only (compiled every cold start)", "Init Duration ms"
    )
    function = bench.service.app.functions["ApiFunction"]
    variants = {"optimized": bench.api, "naive": bench.service.build.without_bytecode(function)}
    inits = bench.inits(variants)
    comparison.optimized_timing = Timing(inits["optimized"])
    comparison.naive_timing = Timing(inits["naive"])
    comparison.counts[".pyc files shipped (function + layer)"] = {
        name: sum(1 for folder in (spec.code_dir, *spec.layer_dirs) for _ in folder.rglob("*.pyc"))
        for name, spec in variants.items()
    }
    return comparison


STEPS = (shipped_bytecode,)
