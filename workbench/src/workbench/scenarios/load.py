"""`make load`: many concurrent clients against the local start-api, the consumer draining meanwhile.

Loopback only, bounded in requests and time. Proves pooling under concurrency: MySQL connections
opened stay at one per API execution environment, whatever the number of requests, and the
consumer keeps up (the queue is empty at the end).
"""

from __future__ import annotations

import collections
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.emulator.api_server import make_server
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.template import PROJECT_ROOT
from workbench.measure.results import RESULTS_PAGE, ResultTable, write_section
from workbench.scenarios.traffic import UNTHROTTLED, customer_tokens, stored_order_ids

TIME_LIMIT_S = 600  # the run stops by itself, finished or not


@dataclass
class LoadReport:
    requests: int
    clients: int
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    latencies_ms: list[float] = field(default_factory=list)
    transport_errors: int = 0
    api_environments: int = 0
    connections_opened: int = 0
    queue_depth_after: int = -1
    messages_consumed: int = 0  # deliveries: SQS is at-least-once, so this may exceed the orders
    orders_stored: int = 0
    iam_denials: dict[str, int] = field(default_factory=dict)  # per function: calls its role was refused
    cloud_server_errors: dict[str, int] = field(default_factory=dict)  # 5xx the local cloud answered (retried)
    seconds: float = 0.0
    run_cpu_s: float = 0.0  # CPU time of the run's own processes (runner, environments, local cloud, clients)
    host_cpu_s: float = 0.0  # the host's busy CPU time meanwhile: MySQL's and the kernel's too, and anyone else's

    @property
    def errors(self) -> int:
        """Neither a 202 nor the gateway's throttle (a 429 is counted apart: `throttled`)."""
        return self.transport_errors + sum(n for status, n in self.statuses.items() if status not in (202, 429))

    @property
    def cpu_ms_per_order(self) -> float:
        return self.run_cpu_s / max(1, self.requests) * 1000

    @property
    def throttled(self) -> int:
        return self.statuses.get(429, 0)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def problems(self) -> list[str]:
        problems = []
        if self.errors:
            problems.append(f"{self.errors} requests did not get a 202")
        if self.connections_opened > self.api_environments:
            problems.append(f"{self.connections_opened} MySQL connections for {self.api_environments} environments")
        if self.queue_depth_after != 0:
            problems.append(f"{self.queue_depth_after} messages still queued: the consumer did not keep up")
        problems += [f"{function}: {count} calls denied by IAM" for function, count in self.iam_denials.items()]
        problems += [f"the local cloud answered {n} × 5xx to {name}" for name, n in self.cloud_server_errors.items()]
        if self.orders_stored != self.statuses.get(202, 0):
            problems.append(f"{self.statuses.get(202, 0)} orders accepted, {self.orders_stored} stored")
        return problems


