"""`make chaos`: orders through the API and the consumer while everything that can go wrong does.

Through the local runner (real worker processes, moto, the real MySQL), all at once:
- poison messages (malformed JSON, wrong types, unknown fields) put straight into the queue;
- BatchWriteItem calls leaving part of their items unprocessed, and throttled HTTP attempts,
  injected into the consumer's processes at the botocore layer (scenarios/chaos_site);
- the warm environments' MySQL connections killed server-side (`KILL <id>`) at random moments;
- the database password rotated mid-run (MySQL user and secret), so cached credentials go stale.
Then the books, checked exactly: nothing lost, nothing duplicated, poison only in the DLQ, no 5xx.
"""

from __future__ import annotations

import collections
import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sam_testkit
from workbench.emulator.api_server import make_server
from workbench.emulator.ephemeral import HOST_SCRATCH
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.scenarios.traffic import (
    UNTHROTTLED,
    customer_tokens,
    database_user,
    post_order,
    queue_bodies,
    random_customer,
    random_order,
    stored_order_ids,
)

CHAOS_SITE = Path(__file__).resolve().parent / "chaos_site"
WAVE = 100  # orders per wave of concurrent requests; the consumer drains between waves
POISON_BODIES = [
    "{not json",
    '{"order_id": 42, "customer_id": [], "items": "many", "total_cents": "free"}',
    json.dumps({"order_id": "p", "customer_id": "c", "items": [], "total_cents": 0, "created_at": "x", "evil": 1}),
    "[]",
    "",
]


@dataclass
class ChaosReport:
    sent: int = 0
    accepted: set[str] = field(default_factory=set)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    poison_sent: int = 0
    stored: set[str] = field(default_factory=set)
    dlq_orders: set[str] = field(default_factory=set)
    dlq_poison: int = 0
    connections_killed: int = 0
    password_rotations: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    log_counts: dict[str, int] = field(default_factory=dict)
    iam_denials: dict[str, int] = field(default_factory=dict)  # per function: calls its role was refused
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return len(self.accepted - self.stored - self.dlq_orders)

    @property
    def duplicated(self) -> int:
        """Stored and dead-lettered both, or stored without having been accepted."""
        return len(self.stored & self.dlq_orders) + len(self.stored - self.accepted)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def figures(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "accepted": len(self.accepted),
            "stored": len(self.stored),
            "orders in DLQ": len(self.dlq_orders),
            "poison sent / in DLQ": f"{self.poison_sent} / {self.dlq_poison}",
            "duplicates": self.duplicated,
            "lost": self.lost,
            "API 5xx": self.server_errors,
            "items left unprocessed by BatchWriteItem (injected)": self.injected.get("items_left_unprocessed", 0),
            "throttled BatchWriteItem attempts": self.injected.get("throttled_attempts", 0),
            "batch write retries (ours)": self.log_counts.get("retries", 0),
            "MySQL connections killed": self.connections_killed,
            "reconnects": self.log_counts.get("reconnects", 0),
            "password rotations": self.password_rotations,
            "secret refreshes after a refused password": self.log_counts.get("secret_refreshes", 0),
            "calls denied by IAM (each function as its role)": sum(self.iam_denials.values()),
        }

    def problems(self) -> list[str]:
        problems = []
        if self.lost:
            problems.append(f"{self.lost} accepted orders are neither stored nor in the DLQ")
        if self.duplicated:
            problems.append(f"{self.duplicated} orders duplicated")
        if self.server_errors:
            problems.append(f"{self.server_errors} API responses were 5xx")
        problems += [f"{function}: {count} calls denied by IAM" for function, count in self.iam_denials.items()]
        if self.dlq_poison != self.poison_sent:
            problems.append(f"{self.poison_sent} poison messages sent, {self.dlq_poison} in the DLQ")
        triggered = {
            "unprocessed items": self.injected.get("items_left_unprocessed", 0),
            "throttling": self.injected.get("throttled_attempts", 0),
            "connection kills": self.connections_killed,
            "reconnects": self.log_counts.get("reconnects", 0),
            "secret refreshes": self.log_counts.get("secret_refreshes", 0),
        }
        problems += [f"fault never triggered: {name}" for name, count in triggered.items() if not count]
        return problems


