"""Fails every run, saying when it was scheduled."""


def handler(event, context):
    raise RuntimeError(f"the run scheduled at {event['scheduled']} failed")