def host_busy_cpu_s() -> float:
    """Seconds the host's CPUs spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run_cpu_s() -> float:
    """CPU seconds of this process, its descendants alive now and its children already reaped: the run's own work,
    whatever else the host runs (MySQL, shared with other clients, is not counted). Linux /proc; 0 elsewhere."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(stat.parent.name)
        parents[pid], cpu[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    ours, grown = {os.getpid()}, True
    while grown:  # descendants, generation by generation
        found = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= found
        grown = bool(found)
    total = sum(cpu.get(pid, 0.0) for pid in ours)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + reaped.ru_utime + reaped.ru_stime


def run_load(requests: int = 5000, clients: int = 50, *, max_environments: int = 10, seed: int = 3) -> LoadReport:
    report = LoadReport(requests=requests, clients=clients)
    deadline = time.monotonic() + TIME_LIMIT_S
    with (
        tempfile.TemporaryFile("w") as logs,
        LocalService(parameter_overrides=UNTHROTTLED, log_sink=logs) as service,
    ):
        service.prepare_database()
        api = service.pool("ApiFunction")
        api.max_environments = max_environments
        server = make_server(service, "127.0.0.1", 0, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        consumer = SqsEventSource(service, "OrdersConsumer")
        connections_before = service.database_proxy.connections_opened()
        sent = threading.Event()
        started, cpu_before, host_before = time.monotonic(), run_cpu_s(), host_busy_cpu_s()
        pollers = consumer.start_polling(sent)  # the mapping consumes while the clients send
        # The clients run in their own process: this one already serves HTTP, moto and the poller.
        result = subprocess.run(  # noqa: S603 - our own module, loopback port
            [
                sys.executable,
                "-m",
                "workbench.scenarios.load_clients",
                str(server.server_port),
                str(requests),
                str(clients),
                str(seed),
                str(max(1.0, deadline - time.monotonic())),
            ],
            input=json.dumps(customer_tokens(service)),
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
        )
        outcome = json.loads(result.stdout)
        report.statuses.update({int(k): v for k, v in outcome["statuses"].items()})
        report.latencies_ms = outcome["latencies_ms"]
        report.transport_errors = outcome["transport_errors"]
        sent.set()
        for poller in pollers:
            poller.join()
        consumer.drain(timeout_s=max(10.0, deadline - time.monotonic()))
        report.seconds = time.monotonic() - started
        report.run_cpu_s = run_cpu_s() - cpu_before
        report.host_cpu_s = host_busy_cpu_s() - host_before
        server.shutdown()
        report.api_environments = api.environments_started
        report.connections_opened = service.database_proxy.connections_opened() - connections_before
        report.queue_depth_after = consumer.in_flight()
        report.messages_consumed = consumer.stats.messages_deleted
        report.orders_stored = len(stored_order_ids(service))
        report.iam_denials = {f: u.denied_count for f, u in service.cloud.iam_report().items() if u.denied_count}
        report.cloud_server_errors = service.cloud.requests.server_errors()
    return report


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="workbench load", description="concurrent clients against start-api")
    parser.add_argument("requests", type=int, nargs="?", default=5000)
    parser.add_argument("clients", type=int, nargs="?", default=50)
    parser.add_argument("--results", type=Path, default=RESULTS_PAGE, help="the results page to write its section of")
    args = parser.parse_args(argv)
    return report_load(args.requests, args.clients, args.results)


def report_load(requests: int, clients: int, results_page: Path | None = None) -> int:
    from rich.console import Console

    console = Console(width=max(Console().width, 100))
    console.print(f"[bold]load[/]: {requests} POST /orders from {clients} concurrent clients (loopback) …")
    report = run_load(requests, clients)
    rate = len(report.latencies_ms) / report.seconds
    table = ResultTable(
        f"Load run: {requests} requests, {clients} clients ({report.seconds:.0f} s, {rate:.0f} req/s)",
        ("figure", "value"),
    )
    rows = {
        "requests / clients": f"{report.requests} / {report.clients}",
        "errors (not 202, not 429; or transport)": report.errors,
        "throttled by the gateway (429)": report.throttled,
        "latency p50 / p95 / p99": " / ".join(f"{report.percentile(p):.0f} ms" for p in (0.5, 0.95, 0.99)),
        "latency mean": f"{statistics.fmean(report.latencies_ms):.0f} ms" if report.latencies_ms else "-",
        "CPU per order (the run's processes, consumer included; MySQL not)": f"{report.cpu_ms_per_order:.1f} ms",
        "host CPU per order (every process and the kernel)": f"{report.host_cpu_s / report.requests * 1000:.1f} ms",
        "API execution environments": report.api_environments,
        "MySQL connections opened (counted at the proxy)": report.connections_opened,
        "deliveries consumed / orders stored": f"{report.messages_consumed} / {report.orders_stored}",
        "queue depth at the end": report.queue_depth_after,
        "calls denied by IAM (each function as its role)": sum(report.iam_denials.values()),
        "5xx from the local cloud (clients retry them)": sum(report.cloud_server_errors.values()),
    }
    for name, value in rows.items():
        table.add(name, value)
    for status, count in sorted(report.statuses.items()):
        table.add(f"HTTP {status}", count)
    console.print(table.rich())
    for problem in report.problems():
        console.print(f"[red]✗ {problem}[/]")
    if results_page is not None:
        write_section(
            "load", f"make load REQUESTS={requests} CLIENTS={clients}", [table], report.problems(), results_page
        )
        console.print(f"wrote the load section of {results_page}")
    if not report.problems():
        console.print(
            "[green]✓ 0 errors, connections ≤ environments, the consumer kept up, no IAM denial, "
            "no 5xx from the local cloud[/]"
        )
    return 1 if report.problems() else 0
