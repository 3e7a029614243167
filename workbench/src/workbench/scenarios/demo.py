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
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workbench.emulator.api_server import make_server, route_scopes
from workbench.emulator.cloud import RoleUsage, rotation_schedules
from workbench.emulator.environment import Invocation
from workbench.emulator.event_sources import Schedule, SqsEventSource
from workbench.emulator.rotation import rotate
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


def run_demo(
    orders: int = 300,
    poison: int = 5,
    seed: int = 7,
    template: Path = DEFAULT_TEMPLATE,
    parameter_overrides: dict[str, str] | None = None,
) -> int:
    console = Console(width=max(Console().width, 110))
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not cryptography
    logs = tempfile.NamedTemporaryFile("w", prefix="orders-demo-", suffix=".log", delete=False)  # noqa: SIM115
    started = time.monotonic()
    overrides = UNTHROTTLED | (parameter_overrides or {})  # the scenario's burst, not the stage's limit
    with LocalService(template=template, parameter_overrides=overrides, trace=True, log_sink=logs) as service:
        console.print(
            f"[bold]Orders service, locally[/] — moto at {service.cloud.endpoint_url}, "
            f"{service.describe_database()}; function logs: {logs.name}"
        )
        console.print(f"Execution environments: {service.emulation.describe()}; {service.build.native_note}")
        service.prepare_database()
        connections_before = service.database_proxy.connections_opened()
        server = make_server(service, "127.0.0.1", 0, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_port

        plan = _request_plan(orders, rng)
        tokens = customer_tokens(service)
        scopes = route_scopes(service.app)

        def credential(request: PlannedRequest) -> str | None:
            if request.credential == "none":
                return None
            if request.credential == "expired":
                return service.authorizers.token(request.customer, scopes, expires_in=-60)
            if request.credential == "read-only":
                return service.authorizers.token(request.customer, ["orders/read"])
            return tokens[request.customer]

        def send(request: PlannedRequest) -> tuple[int, dict[str, Any]]:
            return post_order(port, request.body, request.key, credential(request))

        statuses: collections.Counter[int] = collections.Counter()
        refusals_expected = collections.Counter(p.credential for p in plan if p.kind == "refused")
        accepted: dict[str, int] = {}
        owner: dict[str, str] = {}
        first_response: dict[str, str] = {}
        retry_mismatches = 0
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("POST /orders", total=len(plan))
            first_pass = [p for p in plan if p.kind not in {"retry", "corrected"}]
            with ThreadPoolExecutor(API_CLIENTS) as pool:
                for request, (status, payload) in zip(first_pass, pool.map(send, first_pass), strict=True):
                    statuses[status] += 1
                    if status == 202:
                        accepted[payload["order_id"]] = payload["total_cents"]
                        owner[payload["order_id"]] = request.customer
                        if request.key:
                            first_response[request.key] = payload["order_id"]
                    progress.advance(task)
            # The app user's password rotates now, mid-run, as Secrets Manager's schedule would rotate it.
            rotations = [rotate(service, secret) for secret in rotation_schedules(service.app)]
            for request in (p for p in plan if p.kind == "retry"):
                status, payload = send(request)
                statuses[status] += 1
                retry_mismatches += status != 202 or payload.get("order_id") != first_response.get(request.key or "")
                progress.advance(task)
            corrections_refused = 0
            for request in (p for p in plan if p.kind == "corrected"):
                status, payload = send(request)
                statuses[status] += 1
                corrections_refused += status != 202
                if status == 202:
                    accepted[payload["order_id"]] = payload["total_cents"]
                    owner[payload["order_id"]] = request.customer
                progress.advance(task)

            orders_queue = service.queue_url("OrdersQueue")
            sqs = service.cloud.client("sqs")
            for n in range(poison):
                sqs.send_message(QueueUrl=orders_queue, MessageBody=["{", '{"order_id": 1}', "[]", "null", "x"][n % 5])
            # An order of yesterday, redriven today: stored late, its day marked, recomputed by the next rollup.
            yesterday = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(1)
            late = _late_order(rng, yesterday)
            sqs.send_message(QueueUrl=orders_queue, MessageBody=json.dumps(late))
            task = progress.add_task("OrdersConsumer draining the queue", total=None)
            consumer = SqsEventSource(service, "OrdersConsumer")
            consumer.drain()
            progress.update(task, completed=1, total=1)

        read_back = list(accepted)[:10]  # through the HTTP API: by their customer, and by another one
        reads = [get_order_status(port, order_id, tokens[owner[order_id]]) for order_id in read_back]
        strangers = [get_order_status(port, order_id, tokens[_another(owner[order_id])]) for order_id in read_back]
        requests_sent = len(plan) + len(reads) + len(strangers)

        schedule = Schedule(service, "DailyRollupFunction")
        # One run per day that has sales, at 00:15 UTC the day after, as the scheduler runs it (a demo that
        # crosses midnight has two); the late order's day is the marks' to recompute.
        revenue_by_day = stored_revenue_by_day(service)
        days_sold = sorted(revenue_by_day.keys() - {yesterday.date().isoformat()}) or [
            dt.datetime.now(dt.UTC).date().isoformat()
        ]
        runs = [schedule.fire(_the_morning_after(day)) for day in days_sold]
        # A schedule whose Input was edited wrong: every attempt fails, then Lambda sends it on as the role.
        failed_run = schedule.fire(_the_morning_after(days_sold[-1]), input_override='{"scheduled_time": "tomorrow"}')
        failure_queue = [
            body
            for logical_id in service.app.resources_of_type("AWS::SQS::Queue")
            if service.cloud.symbols[logical_id].get("Arn") == schedule.failure_destination_arn
            for body in queue_bodies(service, service.queue_url(logical_id))
        ]
        server.shutdown()

        stored = stored_order_ids(service)
        dlq_bodies = queue_bodies(service, service.queue_url("OrdersDeadLetterQueue"))
        accepted_in_dlq = {b.get("order_id") for b in dlq_bodies if isinstance(b, dict)} & set(accepted)
        revenue_rows = service.mysql.execute(
            "SELECT sales_date, COALESCE(SUM(revenue_cents), 0) "  # noqa: S608
            f"FROM `{service.database.database}`.daily_sku_sales GROUP BY sales_date"
        )
        rollup_revenue = {str(day): int(cents) for day, cents in revenue_rows}
        late_days_recomputed = {
            day for r in runs for day in (r.attempts[-1].response or {}).get("late_days_recomputed", [])
        }
        connections = service.database_proxy.connections_opened() - connections_before
        calls = service.cloud.requests.snapshot()
        roles = service.cloud.iam_report()
        if service.traces is not None:
            service.traces.settle()  # UDP: let the last spans land
        post_trace = next(
            (
                i
                for i in reversed(service.pools["ApiFunction"].invocations)
                if i.init_duration_ms is None
                and service.traces is not None
                and {"MySQL", "SQS.SendMessage"} <= service.traces.span_names(i.trace_id)  # not a replay
            ),
            None,
        )
        consumer_trace = next((i for i in reversed(consumer.stats.invocations) if i.error is None), None)
        trees = [
            service.traces.tree(i.trace_id, f"{name} — trace {i.trace_id}")
            for name, i in (("ApiFunction (warm POST)", post_trace), ("OrdersConsumer", consumer_trace))
            if i is not None and service.traces is not None
        ]
        elapsed = time.monotonic() - started

        books = [
            (
                "accepted = stored + accepted in DLQ",
                len(accepted) == len(set(accepted) & stored) + len(accepted_in_dlq),
            ),
            ("nothing stored that was not accepted (or redriven)", stored <= set(accepted) | {late["order_id"]}),
            ("poison messages all in the DLQ", len(dlq_bodies) - len(accepted_in_dlq) == poison),
            ("idempotent retries returned the first order", retry_mismatches == 0),
            ("a refused order's Idempotency-Key took its corrected order", corrections_refused == 0),
            (
                "the database secrets with a rotation schedule rotated mid-run, every step",
                bool(rotations) and all(run.completed for run in rotations),
            ),
            ("rollup revenue = revenue of stored orders, day by day", rollup_revenue == revenue_by_day),
            ("the late order's day was recomputed by the rollup", yesterday.date().isoformat() in late_days_recomputed),
            (
                "a run failing every attempt reached the rollup failure queue",
                failed_run.sent_to_failure_destination
                and len(failed_run.attempts) == schedule.max_retries + 1
                and len(failure_queue) == 1,
            ),
            ("stored orders read back by their customer (GET 200)", reads.count(200) == len(reads)),
            ("another customer's order is not found (GET 404)", strangers.count(404) == len(strangers)),
            (
                "the authorizer refused what it must, and ApiFunction never ran for it",
                service.authorizers.refused_total == sum(refusals_expected.values())
                and len(service.pools["ApiFunction"].invocations) == requests_sent - service.authorizers.refused_total,
            ),
            ("no call denied by IAM (each function as its role)", not any(r.denied_count for r in roles.values())),
            (
                "every permission a role holds was used (least privilege, failure paths walked)",
                not any(r.never_used(service.cloud.policy_labels) for r in roles.values()),
            ),
        ]

        table = Table(title="The books")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for status in sorted(statuses):
            table.add_row(f"HTTP {status}", str(statuses[status]))
        for (route, status, reason), count in sorted(service.authorizers.refused.items()):
            table.add_row(f"refused by the authorizer: {route} {status}, {reason}", str(count))
        table.add_row("orders accepted (unique)", str(len(accepted)))
        table.add_row("orders stored in DynamoDB", str(len(stored)))
        table.add_row("messages in the DLQ (poison + orders)", f"{len(dlq_bodies)} ({poison} + {len(accepted_in_dlq)})")
        table.add_row(
            "consumer batches / messages returned to queue",
            f"{consumer.stats.batches} / {consumer.stats.messages_returned}",
        )
        for each in runs:
            table.add_row(
                f"daily rollup (as scheduled {each.event.get('scheduled_time', '')})",
                json.dumps(each.attempts[-1].response),
            )
        table.add_row(
            "a run with a broken Input: attempts / to the failure queue",
            f"{len(failed_run.attempts)} / {len(failure_queue)}",
        )
        table.add_row("MySQL connections opened (counted at the proxy)", str(connections))
        table.add_row("GetSecretValue calls", str(calls.get("secretsmanager.GetSecretValue", 0)))
        table.add_row(
            "DynamoDB requests",
            ", ".join(f"{k.split('.')[1]} {v}" for k, v in sorted(calls.items()) if k.startswith("dynamodb.")),
        )
        table.add_row("SQS requests", str(sum(v for k, v in calls.items() if k.startswith("sqs."))))
        console.print(table)

        timing = Table(title="Functions (local worker processes, one per execution environment)")
        for column in ("function", "invocations", "environments (cold starts)", "init p50", "warm p50", "warm p95"):
            timing.add_column(column, justify="right" if column != "function" else "left")
        for name, function_pool in sorted(service.pools.items()):
            cold, init, p50, p95 = _timings(function_pool.invocations)
            timing.add_row(name, str(len(function_pool.invocations)), cold, init, p50, p95)
        console.print(timing)
        console.print(_iam_table(roles, service.cloud.policy_labels))
        for tree in trees:
            console.print(tree, highlight=False)
        for label, ok in books:
            console.print(f"{'[green]✓' if ok else '[red]✗'} {label}[/]")
        console.print(f"finished in {elapsed:.1f} s")
    logs.close()
    return 0 if all(ok for _, ok in books) else 1


if __name__ == "__main__":
    sys.exit(run_demo())
