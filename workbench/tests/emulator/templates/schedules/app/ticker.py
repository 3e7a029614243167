"""Answers with the event it was given: what the schedule sent."""


def handler(event, context):
    return event