class ConnectionKiller:
    """Kill one of the application's MySQL connections every `interval_s`, until stopped."""

    def __init__(self, service: LocalService, interval_s: float, rng: random.Random) -> None:
        self.service = service
        self.interval_s = interval_s
        self.rng = rng
        self.killed = 0
        self.paused = threading.Lock()
        self.user = database_user(service, "ApiFunction")[1]  # the functions' connections, not the migration's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="connection-killer")

    def _run(self) -> None:
        import pymysql

        admin = pymysql.connect(**self.service.mysql.settings, autocommit=True)
        try:
            while not self._stop.wait(self.interval_s * self.rng.uniform(0.5, 1.5)):
                with self.paused, admin.cursor() as cursor:
                    cursor.execute(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s",
                        (self.user,),
                    )
                    ids = [row[0] for row in cursor.fetchall()]
                    if ids:
                        try:
                            cursor.execute(f"KILL {int(self.rng.choice(ids))}")
                            self.killed += 1
                        except pymysql.err.OperationalError:
                            pass  # it ended on its own in the meantime
        finally:
            admin.close()

    def __enter__(self) -> ConnectionKiller:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def rotate_password(service: LocalService, killer: ConnectionKiller) -> None:
    """A secret rotation: new password in the secret, then on the MySQL user.

    Open sessions keep working; the next connect with the cached password is refused (1045) and
    must refresh the secret. Kills are paused during the two steps, the window every single-user
    rotation has, so that window is not what this run measures.
    """
    import secrets as token

    password = token.token_urlsafe(18)
    secret, user = database_user(service, "ApiFunction")  # the functions' least-privilege user
    with killer.paused:
        service.cloud.client("secretsmanager").put_secret_value(
            SecretId=str(service.cloud.symbols[secret]["Ref"]),
            SecretString=json.dumps({"username": user, "password": password}),
        )
        service.mysql.execute(f"ALTER USER '{user}'@'%%' IDENTIFIED BY %s", (password,))


def run_chaos(orders: int = 1000, *, seed: int = 11, clients: int = 8, kill_interval_s: float = 0.25) -> ChaosReport:
    """The whole run in a scratch folder (the functions' logs, what each process injected), removed after."""
    # Outside /tmp: what the consumer's processes write there stays in their own /tmp (emulator/ephemeral.py).
    with tempfile.TemporaryDirectory(prefix="orders-chaos-", dir=HOST_SCRATCH) as scratch:
        return _run_chaos(Path(scratch), orders, seed, clients, kill_interval_s)


