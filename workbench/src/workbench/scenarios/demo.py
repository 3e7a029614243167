"""`make demo`: the whole orders service end to end on this machine, then its books.

A few hundred orders through the HTTP API (some invalid, some refused then corrected under the same
Idempotency-Key, some retried with it), poison messages and a late order straight into the queue, the
queue drained by the consumer as Lambda's poller would, the app user's password rotated mid-run as
Secrets Manager would, the daily rollup fired as the scheduler would, and once with a broken Input.
Exits non-zero when the books do not balance: every accepted order is stored or in the DLQ, the
rollup agrees day by day, and every permission a role holds was used.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workbench.emulator.api_server import make_server
from workbench.emulator.async_invoke import AsyncRun
from workbench.emulator.cloud import RoleUsage, rotation_schedules
from workbench.emulator.environment import Invocation
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.rotation import RotationRun, rotate
from workbench.emulator.routes import route_scopes
from workbench.emulator.schedules import Schedule
from workbench.emulator.service import LocalService
from workbench.emulator.template import DEFAULT_TEMPLATE
from workbench.scenarios.traffic import (
    CUSTOMERS,
    UNTHROTTLED,
    customer_name,
    customer_tokens,
    get_order_status,
    post_order,
    queue_bodies,
    random_customer,
    random_order,
    stored_order_ids,
    stored_revenue_by_day,
)

API_CLIENTS = 4  # concurrent HTTP clients: overlapping requests start more API environments


@dataclass(frozen=True)
class PlannedRequest:
    kind: str  # valid, invalid (400), unpriceable (422), retry, corrected, or what the authorizer refuses
    customer: str
    body: dict[str, Any]
    key: str | None  # Idempotency-Key
    credential: str = "token"  # token, none (401), expired (401), read-only (403: POST needs orders/write)


def _request_plan(count: int, rng: random.Random) -> list[PlannedRequest]:
    """Mostly valid orders; some 400s, 422s (then corrected), requests the authorizer refuses, and retries."""
    plan: list[PlannedRequest] = []
    for n in range(count):
        roll, customer = rng.random(), random_customer(rng)
        if roll < 0.07:
            body: dict[str, Any] = rng.choice(
                [
                    {"items": []},
                    {"customer_id": customer, "items": [{"sku": "MUG-CERAMIC-350ML", "quantity": 1}]},
                    {"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": -2}]},
                ]
            )
            plan.append(PlannedRequest("invalid", customer, body, None))
        elif roll < 0.12:  # sent with a key, as a careful client sends every POST; corrected below
            unpriceable = {"items": [{"sku": "NOT-IN-CATALOG", "quantity": 1}]}
            plan.append(PlannedRequest("unpriceable", customer, unpriceable, f"demo-{n}"))
        elif roll < 0.16:
            credential = rng.choice(["none", "expired", "read-only"])
            plan.append(PlannedRequest("refused", customer, random_order(rng), None, credential))
        else:
            plan.append(PlannedRequest("valid", customer, random_order(rng), f"demo-{n}"))
    retries = rng.sample([p for p in plan if p.kind == "valid"], max(1, count // 12))
    # A refused order's key is free again (Powertools deleted its record): the corrected order reuses it.
    corrected = [
        PlannedRequest("corrected", p.customer, random_order(rng), p.key) for p in plan if p.kind == "unpriceable"
    ]
    return plan + [PlannedRequest("retry", p.customer, p.body, p.key) for p in retries] + corrected


def _the_morning_after(day: str) -> dt.datetime:
    """When the daily schedule (00:15 UTC) rolls up `day`."""
    return dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(0, 15), tzinfo=dt.UTC)


def _late_order(rng: random.Random, created_at: dt.datetime) -> dict[str, Any]:
    """A priced order as the API enqueues one (the consumer's message), created on an earlier day."""
    lines = []
    for line in random_order(rng)["items"]:
        unit = rng.randint(100, 5000)  # yesterday's price, whatever the catalog says today
        lines.append({**line, "unit_price_cents": unit, "line_total_cents": unit * line["quantity"]})
    return {
        "order_id": f"late-{rng.getrandbits(64):016x}",
        "customer_id": random_customer(rng),
        "items": lines,
        "total_cents": sum(line["line_total_cents"] for line in lines),
        "currency": "USD",
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
    }


def _another(name: str) -> str:
    return customer_name(int(name.removeprefix("cust-")) % CUSTOMERS + 1)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _timings(invocations: list[Invocation]) -> tuple[str, str, str, str]:
    """Cold starts are INITs, or restores under SnapStart (then the figure says so)."""
    inits = [i.init_duration_ms for i in invocations if i.init_duration_ms is not None]
    restores = [i.restore_duration_ms for i in invocations if i.restore_duration_ms is not None]
    firsts = inits or restores
    init = f"{statistics.median(firsts):.0f} ms{'' if inits else ' (restore)'}" if firsts else "-"
    warm = [i.duration_ms for i in invocations if i.init_duration_ms is None and i.restore_duration_ms is None]
    cold = str(len(inits) + len(restores))
    if not warm:
        return cold, init, "-", "-"
    return cold, init, f"{_percentile(warm, 0.5):.1f} ms", f"{_percentile(warm, 0.95):.1f} ms"


def _iam_table(roles: dict[str, RoleUsage], labels: dict[str, str]) -> Table:
    """Per function: what its role let it do, what it refused, and what it allows that nothing used."""
    table = Table(title="IAM, enforced: each function calls the local cloud as its execution role")
    for column in ("function", "calls allowed", "denied", "allowed, never used (over-broad?)"):
        table.add_column(column, justify="right" if column in {"calls allowed", "denied"} else "left")
    for function, usage in sorted(roles.items()):
        denied = ", ".join(sorted({f"{d['action']} on {d['resource']}" for d in usage.denied}))
        unused = "; ".join(
            f"{policy}: {', '.join(a.split(':')[1] for a in actions)}"
            for policy, actions in usage.never_used(labels).items()
        )
        table.add_row(
            function,
            str(sum(usage.calls.values())),
            f"{usage.denied_count} ({denied})" if usage.denied_count else "0",
            unused or "-",
        )
    return table


@dataclass
class Posted:
    """What the HTTP clients saw of their requests."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    accepted: dict[str, int] = field(default_factory=dict)  # order_id -> total_cents
    owner: dict[str, str] = field(default_factory=dict)  # order_id -> customer
    first_response: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> order_id
    retry_mismatches: int = 0
    corrections_refused: int = 0

    def record(self, request: PlannedRequest, status: int, payload: dict[str, Any]) -> None:
        self.statuses[status] += 1
        if status == 202 and request.kind != "retry":
            self.accepted[payload["order_id"]] = payload["total_cents"]
            self.owner[payload["order_id"]] = request.customer
            if request.key and request.kind != "corrected":
                self.first_response[request.key] = payload["order_id"]
        if request.kind == "retry":
            self.retry_mismatches += status != 202 or payload.get("order_id") != self.first_response.get(
                request.key or ""
            )
        if request.kind == "corrected":
            self.corrections_refused += status != 202


@dataclass
class Scheduled:
    """The daily rollup as the scheduler ran it: one run per day with sales, and one with a broken Input."""

    runs: list[AsyncRun]
    failed_run: AsyncRun
    failure_queue: list[Any]
    max_retries: int


@dataclass
class DemoRun:
    """Everything the demo drove and counted: what the books are made of."""

    plan: list[PlannedRequest]
    posted: Posted
    rotations: list[RotationRun]
    poison: int
    late: dict[str, Any]
    consumer: SqsEventSource
    reads: list[int]
    strangers: list[int]
    scheduled: Scheduled
    revenue_by_day: dict[str, int]
    rollup_revenue: dict[str, int]
    stored: set[str]
    dlq_bodies: list[Any]
    connections: int
    calls: dict[str, int]
    roles: dict[str, RoleUsage]
    trees: list[Any]

    @property
    def late_day(self) -> str:
        return str(self.late["created_at"])[:10]

    @property
    def accepted_in_dlq(self) -> set[str]:
        return {str(b.get("order_id")) for b in self.dlq_bodies if isinstance(b, dict)} & set(self.posted.accepted)

    @property
    def requests_sent(self) -> int:
        return len(self.plan) + len(self.reads) + len(self.strangers)


@dataclass(frozen=True)
class Book:
    label: str
    balanced: bool


def run_demo(
    orders: int = 300,
    poison: int = 5,
    seed: int = 7,
    template: Path = DEFAULT_TEMPLATE,
    parameter_overrides: dict[str, str] | None = None,
) -> int:
    console = Console(width=max(Console().width, 110))
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not cryptography
    logs = demo_logs(template)
    shutil.rmtree(logs, ignore_errors=True)  # this run's logs only: `workbench dashboard` draws them
    started = time.monotonic()
    overrides = UNTHROTTLED | (parameter_overrides or {})  # the scenario's burst, not the stage's limit
    with LocalService(template=template, parameter_overrides=overrides, trace=True, log_dir=logs) as service:
        console.print(
            f"[bold]Orders service, locally[/] — moto at {service.cloud.endpoint_url}, "
            f"{service.describe_database()}; logs, a file per log group: {logs} (`make dashboard` draws them)"
        )
        console.print(f"Execution environments: {service.emulation.describe()}; {service.build.native_note}")
        service.prepare_database()
        run = _drive(service, console, _request_plan(orders, rng), poison, rng)
        books = _books(run, service)
        _render(console, run, service, books)
        console.print(f"finished in {time.monotonic() - started:.1f} s")
    return 0 if all(book.balanced for book in books) else 1


def demo_logs(template: Path) -> Path:
    """Where the demo keeps its run's log groups: bench/demo-logs beside the template."""
    return template.parent / "bench" / "demo-logs"


def _drive(
    service: LocalService, console: Console, plan: list[PlannedRequest], poison: int, rng: random.Random
) -> DemoRun:
    """The scenario: POSTs (a rotation mid-run), the queue drained, orders read back, the schedules fired."""
    connections_before = service.database_proxy.connections_opened()
    server = make_server(service, "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tokens = customer_tokens(service)
    send = _sender(service, server.server_port, tokens)
    posted = Posted()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("POST /orders", total=len(plan))
        first_pass = [p for p in plan if p.kind not in {"retry", "corrected"}]
        with ThreadPoolExecutor(API_CLIENTS) as pool:
            for request, (status, payload) in zip(first_pass, pool.map(send, first_pass), strict=True):
                posted.record(request, status, payload)
                progress.advance(task)
        # The app user's password rotates now, mid-run, as Secrets Manager's schedule would rotate it.
        rotations = [rotate(service, secret) for secret in rotation_schedules(service.app)]
        for request in (p for p in plan if p.kind in {"retry", "corrected"}):
            posted.record(request, *send(request))
            progress.advance(task)
        late = _queue_poison_and_a_late_order(service, poison, rng)
        draining = progress.add_task("OrdersConsumer draining the queue", total=None)
        consumer = SqsEventSource(service, "OrdersConsumer")
        consumer.drain()
        progress.update(draining, completed=1, total=1)
    read_back = list(posted.accepted)[:10]  # through the HTTP API: by their customer, and by another one
    port = server.server_port
    reads = [get_order_status(port, order_id, tokens[posted.owner[order_id]]) for order_id in read_back]
    strangers = [get_order_status(port, order_id, tokens[_another(posted.owner[order_id])]) for order_id in read_back]
    revenue_by_day = stored_revenue_by_day(service)
    scheduled = _fire_schedules(service, sorted(revenue_by_day.keys() - {str(late["created_at"])[:10]}))
    server.shutdown()
    return DemoRun(
        plan=plan,
        posted=posted,
        rotations=rotations,
        poison=poison,
        late=late,
        consumer=consumer,
        reads=reads,
        strangers=strangers,
        scheduled=scheduled,
        revenue_by_day=revenue_by_day,
        rollup_revenue=_rollup_revenue(service),
        stored=stored_order_ids(service),
        dlq_bodies=queue_bodies(service, service.queue_url("OrdersDeadLetterQueue")),
        connections=service.database_proxy.connections_opened() - connections_before,
        calls=service.cloud.requests.snapshot(),
        roles=service.cloud.iam_report(),
        trees=_trees(service, consumer),
    )


def _sender(
    service: LocalService, port: int, tokens: dict[str, str]
) -> Callable[[PlannedRequest], tuple[int, dict[str, Any]]]:
    """POST a planned request with the credential it plans: its customer's token, none, an expired or a narrow one."""
    scopes = route_scopes(service.app)

    def credential(request: PlannedRequest) -> str | None:
        if request.credential == "none":
            return None
        if request.credential == "expired":
            return service.authorizers.token(request.customer, scopes, expires_in=-60)
        if request.credential == "read-only":
            return service.authorizers.token(request.customer, ["orders/read"])
        return tokens[request.customer]

    return lambda request: post_order(port, request.body, request.key, credential(request))


def _queue_poison_and_a_late_order(service: LocalService, poison: int, rng: random.Random) -> dict[str, Any]:
    """Poison straight into the queue, and an order of yesterday redriven today (stored late, its day marked)."""
    orders_queue, sqs = service.queue_url("OrdersQueue"), service.cloud.client("sqs")
    for n in range(poison):
        sqs.send_message(QueueUrl=orders_queue, MessageBody=["{", '{"order_id": 1}', "[]", "null", "x"][n % 5])
    yesterday = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(1)
    late = _late_order(rng, yesterday)
    sqs.send_message(QueueUrl=orders_queue, MessageBody=json.dumps(late))
    return late


def _fire_schedules(service: LocalService, days_sold: list[str]) -> Scheduled:
    """One run per day with sales at 00:15 UTC the day after, as the scheduler runs it (a demo that crosses
    midnight has two; the late order's day is the marks' to recompute); then one whose Input was edited wrong:
    every attempt fails, and Lambda sends it on to the failure destination as the function's role."""
    schedule = Schedule(service, "DailyRollupFunction")
    days = days_sold or [dt.datetime.now(dt.UTC).date().isoformat()]
    runs = [schedule.fire(_the_morning_after(day)) for day in days]
    failed_run = schedule.fire(_the_morning_after(days[-1]), input_override='{"scheduled_time": "tomorrow"}')
    failure_queue = [
        body
        for logical_id in service.app.resources_of_type("AWS::SQS::Queue")
        if service.cloud.symbols[logical_id].get("Arn") == schedule.failure_destination_arn
        for body in queue_bodies(service, service.queue_url(logical_id))
    ]
    return Scheduled(runs, failed_run, failure_queue, schedule.max_retries)


def _rollup_revenue(service: LocalService) -> dict[str, int]:
    rows = service.mysql.execute(
        "SELECT sales_date, COALESCE(SUM(revenue_cents), 0) "  # noqa: S608
        f"FROM `{service.database.database}`.daily_sku_sales GROUP BY sales_date"
    )
    return {str(day): int(cents) for day, cents in rows}


def _trees(service: LocalService, consumer: SqsEventSource) -> list[Any]:
    """The trace trees of a warm POST that did the work (not a replay) and of a consumer batch."""
    traces = service.traces
    if traces is None:
        return []
    traces.settle()  # UDP: let the last spans land
    post = next(
        (
            i
            for i in reversed(service.pools["ApiFunction"].invocations)
            if i.init_duration_ms is None and {"MySQL", "SQS.SendMessage"} <= traces.span_names(i.trace_id)
        ),
        None,
    )
    batch = next((i for i in reversed(consumer.stats.invocations) if i.error is None), None)
    shown = (("ApiFunction (warm POST)", post), ("OrdersConsumer", batch))
    return [traces.tree(i.trace_id, f"{name} — trace {i.trace_id}") for name, i in shown if i is not None]


def _books(run: DemoRun, service: LocalService) -> list[Book]:
    """What must balance. A book that does not is a bug in the service or in the emulation."""
    posted, scheduled = run.posted, run.scheduled
    recomputed = {
        day for r in scheduled.runs for day in (r.attempts[-1].response or {}).get("late_days_recomputed", [])
    }
    refusals_expected = sum(1 for p in run.plan if p.kind == "refused")
    api_invocations = len(service.pools["ApiFunction"].invocations)
    failed = scheduled.failed_run
    return [
        Book(
            "accepted = stored + accepted in DLQ",
            len(posted.accepted) == len(set(posted.accepted) & run.stored) + len(run.accepted_in_dlq),
        ),
        Book(
            "nothing stored that was not accepted (or redriven)",
            run.stored <= set(posted.accepted) | {run.late["order_id"]},
        ),
        Book("poison messages all in the DLQ", len(run.dlq_bodies) - len(run.accepted_in_dlq) == run.poison),
        Book("idempotent retries returned the first order", posted.retry_mismatches == 0),
        Book("a refused order's Idempotency-Key took its corrected order", posted.corrections_refused == 0),
        Book(
            "the database secrets with a rotation schedule rotated mid-run, every step",
            bool(run.rotations) and all(rotation.completed for rotation in run.rotations),
        ),
        Book("rollup revenue = revenue of stored orders, day by day", run.rollup_revenue == run.revenue_by_day),
        Book("the late order's day was recomputed by the rollup", run.late_day in recomputed),
        Book(
            "a run failing every attempt reached the rollup failure queue",
            failed.sent_to_failure_destination
            and len(failed.attempts) == scheduled.max_retries + 1
            and len(scheduled.failure_queue) == 1,
        ),
        Book("stored orders read back by their customer (GET 200)", run.reads.count(200) == len(run.reads)),
        Book("another customer's order is not found (GET 404)", run.strangers.count(404) == len(run.strangers)),
        Book(
            "the authorizer refused what it must, and ApiFunction never ran for it",
            service.authorizers.refused_total == refusals_expected
            and api_invocations == run.requests_sent - service.authorizers.refused_total,
        ),
        Book("no call denied by IAM (each function as its role)", not any(r.denied_count for r in run.roles.values())),
        Book(
            "every permission a role holds was used (least privilege, failure paths walked)",
            not any(r.never_used(service.cloud.policy_labels) for r in run.roles.values()),
        ),
    ]


def _render(console: Console, run: DemoRun, service: LocalService, books: list[Book]) -> None:
    console.print(_books_table(run, service))
    console.print(_functions_table(service))
    console.print(_iam_table(run.roles, service.cloud.policy_labels))
    for tree in run.trees:
        console.print(tree, highlight=False)
    for book in books:
        console.print(f"{'[green]✓' if book.balanced else '[red]✗'} {book.label}[/]")


def _books_table(run: DemoRun, service: LocalService) -> Table:
    table = Table(title="The books")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for status in sorted(run.posted.statuses):
        table.add_row(f"HTTP {status}", str(run.posted.statuses[status]))
    for (route, status, reason), count in sorted(service.authorizers.refused.items()):
        table.add_row(f"refused by the authorizer: {route} {status}, {reason}", str(count))
    table.add_row("orders accepted (unique)", str(len(run.posted.accepted)))
    table.add_row("orders stored in DynamoDB", str(len(run.stored)))
    in_dlq = f"{len(run.dlq_bodies)} ({run.poison} + {len(run.accepted_in_dlq)})"
    table.add_row("messages in the DLQ (poison + orders)", in_dlq)
    stats = run.consumer.stats
    table.add_row("consumer batches / messages returned to queue", f"{stats.batches} / {stats.messages_returned}")
    for each in run.scheduled.runs:
        when = each.event.get("scheduled_time", "")
        table.add_row(f"daily rollup (as scheduled {when})", json.dumps(each.attempts[-1].response))
    failed = run.scheduled.failed_run
    table.add_row(
        "a run with a broken Input: attempts / to the failure queue",
        f"{len(failed.attempts)} / {len(run.scheduled.failure_queue)}",
    )
    table.add_row("MySQL connections opened (counted at the proxy)", str(run.connections))
    table.add_row("GetSecretValue calls", str(run.calls.get("secretsmanager.GetSecretValue", 0)))
    dynamodb = ", ".join(f"{k.split('.')[1]} {v}" for k, v in sorted(run.calls.items()) if k.startswith("dynamodb."))
    table.add_row("DynamoDB requests", dynamodb)
    table.add_row("SQS requests", str(sum(v for k, v in run.calls.items() if k.startswith("sqs."))))
    return table


def _functions_table(service: LocalService) -> Table:
    table = Table(title="Functions (local worker processes, one per execution environment)")
    for column in ("function", "invocations", "environments (cold starts)", "init p50", "warm p50", "warm p95"):
        table.add_column(column, justify="right" if column != "function" else "left")
    for name, function_pool in sorted(service.pools.items()):
        cold, init, p50, p95 = _timings(function_pool.invocations)
        table.add_row(name, str(len(function_pool.invocations)), cold, init, p50, p95)
    return table
