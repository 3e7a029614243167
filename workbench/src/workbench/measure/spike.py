"""`make spike`: a traffic spike through the service, simulated second by second with SimPy.

What `make capacity` says in steady state, this shows in time: orders arrive (steady, a ramp from 0 to the
rate, or a daily curve), the HTTP API's route throttling answers 429 over its rate and burst, ApiFunction
scales out as Lambda does (1,000 new environments a function every 10 s, the account's concurrency as the
ceiling) with a cold start (INIT, then a first invocation) for each new environment, accepted orders wait in
the queue, the SQS mapping's pollers scale up (5 at first, 300 more a minute, MaximumConcurrency), batches
write to DynamoDB where each day shard's partition takes 1,000 write units a second (what it cannot take
comes back unprocessed, is retried with backoff, and a record still unstored returns to the queue after its
visibility timeout, to the DLQ after maxReceiveCount receives).

SimPy (4.1) keeps the clock: a maintained, dependency-free discrete-event library whose processes are plain
generators, so each actor above reads as what it does. Durations come from `make tune`, limits from
template.yaml and measure/capacity.json (read as `make capacity` reads them).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib.util
import json
import math
import os
import random
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy

from sam_testkit.sam_template import read_template
from workbench.emulator.template import DEFAULT_TEMPLATE, PROJECT_ROOT
from workbench.measure.capacity import (
    StageError,
    measure_stored_order,
    measured_durations,
    profile_rate,
    read_service,
    read_stage,
)
from workbench.measure.cost import LAB

Steps = Generator[simpy.Event, Any, None]  # a SimPy process
SCALE_OUT_WINDOW_S = 10  # Lambda adds up to 1,000 environments a function in each 10 s


@dataclass(frozen=True)
class Model:
    """Everything the simulation needs, read from the template, `make tune` and the quotas file."""

    api_ms: float  # a warm POST
    api_init_ms: float  # INIT of a new environment
    api_first_ms: float  # its first invocation (throttled to its memory's CPU, clients built lazily if any)
    route_rate: float
    route_burst: float
    account_concurrency: int
    scale_out_per_window: int
    consumer_ms_per_record: float
    consumer_init_ms: float
    batch_size: int
    batching_window_s: float
    maximum_concurrency: int
    mapping_initial: int
    mapping_per_minute: int
    mapping_max: int
    visibility_timeout_s: float
    max_receive_count: int
    day_shards: int
    partition_wcu: float
    write_units: int
    write_attempts: int
    retry_base_s: float
    retry_cap_s: float
    host_environments: int | None = None  # a host's cap on environments (the local runner): waits, not throttles
    # This host, for the calibration: its cores, the CPU one order costs it (every process), the rest of a POST
    host_cores: int | None = None
    host_cpu_ms: float = 0.0
    host_wait_ms: float = 0.0


@dataclass
class Second:
    """What one simulated second saw."""

    arrivals: int = 0
    accepted: int = 0
    throttled_route: int = 0
    throttled_lambda: int = 0
    cold_starts: int = 0
    api_concurrency: int = 0
    consumer_concurrency: int = 0
    queue_depth: int = 0
    oldest_age_s: float = 0.0
    unprocessed: int = 0
    stored: int = 0
    dead_lettered: int = 0


@dataclass
class Run:
    seconds: list[Second]
    latencies_ms: list[float] = field(default_factory=list)
    stored: int = 0
    dead_lettered: int = 0
    drained_at_s: float | None = None

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class Simulation:
    def __init__(self, model: Model, rate_at: Callable[[float], float], duration_s: float, seed: int = 7) -> None:
        self.model = model
        self.rate_at = rate_at
        self.duration_s = duration_s
        self.random = random.Random(seed)  # noqa: S311 - a simulation's draws, reproducible by seed
        self.env = simpy.Environment()
        self.now_second = Second()
        self.run = Run(seconds=[])
        # ApiFunction's environments: idle ones, and how many exist
        self.api_idle = 0
        self.api_environments = 0
        self.busy_posts = 0  # POSTs started, not yet answered
        self.scale_out_left = model.scale_out_per_window
        self.route_tokens = model.route_burst
        self.route_refilled_at = 0.0
        self.host_slots = (
            simpy.Resource(self.env, capacity=model.host_environments) if model.host_environments else None
        )
        self.host_cores = simpy.Resource(self.env, capacity=model.host_cores) if model.host_cores else None
        # The queue: (enqueued at, receives so far, visible from)
        self.queue: collections.deque[tuple[float, int]] = collections.deque()
        self.in_flight = 0  # received, not yet deleted or returned
        self.invisible: collections.Counter[float] = collections.Counter()  # failed, until visible again
        self.consumer_busy = 0
        self.consumer_environments = 0
        self.pollers: float = model.mapping_initial  # grows by a fraction a second
        self.partition_tokens = [model.partition_wcu] * model.day_shards
        self.partitions_refilled_at = 0.0

    # ---------------------------------------------------------------- the actors
    def arrivals(self) -> Steps:
        while self.env.now < self.duration_s:
            rate = self.rate_at(self.env.now)
            if rate <= 0:
                yield self.env.timeout(0.1)
                continue
            yield self.env.timeout(self.random.expovariate(rate))
            self.now_second.arrivals += 1
            # API Gateway's token bucket: refilled at the rate limit all the time, holding at most the burst
            elapsed, self.route_refilled_at = self.env.now - self.route_refilled_at, self.env.now
            self.route_tokens = min(self.model.route_burst, self.route_tokens + elapsed * self.model.route_rate)
            if self.route_tokens < 1:
                self.now_second.throttled_route += 1  # API Gateway's 429
                continue
            self.route_tokens -= 1
            self.env.process(self.post())

    def client(self, requests: list[int]) -> Steps:
        """A closed-loop client (as `make load`'s): the next request when the last one is answered."""
        while requests:
            requests.pop()
            self.now_second.arrivals += 1
            yield self.env.process(self.post())

    def post(self) -> Steps:
        started = self.env.now
        slot = self.host_slots.request() if self.host_slots is not None else None
        if slot is not None:
            yield slot
        cold = False
        if self.api_idle:
            self.api_idle -= 1
        elif self.api_environments < self.model.account_concurrency and self.scale_out_left > 0:
            self.api_environments += 1
            self.scale_out_left -= 1
            cold = True
            self.now_second.cold_starts += 1
        else:
            self.now_second.throttled_lambda += 1  # Lambda's 429, API Gateway's 500 to the client
            if slot is not None:
                self.host_slots.release(slot)  # type: ignore[union-attr]
            return
        self.busy_posts += 1
        if self.host_cores is not None:  # on this host: the order's CPU on a shared core, then the rest
            with self.host_cores.request() as core:
                yield core
                # exponential: a shared host's service times vary (one constant time would make p95 = p50)
                yield self.env.timeout(self.random.expovariate(1000 / self.model.host_cpu_ms))
            yield self.env.timeout(self.model.host_wait_ms / 1000)
        else:
            busy_ms = (self.model.api_init_ms + self.model.api_first_ms) if cold else self.model.api_ms
            yield self.env.timeout(busy_ms / 1000 * self.random.uniform(0.8, 1.2))
        self.busy_posts -= 1
        self.api_idle += 1
        if slot is not None:
            self.host_slots.release(slot)  # type: ignore[union-attr]
        self.run.latencies_ms.append((self.env.now - started) * 1000)
        self.now_second.accepted += 1
        self.queue.append((self.env.now, 0))

    def clock(self) -> Steps:
        """Each second: refill the buckets, grow the pollers, record the second."""
        elapsed = 0
        while True:
            yield self.env.timeout(1)
            elapsed += 1
            if elapsed % SCALE_OUT_WINDOW_S == 0:
                self.scale_out_left = self.model.scale_out_per_window
            ceiling = min(self.model.maximum_concurrency, self.model.mapping_max)
            if self.queue:
                self.pollers = min(ceiling, self.pollers + self.model.mapping_per_minute / 60)
            second = self.now_second
            second.api_concurrency = self.api_environments - self.api_idle
            second.consumer_concurrency = self.consumer_busy
            second.queue_depth = len(self.queue) + self.in_flight
            waiting = [self.queue[0][0]] if self.queue else []
            oldest = min([*waiting, *self.invisible]) if waiting or self.invisible else None
            second.oldest_age_s = self.env.now - oldest if oldest is not None else 0.0  # visible or not
            self.run.seconds.append(second)
            self.now_second = Second()
            idle = not self.queue and not self.in_flight and self.env.now >= self.duration_s and not self.busy_posts
            if idle and self.run.drained_at_s is None:
                self.run.drained_at_s = self.env.now
                return

    def poller(self, number: int) -> Steps:
        """One of the mapping's concurrent invokes: receive a batch, run the consumer, return the failures."""
        while True:
            if number >= int(self.pollers):
                yield self.env.timeout(1)  # not among the mapping's invokes yet: they grow once a second
                continue
            if not self.queue:
                yield self.env.timeout(0.2)  # long polling: answered when messages come (a fifth of a second here)
                continue
            if len(self.queue) < self.model.batch_size and self.model.batching_window_s:
                yield self.env.timeout(self.model.batching_window_s)  # the window fills the batch
            batch = [self.queue.popleft() for _ in range(min(self.model.batch_size, len(self.queue)))]
            if not batch:
                continue
            self.in_flight += len(batch)
            self.consumer_busy += 1
            cold = self.consumer_environments < self.consumer_busy
            if cold:
                self.consumer_environments += 1
            run_s = len(batch) * self.model.consumer_ms_per_record / 1000
            yield self.env.timeout(run_s + (self.model.consumer_init_ms / 1000 if cold else 0))
            failed = yield from self.write(batch)
            self.consumer_busy -= 1
            self.in_flight -= len(batch)
            self.now_second.stored += len(batch) - len(failed)
            self.run.stored += len(batch) - len(failed)
            for enqueued, receives in failed:
                self.env.process(self.redeliver(enqueued, receives + 1))

    def write(self, batch: list[tuple[float, int]]) -> Generator[simpy.Event, Any, list[tuple[float, int]]]:
        """BatchWriteItem: each order takes its write units from its day shard's partition; what a partition
        cannot take this second comes back unprocessed and is retried with full-jitter backoff."""
        pending = batch
        for attempt in range(self.model.write_attempts):
            if attempt:
                cap = min(self.model.retry_cap_s, self.model.retry_base_s * 2**attempt)
                yield self.env.timeout(self.random.uniform(0, cap))
            # Each partition's write units refill all the time, a second's worth at most (no burst beyond it)
            elapsed, self.partitions_refilled_at = self.env.now - self.partitions_refilled_at, self.env.now
            refill = elapsed * self.model.partition_wcu
            self.partition_tokens = [min(self.model.partition_wcu, t + refill) for t in self.partition_tokens]
            left = []
            for message in pending:
                shard = self.random.randrange(self.model.day_shards)
                if self.partition_tokens[shard] >= self.model.write_units:
                    self.partition_tokens[shard] -= self.model.write_units
                else:
                    left.append(message)
            self.now_second.unprocessed += len(left)
            pending = left
            if not pending:
                break
        return pending

    def redeliver(self, enqueued: float, receives: int) -> Steps:
        self.in_flight += 1
        self.invisible[enqueued] += 1
        yield self.env.timeout(self.model.visibility_timeout_s)
        self.in_flight -= 1
        self.invisible[enqueued] -= 1
        if not self.invisible[enqueued]:
            del self.invisible[enqueued]
        if receives >= self.model.max_receive_count:
            self.now_second.dead_lettered += 1
            self.run.dead_lettered += 1
        else:
            self.queue.append((enqueued, receives))

    def simulate(self, horizon_s: float, *, clients: int = 0, requests: int = 0) -> Run:
        """Open arrivals at the profile's rate, or `clients` closed-loop clients sending `requests` in all."""
        if clients:
            shared = list(range(requests))
            for _ in range(clients):
                self.env.process(self.client(shared))
        else:
            self.env.process(self.arrivals())
        self.env.process(self.clock())
        ceiling = min(self.model.maximum_concurrency, self.model.mapping_max)
        for number in range(ceiling):
            self.env.process(self.poller(number))
        self.env.run(until=horizon_s)
        if any(vars(self.now_second).values()):
            self.run.seconds.append(self.now_second)  # the last, partial second
        return self.run


def consumer_defaults() -> dict[str, Any]:
    """The consumer's retry settings where the template leaves them to src/orders/config.py's defaults (read
    from that file: it needs pydantic only, which the workbench has)."""
    spec = importlib.util.spec_from_file_location("orders_config_defaults", PROJECT_ROOT / "src/orders/config.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return {name: info.default for name, info in module.ConsumerSettings.model_fields.items()}


def model_from_template(host_environments: int | None = None, overrides: dict[str, str] | None = None) -> Model:
    """The model as `make capacity` reads the service (a stage's overrides too): template, `make tune`, quotas."""
    template = read_template(DEFAULT_TEMPLATE)
    durations = measured_durations()
    service = read_service(template, durations, measure_stored_order(template), overrides)
    quotas = json.loads((LAB / "capacity.json").read_text())["quotas"]
    tune = json.loads((PROJECT_ROOT / "bench" / "tune-ApiFunction.json").read_text())
    consumer_tune = json.loads((PROJECT_ROOT / "bench" / "tune-OrdersConsumer.json").read_text())
    row = next(r for r in tune["rows"] if int(r["memory_mb"]) == service.api_memory_mb)
    consumer_row = next(r for r in consumer_tune["rows"] if int(r["memory_mb"]) == service.consumer_memory_mb)
    resources = template["Resources"]
    queue = resources["OrdersQueue"]["Properties"]
    consumer_settings = resources["OrdersConsumer"]["Properties"]["Environment"]["Variables"]
    defaults = consumer_defaults()
    per_poller = int(quotas["sqs_provisioned_poller_concurrency"]["value"])
    mapping = (  # provisioned pollers: their minimum from the start, 1,000 more a minute, MaximumPollers x 10
        (
            service.minimum_pollers * per_poller,
            int(quotas["sqs_mapping_provisioned_scale_up_per_minute"]["value"]),
            int(quotas["sqs_mapping_provisioned_max_concurrency"]["value"]),
            service.maximum_pollers * per_poller,
        )
        if service.minimum_pollers
        else (
            int(quotas["sqs_mapping_initial_concurrency"]["value"]),
            int(quotas["sqs_mapping_scale_up_per_minute"]["value"]),
            int(quotas["sqs_mapping_on_demand_concurrency"]["value"]),
            service.maximum_concurrency,
        )
    )
    return Model(
        api_ms=service.api_ms,
        api_init_ms=float(row.get("init_ms") or 0.0),
        api_first_ms=float(row.get("first_invocation_ms") or row["duration_ms"]),
        route_rate=service.route_rate_limit,
        route_burst=service.route_burst_limit,
        account_concurrency=int(quotas["lambda_account_concurrency"]["value"]),
        scale_out_per_window=int(quotas["lambda_scaling_per_10s"]["value"]),
        consumer_ms_per_record=service.consumer_ms_per_record,
        consumer_init_ms=float(consumer_row.get("init_ms") or 0.0),
        batch_size=service.batch_size,
        batching_window_s=service.batching_window_s,
        mapping_initial=mapping[0],
        mapping_per_minute=mapping[1],
        mapping_max=mapping[2],
        maximum_concurrency=mapping[3],
        visibility_timeout_s=float(queue["VisibilityTimeout"]),
        max_receive_count=int(queue["RedrivePolicy"]["maxReceiveCount"]),
        day_shards=service.day_shards,
        partition_wcu=float(quotas["dynamodb_partition_wcu"]["value"]),
        write_units=math.ceil(service.index_item_bytes / 1024),  # what a day shard's partition takes
        write_attempts=int(consumer_settings.get("BATCH_WRITE_MAX_ATTEMPTS", defaults["batch_write_max_attempts"])),
        retry_base_s=int(consumer_settings.get("BATCH_WRITE_BASE_DELAY_MS", defaults["batch_write_base_delay_ms"]))
        / 1000,
        retry_cap_s=int(consumer_settings.get("BATCH_WRITE_MAX_DELAY_MS", defaults["batch_write_max_delay_ms"])) / 1000,
        host_environments=host_environments,
    )


def summary(run: Run, duration_s: float) -> dict[str, str]:
    seconds = run.seconds
    total: collections.Counter[str] = collections.Counter()
    for second in seconds:
        total.update(
            {
                "arrivals": second.arrivals,
                "accepted": second.accepted,
                "429 (route)": second.throttled_route,
                "429 (Lambda)": second.throttled_lambda,
                "cold starts": second.cold_starts,
                "unprocessed writes": second.unprocessed,
            }
        )
    return {
        **{name: f"{count:,}" for name, count in total.items()},
        "POST latency p50 / p99": f"{run.percentile(0.5):,.0f} / {run.percentile(0.99):,.0f} ms",
        "peak ApiFunction concurrency": f"{max((s.api_concurrency for s in seconds), default=0):,}",
        "peak consumer concurrency": f"{max((s.consumer_concurrency for s in seconds), default=0):,}",
        "peak queue depth / oldest message": f"{max((s.queue_depth for s in seconds), default=0):,} / "
        f"{max((s.oldest_age_s for s in seconds), default=0):,.0f} s",
        "stored / dead-lettered": f"{run.stored:,} / {run.dead_lettered:,}",
        "queue drained": f"{run.drained_at_s - duration_s:,.0f} s after the traffic"
        if run.drained_at_s is not None
        else "not within the horizon",
    }


def plot(run: Run, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = list(range(1, len(run.seconds) + 1))
    figure, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    series = (
        ("orders/s", {"arrived": "arrivals", "accepted": "accepted", "stored": "stored"}),
        (
            "throttles/s",
            {"429 route": "throttled_route", "429 Lambda": "throttled_lambda", "unprocessed": "unprocessed"},
        ),
        (
            "concurrency",
            {"ApiFunction": "api_concurrency", "consumer": "consumer_concurrency", "cold starts/s": "cold_starts"},
        ),
        ("queue", {"depth": "queue_depth", "oldest (s)": "oldest_age_s"}),
    )
    for axis, (label, lines) in zip(axes, series, strict=True):
        for name, attribute in lines.items():
            axis.plot(t, [getattr(second, attribute) for second in run.seconds], label=name)
        axis.set_ylabel(label)
        axis.legend(loc="upper right", fontsize="small")
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="workbench spike", description="a traffic spike through the service, simulated"
    )
    parser.add_argument("--profile", default="ramp", choices=("steady", "ramp", "daily"))
    parser.add_argument(
        "--rate", type=float, default=None, help="orders a second at the peak (default: the stage's, or 1000)"
    )
    parser.add_argument("--ramp-s", type=float, default=60, help="ramp: 0 to the rate in this long; daily: the day")
    parser.add_argument("--duration-s", type=float, default=180, help="how long orders arrive")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    parser.add_argument("--calibrate", action="store_true", help="beside `make load` on this host: both, compared")
    parser.add_argument(
        "--stage", default=None, help="a samconfig.toml environment: its settings (its target, unless --rate)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change one of the model's inputs (route_rate=12000, maximum_concurrency=200, day_shards=1, …)",
    )
    args = parser.parse_args(argv)
    try:
        stage = read_stage(args.stage) if args.stage else None
    except StageError as error:
        print(f"workbench spike: {error}", file=sys.stderr)
        return 2
    args.rate = args.rate if args.rate is not None else stage.orders_per_second if stage else 1000.0
    if args.rate <= 0 or args.duration_s <= 0:
        print("workbench spike: --rate and --duration-s must be positive", file=sys.stderr)
        return 2
    if args.calibrate:
        return calibrate()
    try:
        model = changed(model_from_template(overrides=stage.overrides if stage else None), args.set)
    except ValueError as error:
        print(f"workbench spike: {error}", file=sys.stderr)
        return 2
    simulation = Simulation(model, profile_rate(args.profile, args.rate, args.ramp_s), args.duration_s, args.seed)
    run = simulation.simulate(horizon_s=args.duration_s + 3600)
    title = f"{args.profile} to {args.rate:,.0f} orders/s over {args.duration_s:,.0f} s (simulated)"
    report(title, summary(run, args.duration_s))
    chart = plot(run, title, args.out / f"spike-{args.profile}-{args.rate:g}.png")
    print(f"wrote {chart}")
    return 0


def changed(model: Model, settings: list[str]) -> Model:
    """The model with `FIELD=VALUE` changes, each checked against the model's fields and their types."""
    fields = {f.name: f for f in dataclasses.fields(Model)}
    changes: dict[str, Any] = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in fields or not value:
            raise ValueError(f"--set {setting!r}: expected FIELD=VALUE, FIELD one of {', '.join(fields)}")
        changes[name] = float(value) if "float" in str(fields[name].type) else int(value)
    return dataclasses.replace(model, **changes)


def report(title: str, rows: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in rows.items():
        table.add_row(name, value)
    Console().print(table)


def calibrate(requests: int = 5000, clients: int = 50) -> int:
    """Predict `make load` (REQUESTS x CLIENTS against start-api) from this host's capacity measured apart, then
    run it. The host CPU one order costs (every process: HTTP, the local cloud, MySQL, the functions, the
    clients, and the kernel's loopback work) is the slope between two runs of 10 clients, 200 and 600 orders
    (what every run costs once, the service's start and its cold starts, cancels out); it is the host's, so
    calibrate on a quiet host. The rest of a POST's time is a one-client run's median less that CPU. The
    simulation runs the closed loop on the host's cores with the runner's 10 environments a function."""
    from workbench.scenarios.load import run_load

    small, large = run_load(200, 10), run_load(600, 10)
    cpu_ms = (large.host_cpu_s - small.host_cpu_s) / (large.requests - small.requests) * 1000
    wait_ms = max(0.0, run_load(100, 1).percentile(0.5) - cpu_ms)
    cores = os.cpu_count() or 1
    model = dataclasses.replace(
        model_from_template(), host_environments=10, host_cores=cores, host_cpu_ms=cpu_ms, host_wait_ms=wait_ms
    )
    run = Simulation(model, lambda t: 0.0, duration_s=0.0).simulate(horizon_s=3600, clients=clients, requests=requests)
    load = run_load(requests, clients)
    answered_s = max(1, sum(1 for second in run.seconds if second.accepted))
    measured = {"throughput": requests / load.seconds, "p50": load.percentile(0.5), "p95": load.percentile(0.95)}
    simulated = {"throughput": requests / answered_s, "p50": run.percentile(0.5), "p95": run.percentile(0.95)}
    rows = {
        "this host, measured apart": f"{cores} cores; {cpu_ms:.1f} ms of CPU an order, {wait_ms:.1f} ms besides",
        "throughput, orders/s (make load / simulated)": f"{measured['throughput']:,.0f} / "
        f"{simulated['throughput']:,.0f}",
        "POST p50, ms (make load / simulated)": f"{measured['p50']:,.0f} / {simulated['p50']:,.0f}",
        "POST p95, ms (make load / simulated)": f"{measured['p95']:,.0f} / {simulated['p95']:,.0f}",
        "simulated / measured": " / ".join(
            f"{name} {simulated[name] / measured[name]:.2f}x" for name in measured if measured[name]
        ),
    }
    report(f"calibration: {requests} requests from {clients} clients on this host", rows)
    return 0
