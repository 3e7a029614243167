"""A Docker-free stand-in for `sam local`: template.yaml is the single source of truth.

Each function runs in long-lived worker processes (one per execution environment) against moto
(AWS APIs) and a real MySQL. Nothing in src/ knows: the functions only see environment variables.
"""