def _run_chaos(report_dir: Path, orders: int, seed: int, clients: int, kill_interval_s: float) -> ChaosReport:
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario
    logs_path = report_dir / "functions.log"
    chaos_env = {
        "PYTHONPATH": str(CHAOS_SITE),
        "CHAOS_REPORT_DIR": str(report_dir),
        "CHAOS_INJECTORS_PATH": str(Path(sam_testkit.__file__).parents[1]),
        "CHAOS_SEED": str(seed),
        "CHAOS_UNPROCESSED_RATE": "0.2",
        "CHAOS_UNPROCESSED_SHARE": "0.3",
        "CHAOS_THROTTLE_RATE": "0.1",
    }
    report = ChaosReport()
    started = time.monotonic()
    with (
        logs_path.open("w") as logs,
        LocalService(
            parameter_overrides=UNTHROTTLED,  # faults, not the stage's rate limit, are what this run is about
            # Every POST prices from MySQL here, so the connection kills and the rotation meet traffic (the
            # price cache would spare most of it: tests/integration/test_price_cache.py covers the cache).
            env_vars={"OrdersConsumer": chaos_env, "ApiFunction": {"CATALOG_MAX_AGE_SECONDS": "0"}},
            log_sink=logs,
        ) as service,
    ):
        service.prepare_database()
        server = make_server(service, "127.0.0.1", 0, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        queue = service.queue_url("OrdersQueue")
        sqs = service.cloud.client("sqs")
        consumer = SqsEventSource(service, "OrdersConsumer")
        with ConnectionKiller(service, kill_interval_s, rng) as killer:
            tokens = customer_tokens(service)

            def send(n: int) -> tuple[int, dict[str, Any]]:
                rng = random.Random(seed * 100_000 + n)  # noqa: S311 - test data
                return post_order(server.server_port, random_order(rng), None, tokens[random_customer(rng)])

            waves = [range(start, min(start + WAVE, orders)) for start in range(0, orders, WAVE)]
            with ThreadPoolExecutor(clients) as pool:
                for number, wave in enumerate(waves):
                    if number == len(waves) // 2:  # mid-run, with traffic before and after
                        rotate_password(service, killer)
                        report.password_rotations += 1
                    for status, payload in pool.map(send, wave):
                        report.sent += 1
                        report.statuses[status] += 1
                        if status == 202:
                            report.accepted.add(payload["order_id"])
                    for _ in range(len(wave) // 20):  # ~5 % poison, straight into the queue
                        sqs.send_message(QueueUrl=queue, MessageBody=POISON_BODIES[report.poison_sent % 5])
                        report.poison_sent += 1
                    consumer.drain(timeout_s=60)  # the consumer works between the API's waves
            consumer.drain(timeout_s=120)
            report.connections_killed = killer.killed
        server.shutdown()
        report.stored = stored_order_ids(service)
        report.iam_denials = {f: u.denied_count for f, u in service.cloud.iam_report().items() if u.denied_count}
        for body in queue_bodies(service, service.queue_url("OrdersDeadLetterQueue")):
            if isinstance(body, dict) and isinstance(body.get("order_id"), str) and body["order_id"] in report.accepted:
                report.dlq_orders.add(body["order_id"])
            else:
                report.dlq_poison += 1
    report.injected = _injected(report_dir)
    report.log_counts = _count_log_events(logs_path)
    report.seconds = time.monotonic() - started
    return report


def _injected(report_dir: Path) -> dict[str, int]:
    totals: collections.Counter[str] = collections.Counter()
    for path in report_dir.glob("*.json"):
        totals.update(json.loads(path.read_text()))
    return dict(totals)


def _count_log_events(path: Path) -> dict[str, int]:
    """Count what the functions logged and metered (Powertools JSON logs and EMF lines)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        message = record.get("message", "")
        if "refreshing the secret once" in message:
            counts["secret_refreshes"] += 1
        if "opening a new one" in message or "retrying once on a new connection" in message:
            counts["reconnects"] += 1
        counts["retries"] += int(sum(record.get("BatchWriteRetries", []) or [0]))
    return dict(counts)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="workbench chaos", description="orders through API + consumer under faults")
    parser.add_argument("orders", type=int, nargs="?", default=1000)
    return report_chaos(parser.parse_args(argv).orders)


def report_chaos(orders: int) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 100))
    console.print(f"[bold]chaos run[/]: {orders} orders, poison, unprocessed items, throttling, kills, rotation …")
    report = run_chaos(orders)
    table = Table(title=f"Chaos run ({report.seconds:.0f} s)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in report.figures().items():
        table.add_row(name, str(value))
    for status, count in sorted(report.statuses.items()):
        table.add_row(f"HTTP {status}", str(count))
    console.print(table)
    problems = report.problems()
    for problem in problems:
        console.print(f"[red]✗ {problem}[/]")
    if not problems:
        console.print("[green]✓ 0 lost, 0 duplicated, poison only in the DLQ, no 5xx; every fault triggered[/]")
    return 1 if problems else 0
