"""Make DynamoDB's BatchWriteItem leave items unprocessed, as a throttled table does.

moto always processes every item, so the retry path would never run against it. This hooks
botocore's event system: chosen items are taken out of the request before it is sent (so they
are really not written) and handed back in the response's UnprocessedItems, exactly where a
real throttled partition would put them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.hooks import BaseEventHooks


def _answer(status: int) -> AWSResponse:
    """An HTTP response for a call answered here; a before-call hook that returns one skips sending."""
    return AWSResponse("https://dynamodb.invalid/", status, HTTPHeaders(), None)


Decision = Callable[[str, int], bool]
"""(order_id, call_number starting at 1) -> True to leave that item unprocessed on that call."""


class UnprocessedItemsInjector:
    def __init__(self, decide: Decision) -> None:
        self.decide = decide
        self.calls = 0
        self.items_sent = 0
        self.items_left_unprocessed = 0

    def install(self, events: BaseEventHooks) -> UnprocessedItemsInjector:
        """Hook an event emitter: a session's (every client it builds later) or one client's."""
        events.register("before-parameter-build.dynamodb.BatchWriteItem", self._withhold)
        events.register("before-call.dynamodb.BatchWriteItem", self._skip_empty_request)  # type: ignore[arg-type]
        events.register("after-call.dynamodb.BatchWriteItem", self._report_unprocessed)
        return self

    def _withhold(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        withheld: dict[str, list[Any]] = {}
        kept: dict[str, list[Any]] = {}
        for table, requests in params["RequestItems"].items():
            self.items_sent += len(requests)
            for request in requests:
                order_id = request["PutRequest"]["Item"]["order_id"]["S"]
                chosen = withheld if self.decide(order_id, self.calls) else kept
                chosen.setdefault(table, []).append(request)
        self.items_left_unprocessed += sum(len(requests) for requests in withheld.values())
        context["withheld_items"] = withheld
        if kept:
            params["RequestItems"] = kept
        else:  # nothing left to send: an empty request is invalid, so answer it without sending
            context["send_nothing"] = True

    def _skip_empty_request(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if context.pop("send_nothing", False):
            return _answer(200), {"UnprocessedItems": {}}
        return None

    def _report_unprocessed(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        withheld = context.pop("withheld_items", {})
        if withheld:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            for table, requests in withheld.items():
                unprocessed.setdefault(table, []).extend(requests)


class ThrottlingInjector:
    """Answer the first ``calls`` BatchWriteItem calls with ProvisionedThroughputExceededException.

    Answered before sending, so the SDK's own retries never see it: it reaches our code as it
    would once the SDK's retries ran out.
    """

    def __init__(self, calls: int) -> None:
        self.remaining = calls
        self.throttled = 0

    def install(self, events: BaseEventHooks) -> ThrottlingInjector:
        events.register_first("before-call.dynamodb.BatchWriteItem", self._throttle)  # type: ignore[arg-type]
        return self

    def _throttle(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        self.throttled += 1
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "injected throttling"}
        return _answer(400), {"Error": error, "ResponseMetadata": {}}


class SdkVisibleThrottling:
    """Throttle a share of BatchWriteItem HTTP attempts with a real DynamoDB error response.

    Injected at `before-send`, so botocore parses it and its own retry policy sees it, exactly as
    with a throttled table: most throttles are absorbed by SDK retries, the rest reach our code.
    """

    def __init__(self, rate: float, rng: random.Random, *, first_attempt: bool = False) -> None:
        self.rate = rate
        self.rng = rng
        self.throttled = 0
        self._force_next = first_attempt  # so a short run sees the fault at least once, whatever the odds

    def install(self, events: BaseEventHooks) -> SdkVisibleThrottling:
        events.register("before-send.dynamodb.BatchWriteItem", self._maybe_throttle)  # type: ignore[arg-type]
        return self

    def _maybe_throttle(self, request: Any, **_: Any) -> AWSResponse | None:
        forced, self._force_next = self._force_next, False
        if not forced and self.rng.random() >= self.rate:
            return None
        self.throttled += 1
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded (injected)",
            }
        ).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 400, headers, _Raw(body))


class _Raw:
    """The smallest raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def random_unprocessed(
    rate: float, share: float, rng: random.Random, *, first_call: bool = False
) -> UnprocessedItemsInjector:
    """Leave `share` of the items of `rate` of the BatchWriteItem calls unprocessed.

    With `first_call`, the first call always leaves its first item unprocessed, so a short run sees
    the fault at least once, whatever the odds.
    """
    chosen_calls: dict[int, bool] = {}
    forced: set[int] = {1} if first_call else set()

    def decide(_: str, call: int) -> bool:
        if call in forced:
            forced.discard(call)
            return True
        if call not in chosen_calls:
            chosen_calls[call] = rng.random() < rate
        return chosen_calls[call] and rng.random() < share

    return UnprocessedItemsInjector(decide)
