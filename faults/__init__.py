"""Fault injection for tests, the demo and the chaos run. Never shipped: src/ does not import it."""
