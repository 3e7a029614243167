"""`make capacity [RATE=…] [STAGE=…]`: what a target rate of orders a second asks of each component, against its limit.

Per order, the demand is derived from the template and the code (a BatchWriteItem carries 25, the queue's
batch size, the index the consumer writes, the price cache's bound) and from measured durations (`make
tune` of ApiFunction and OrdersConsumer at the template's MemorySize). Concurrency is Little's law: arrivals
a second times seconds each. Each limit is a quota or a template setting, with its source
(measure/capacity.json) and whether AWS can raise it. A limit the rate exceeds is a bottleneck: a template
setting moves by changing the template, an adjustable quota by a quota request, the others only by design.
The monthly cost per component uses the same rates and prices.json / capacity.json.

A stage (samconfig.toml) is read as it deploys: its parameter_overrides over the template's defaults, and its
target rate from `[<stage>.capacity.parameters] orders_per_second` (a section SAM CLI never reads). Each
setting the target decides is derived here, with its one-line reason, and checked against the stage.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable

from sam_testkit.sam_template import parameters, read_template
from workbench.emulator.cloud import applied
from workbench.emulator.template import DEFAULT_TEMPLATE, PROJECT_ROOT
from workbench.measure.cost import (
    LAB,
    SECONDS_PER_MONTH,
    MissingTuneResult,
    Prices,
    durations_from_tune,
    ensure_tune_result,
)
from workbench.measure.telemetry import Telemetry, measure_telemetry

SECONDS_PER_DAY = 86_400
DYNAMODB_WRITE_UNIT_BYTES = 1024  # a write unit per KB of item
DYNAMODB_READ_UNIT_BYTES = 4096  # a read unit per 4 KB, strongly consistent (half for eventually consistent)
PARTITION_TARGET_USE = 0.8  # a partition kept at 80 % of its write units: room for a day's uneven minutes
ONE_VCPU_MB, MAX_MEMORY_MB = 1769, 10240  # CPU ∝ memory: 1,769 MB is one vCPU
TIGHT_HEADROOM = 1.5  # a quota met with less room than this is requested before launch too
ROOM = 1.5  # a setting derived from a target leaves a third more: a spike, and the backlog it leaves to drain
ON_DEMAND_START = 5  # batches an SQS mapping starts with: a MaximumConcurrency below it saves nothing
SAMCONFIG = PROJECT_ROOT / "samconfig.toml"
SQS_MESSAGES_PER_RECEIVE = 10  # the mapping's pollers receive up to 10 messages a call, and delete in tens
TUNED = {  # the durations the model needs: function, the event its `make tune` ran
    "ApiFunction": "events/api_post_order.json",
    "OrdersConsumer": "events/sqs_orders_batch.json",
}


@dataclass(frozen=True)
class Limit:
    """A ceiling on one component: what the rate needs of it, and what it allows."""

    component: str
    per_order: str  # what one order costs it, in words
    needed: float  # at the target rate
    limit: float
    unit: str
    kind: str  # "setting" (template), "quota" (adjustable), "hard" (by design only)
    source: str
    lever: str  # what moves it

    @property
    def headroom(self) -> float:
        return self.limit / self.needed if self.needed else math.inf

    @property
    def exceeded(self) -> bool:
        return self.needed > self.limit

    @property
    def tight(self) -> bool:
        """Under the limit by less than a third: a spike or a retry storm crosses it (request it anyway)."""
        return not self.exceeded and self.headroom < TIGHT_HEADROOM


@dataclass(frozen=True)
class Service:
    """What the model reads of the template and the measurements."""

    api_memory_mb: int
    api_ms: float  # a warm POST at that memory
    consumer_memory_mb: int
    consumer_ms_per_record: float  # a warm batch at that memory, per record (the fixed part spread: an upper bound)
    batch_size: int
    batching_window_s: float
    maximum_concurrency: int  # on-demand pollers' cap
    minimum_pollers: int  # 0: on-demand pollers; else provisioned, this many always on
    maximum_pollers: int
    route_rate_limit: float
    route_burst_limit: float
    item_bytes: int  # one stored order
    index_item_bytes: int  # what the day index keeps of it
    indexes_written: int  # the orders table's global secondary indexes (each written with every order)
    day_index: str  # the index the rollup reads a day from
    day_shards: int  # the day's partitions of that index
    rollup_memory_mb: int
    rollup_timeout_s: float
    rollup_readers: int  # shards read at once
    rollup_runs: int  # runs a day is handed to, each reading its share of the shards
    rollup_items_per_cpu_s: float  # index items one CPU parses (botocore) and sums a second (measured)
    catalog_max_age_s: float
    catalog_skus: int
    secret_max_age_s: float
    database_min_acus: float
    database_max_acus: float
    proxy_max_connections_percent: float


def profile_rate(name: str, rate: float, ramp_s: float) -> Callable[[float], float]:
    """Orders a second at time t: steady; a ramp from 0 to the rate in `ramp_s`; a day's curve compressed
    into `ramp_s` (a trough at a tenth of the rate, the peak at the rate)."""
    if name == "steady":
        return lambda t: rate
    if name == "ramp":
        return lambda t: rate * min(1.0, t / ramp_s) if ramp_s > 0 else rate
    if name == "daily":
        return lambda t: rate * (0.55 - 0.45 * math.cos(2 * math.pi * t / ramp_s))
    raise ValueError(f"unknown profile {name!r}: steady, ramp or daily")


def day_share(profile: str) -> float:
    """A day's orders under the profile's curve, as a share of a whole day at its peak."""
    rate_at = profile_rate(profile, 1.0, SECONDS_PER_DAY)
    return sum(rate_at(t) for t in range(0, SECONDS_PER_DAY, 60)) / (SECONDS_PER_DAY / 60)


class Deployed:
    """The template as a stage deploys it: its parameter values, conditions decided (SAM CLI's own resolver)."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str] | None = None) -> None:
        self.template = copy.deepcopy(template)
        symbols = IntrinsicsSymbolTable(template=self.template, logical_id_translator=parameters(template, overrides))
        self._resolver = IntrinsicResolver(template=self.template, symbol_resolver=symbols)

    def value(self, value: Any, default: Any = None) -> Any:
        """A property as CloudFormation applies it (the runner's `applied`), absent or AWS::NoValue as `default`."""
        decided = applied(value, lambda v: self._resolver.intrinsic_property_resolver(v, False))
        return default if decided is None else self._resolver.intrinsic_property_resolver(decided, True)


@dataclass(frozen=True)
class StoredOrder:
    """A sample order as src/ stores it (measured by the service's own code): its sizes, and the rollup's pace."""

    item_bytes: int
    index_item_bytes: int
    rollup_items_per_cpu_s: float


def read_service(
    template: dict[str, Any],
    durations: dict[str, dict[int, float]],
    stored: StoredOrder,
    overrides: dict[str, str] | None = None,
) -> Service:
    deployed = Deployed(template, overrides)
    value = deployed.value
    resources = template["Resources"]
    api, consumer = resources["ApiFunction"]["Properties"], resources["OrdersConsumer"]["Properties"]
    rollup = resources["DailyRollupFunction"]["Properties"]
    rollup_variables = rollup["Environment"]["Variables"]
    (queue_event,) = [e["Properties"] for e in consumer["Events"].values() if e["Type"] == "SQS"]
    stage = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::HttpApi")
    route = stage.get("DefaultRouteSettings", {})
    table = resources["OrdersTable"]["Properties"]
    (index,) = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == rollup_variables["ORDERS_BY_DAY_INDEX"]]
    batch_event = json.loads((PROJECT_ROOT / TUNED["OrdersConsumer"]).read_text())["Records"]
    seed = (PROJECT_ROOT / "db" / "seed_catalog.sql").read_text()
    api_memory, consumer_memory = int(api["MemorySize"]), int(consumer["MemorySize"])
    records = len(batch_event)
    pollers = value(queue_event.get("ProvisionedPollerConfig"), {})
    (proxy_targets,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::RDS::DBProxyTargetGroup"]
    (cluster,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::RDS::DBCluster"]
    database_acus = value(cluster["ServerlessV2ScalingConfiguration"])
    return Service(
        api_memory_mb=api_memory,
        api_ms=durations["ApiFunction"][api_memory],
        consumer_memory_mb=consumer_memory,
        consumer_ms_per_record=durations["OrdersConsumer"][consumer_memory] / records,
        batch_size=int(value(queue_event["BatchSize"])),
        batching_window_s=float(value(queue_event.get("MaximumBatchingWindowInSeconds"), 0)),
        # the parameter itself, even when provisioned pollers leave it out: what on-demand pollers would take
        maximum_concurrency=int(value({"Ref": "ConsumerMaximumConcurrency"})),
        minimum_pollers=int(pollers.get("MinimumPollers", 0)),
        maximum_pollers=int(pollers.get("MaximumPollers", 0)),
        route_rate_limit=float(value(route["ThrottlingRateLimit"])),
        route_burst_limit=float(value(route["ThrottlingBurstLimit"])),
        item_bytes=stored.item_bytes,
        index_item_bytes=stored.index_item_bytes,
        indexes_written=len(table["GlobalSecondaryIndexes"]),
        day_index=index["IndexName"],
        day_shards=int(value(rollup_variables["ORDER_DAY_SHARDS"])),
        rollup_memory_mb=int(rollup["MemorySize"]),
        rollup_timeout_s=float(rollup["Timeout"]),
        rollup_readers=int(rollup_variables.get("ROLLUP_READERS", 8)),
        rollup_runs=int(value(rollup_variables["ROLLUP_RUNS"])),
        rollup_items_per_cpu_s=stored.rollup_items_per_cpu_s,
        catalog_max_age_s=float(api["Environment"]["Variables"]["CATALOG_MAX_AGE_SECONDS"]),
        catalog_skus=seed.count("\n    ('"),
        secret_max_age_s=float(api["Environment"]["Variables"]["SECRET_MAX_AGE_SECONDS"]),
        database_min_acus=float(database_acus["MinCapacity"]),
        database_max_acus=float(database_acus["MaxCapacity"]),
        proxy_max_connections_percent=float(proxy_targets["ConnectionPoolConfigurationInfo"]["MaxConnectionsPercent"]),
    )


@dataclass(frozen=True)
class Demand:
    """What a rate asks of the service, derived once for its limits and for the settings it decides."""

    api_concurrency: float
    consumer_concurrency: float
    write_units: int  # per stored order
    index_write_units: int
    catalog_queries: float  # a second
    rollup_pace: float  # index items a second, per run
    day_items: float
    runs_needed: int
    shards_needed: int
    database_connections: float
    connection_budget: float
    acus_needed: float


def demand(service: Service, rate: float, quotas: dict[str, dict[str, Any]], share: float = 1.0) -> Demand:
    """`rate` orders a second at the peak through the service: concurrency, write units, queries; a day's
    orders (its `share` of a day at the peak) for the rollup's runs."""
    api_concurrency = rate * service.api_ms / 1000  # Little's law: arrivals a second x seconds each
    consumer_concurrency = rate * service.consumer_ms_per_record / 1000
    write_units = math.ceil(service.item_bytes / DYNAMODB_WRITE_UNIT_BYTES)
    index_write_units = math.ceil(service.index_item_bytes / DYNAMODB_WRITE_UNIT_BYTES)
    # The price cache: each environment asks for each SKU at most once per bound (0: one query per order).
    catalog_queries = (
        min(rate, api_concurrency * service.catalog_skus / service.catalog_max_age_s)
        if service.catalog_max_age_s
        else rate
    )
    # The rollup reads the day's shards, `rollup_readers` at once, and turns each item into totals on the CPU its
    # memory buys: the slower of the two paces it.
    partition_items_per_s = float(quotas["dynamodb_partition_rcu"]["value"]) * 2 * DYNAMODB_READ_UNIT_BYTES
    partition_items_per_s /= service.index_item_bytes  # eventually consistent reads: 8 KB a read unit
    readable = min(service.day_shards, service.rollup_readers) * partition_items_per_s
    cpu_share = min(service.rollup_memory_mb, MAX_MEMORY_MB) / ONE_VCPU_MB
    rollup_pace = min(readable, service.rollup_items_per_cpu_s * min(cpu_share, 1.0))  # one thread holds the GIL
    day_items = rate * share * SECONDS_PER_DAY
    # Runs a day needs at this memory, each kept to 80 % of its Timeout (a run reads whole shards)
    runs_needed = math.ceil(day_items / (rollup_pace * service.rollup_timeout_s * PARTITION_TARGET_USE))
    partition_use = PARTITION_TARGET_USE * quotas["dynamodb_partition_wcu"]["value"]
    shards_needed = math.ceil(rate * index_write_units / partition_use)
    # RDS Proxy multiplexes (autocommit: no pinning), so a query holds a database connection only while it runs:
    # at most the POST that sends it. Each rollup run holds one while it writes its totals.
    database_connections = catalog_queries * service.api_ms / 1000 + max(service.rollup_runs, runs_needed)
    connection_budget = proxy_budget(service.database_max_acus, service.proxy_max_connections_percent, quotas)
    acus_needed = database_acus_for(database_connections, service.proxy_max_connections_percent, quotas)
    return Demand(
        api_concurrency=api_concurrency,
        consumer_concurrency=consumer_concurrency,
        write_units=write_units,
        index_write_units=index_write_units,
        catalog_queries=catalog_queries,
        rollup_pace=rollup_pace,
        day_items=day_items,
        runs_needed=runs_needed,
        shards_needed=shards_needed,
        database_connections=database_connections,
        connection_budget=connection_budget,
        acus_needed=acus_needed,
    )


def limits(service: Service, rate: float, quotas: dict[str, dict[str, Any]], share: float = 1.0) -> list[Limit]:
    """Every ceiling at `rate` orders a second."""

    def against(name: str, component: str, per_order: str, needed: float, lever: str) -> Limit:
        q = quotas[name]
        kind = "quota" if q["adjustable"] else "hard"
        return Limit(component, per_order, needed, float(q["value"]), q["unit"], kind, q["source"], lever)

    d = demand(service, rate, quotas, share)
    return [
        Limit(
            "HTTP API route throttling",
            "1 request",
            rate,
            service.route_rate_limit,
            "requests/s",
            "setting",
            "template.yaml, parameter ApiThrottlingRateLimit",
            "ApiThrottlingRateLimit (and ApiThrottlingBurstLimit) at deploy",
        ),
        against(
            "http_api_account_rps", "HTTP API, account", "1 request", rate, "quota request: API Gateway throttle rate"
        ),
        against(
            "lambda_account_concurrency",
            "Lambda concurrency, account",
            f"{service.api_ms:.0f} ms of ApiFunction + {service.consumer_ms_per_record:.1f} ms of OrdersConsumer",
            d.api_concurrency + d.consumer_concurrency + max(service.rollup_runs, d.runs_needed),  # + the rollup's runs
            "quota request: Lambda concurrent executions",
        ),
        *consumer_limits(service, d.consumer_concurrency, quotas),
        Limit(
            f"DynamoDB index {service.day_index}, one day shard",
            f"{d.index_write_units} write unit ({service.index_item_bytes} B kept) on 1 of {service.day_shards} shards",
            rate * d.index_write_units / service.day_shards,
            PARTITION_TARGET_USE * float(quotas["dynamodb_partition_wcu"]["value"]),
            "write units/s (80 % of a partition's 1,000)",
            "setting",
            quotas["dynamodb_partition_wcu"]["source"],
            f"OrderDayShards >= {d.shards_needed} (only ever raised)",
        ),
        against(
            "dynamodb_table_on_demand_wru",
            "DynamoDB orders table, on-demand",
            f"{d.write_units + d.index_write_units * service.indexes_written} write units (table + index)",
            rate * (d.write_units + d.index_write_units * service.indexes_written),
            "quota request: DynamoDB table throughput (on-demand maximum)",
        ),
        against(
            "secrets_manager_get_secret_value_rps",
            "Secrets Manager GetSecretValue",
            f"1 per environment per {service.secret_max_age_s:.0f} s",
            (d.api_concurrency + 1) / service.secret_max_age_s,
            "SECRET_MAX_AGE_SECONDS",
        ),
        Limit(
            "DailyRollupFunction, one run's share of a day",
            f"1 item to read and sum ({d.rollup_pace:,.0f} items/s at {service.rollup_memory_mb} MB), "
            f"over {service.rollup_runs} run(s)",
            d.day_items / service.rollup_runs / d.rollup_pace,
            service.rollup_timeout_s,
            "s (its Timeout)",
            "setting",
            "template.yaml, DailyRollupFunction Timeout and MemorySize; parameter RollupRuns",
            f"RollupRuns >= {d.runs_needed} (OrderDayShards at least as many), or MemorySize for CPU",
        ),
        Limit(
            "RDS Proxy, database connections",
            f"{d.catalog_queries / rate:.4f} catalog queries (1 per SKU per environment per "
            f"{service.catalog_max_age_s:.0f} s), each held <= {service.api_ms:.0f} ms; + 1 a rollup run",
            d.database_connections,
            d.connection_budget,
            f"connections ({service.proxy_max_connections_percent:.0f} % of max_connections "
            f"at {service.database_max_acus:g} ACUs)",
            "setting",
            quotas["aurora_mysql_serverless_v2_max_connections"]["source"],
            f"DatabaseMaxCapacity >= {d.acus_needed:g}, or CATALOG_MAX_AGE_SECONDS",
        ),
    ]


def consumer_limits(service: Service, concurrency: float, quotas: dict[str, dict[str, Any]]) -> list[Limit]:
    """The SQS mapping's ceilings: MaximumConcurrency and on-demand pollers' own, or provisioned pollers'."""
    per_order = f"1/{service.batch_size} of a batch"
    per_poller = int(quotas["sqs_provisioned_poller_concurrency"]["value"])
    if service.minimum_pollers:
        provisioned = quotas["sqs_mapping_provisioned_max_concurrency"]
        return [
            Limit(
                "OrdersConsumer provisioned pollers",
                per_order,
                concurrency,
                service.maximum_pollers * per_poller,
                f"concurrent batches ({service.maximum_pollers} pollers x {per_poller})",
                "setting",
                quotas["sqs_provisioned_poller_concurrency"]["source"],
                f"ConsumerMaximumPollers >= {math.ceil(concurrency / per_poller)}",
            ),
            Limit(
                "SQS mapping, provisioned pollers",
                per_order,
                concurrency,
                float(provisioned["value"]),
                provisioned["unit"],
                "hard",
                provisioned["source"],
                "more than one queue and mapping",
            ),
        ]
    on_demand = quotas["sqs_mapping_on_demand_concurrency"]
    return [
        Limit(
            "OrdersConsumer MaximumConcurrency",
            per_order,
            concurrency,
            service.maximum_concurrency,
            "concurrent batches",
            "setting",
            "template.yaml, parameter ConsumerMaximumConcurrency",
            "ConsumerMaximumConcurrency (at most 1,000; provisioned pollers beyond)",
        ),
        Limit(
            "SQS mapping, on-demand pollers",
            per_order,
            concurrency,
            float(on_demand["value"]),
            on_demand["unit"],
            "setting",
            on_demand["source"],
            "ConsumerMinimumPollers > 0 (provisioned pollers, billed hourly)",
        ),
    ]


@dataclass(frozen=True)
class Derived:
    """A template parameter a target decides: the value it needs, why, and what the stage has."""

    parameter: str
    needed: float
    now: float
    why: str
    at_least: bool  # any value as high does (only ever raised); otherwise the target decides it exactly

    @property
    def holds(self) -> bool:
        return self.now >= self.needed if self.at_least else self.now == self.needed


def derive(service: Service, rate: float, quotas: dict[str, dict[str, Any]], share: float = 1.0) -> list[Derived]:
    """Each setting `rate` orders a second at the peak decides, with its derivation in one line."""
    d = demand(service, rate, quotas, share)
    route_rate = math.ceil(rate * ROOM / 100) * 100
    burst = min(2 * route_rate, int(quotas["http_api_account_burst"]["value"]))
    consumers = math.ceil(d.consumer_concurrency * ROOM)
    on_demand_cap = min(
        quotas["sqs_mapping_maximum_concurrency"]["value"], quotas["sqs_mapping_on_demand_concurrency"]["value"]
    )
    per_poller = quotas["sqs_provisioned_poller_concurrency"]["value"]
    settings = [
        Derived("ApiThrottlingRateLimit", route_rate, service.route_rate_limit, "the target x 1.5, in hundreds", False),
        Derived(
            "ApiThrottlingBurstLimit",
            burst,
            service.route_burst_limit,
            "2 s of the rate, at most the account's 5,000",
            False,
        ),
        Derived(
            "OrderDayShards",
            max(d.shards_needed, d.runs_needed),
            service.day_shards,
            f"target x {d.index_write_units} write unit / 800 (80 % of a partition's 1,000), and no fewer than "
            "RollupRuns (a run reads whole shards)",
            True,
        ),
        Derived(
            "RollupRuns",
            d.runs_needed,
            service.rollup_runs,
            f"a day's orders / {d.rollup_pace * service.rollup_timeout_s * PARTITION_TARGET_USE:,.0f} "
            f"a run sums in 80 % of its {service.rollup_timeout_s:.0f} s",
            True,
        ),
        Derived(
            "DatabaseMaxCapacity",
            d.acus_needed,
            service.database_max_acus,
            f"{d.database_connections:,.1f} connections within {service.proxy_max_connections_percent:.0f} % of "
            "max_connections",
            True,
        ),
    ]
    if consumers <= on_demand_cap:  # on-demand pollers carry it: provisioned ones would only add an hourly bill
        return [
            *settings,
            Derived(
                "ConsumerMaximumConcurrency",
                max(ON_DEMAND_START, consumers),
                service.maximum_concurrency,
                f"{d.consumer_concurrency:,.1f} batches at once x 1.5, at least a mapping's first {ON_DEMAND_START}",
                True,
            ),
            Derived("ConsumerMinimumPollers", 0, service.minimum_pollers, "on-demand pollers carry the target", False),
        ]
    return [
        *settings,
        Derived(
            "ConsumerMinimumPollers",
            min(max(2, math.ceil(d.consumer_concurrency / per_poller)), 200),
            service.minimum_pollers,
            f"{d.consumer_concurrency:,.0f} batches at once / {per_poller:g} a poller, always on (2-200)",
            False,
        ),
        Derived(
            "ConsumerMaximumPollers",
            min(max(2, math.ceil(consumers / per_poller)), int(quotas["sqs_mapping_maximum_pollers"]["value"])),
            service.maximum_pollers,
            f"{d.consumer_concurrency:,.0f} batches at once x 1.5 / {per_poller:g} a poller",
            True,
        ),
    ]


def max_connections(maximum_acus: float, quotas: dict[str, dict[str, Any]]) -> int:
    """Aurora MySQL Serverless v2's max_connections: set by the maximum ACUs, the table's step at or below them."""
    table = quotas["aurora_mysql_serverless_v2_max_connections"]["by_maximum_acus"]
    return int(max((float(acus), value) for acus, value in table.items() if float(acus) <= max(maximum_acus, 1))[1])


def proxy_budget(maximum_acus: float, percent: float, quotas: dict[str, dict[str, Any]]) -> float:
    """The database connections RDS Proxy may open: MaxConnectionsPercent of max_connections."""
    return math.floor(max_connections(maximum_acus, quotas) * percent / 100)


def database_acus_for(connections: float, percent: float, quotas: dict[str, dict[str, Any]]) -> float:
    """The smallest maximum ACUs in the table whose proxy budget holds `connections` (its largest if none does)."""
    steps = sorted(float(acus) for acus in quotas["aurora_mysql_serverless_v2_max_connections"]["by_maximum_acus"])
    return next((acus for acus in steps if proxy_budget(acus, percent, quotas) >= connections), steps[-1])


def monthly_cost(
    service: Service,
    mean_rate: float,
    prices: Prices,
    extra: dict[str, dict[str, Any]],
    telemetry: Telemetry | None = None,
) -> dict[str, float]:
    """USD a month at `mean_rate` orders a second on average, per component: arm64 Lambda on demand, warm
    durations; the database's ACUs at the template's minimum (their growth with load is not modelled)."""
    orders = mean_rate * SECONDS_PER_MONTH
    gb_ms = service.api_ms * service.api_memory_mb + service.consumer_ms_per_record * service.consumer_memory_mb
    write_units = math.ceil(service.item_bytes / DYNAMODB_WRITE_UNIT_BYTES) + service.indexes_written * math.ceil(
        service.index_item_bytes / DYNAMODB_WRITE_UNIT_BYTES
    )
    proxy = extra["rds_proxy_acu_hour"]
    hours = SECONDS_PER_MONTH / 3600
    pollers = (
        {  # the minimum is billed around the clock; scaling above it is not modelled
            "SQS provisioned pollers (the minimum)": service.minimum_pollers
            * extra["sqs_provisioned_poller_epu_hour"]["value"]
            * hours
        }
        if service.minimum_pollers
        else {}
    )
    logs = (
        {
            "CloudWatch Logs (the functions' lines)": orders
            * telemetry.log_bytes_per_order
            / 1e9
            * extra["cloudwatch_logs_ingested_gb"]["value"]
        }
        if telemetry is not None
        else {}
    )
    return (
        pollers
        | logs
        | {
            "Lambda (arm64)": orders * (1 + 1 / service.batch_size) * prices.request
            + orders * gb_ms / 1000 / 1024 * prices.duration["arm64"],
            "API Gateway (HTTP API)": orders * extra["http_api_per_million"]["value"] / 1e6,
            "SQS (send, receive, delete)": orders
            * (1 + 2 / SQS_MESSAGES_PER_RECEIVE)
            * extra["sqs_standard_per_million"]["value"]
            / 1e6,
            "DynamoDB (on-demand writes)": orders * write_units * extra["dynamodb_write_per_million"]["value"] / 1e6,
            "Aurora Serverless v2 (minimum ACUs)": service.database_min_acus
            * extra["aurora_serverless_v2_acu_hour"]["value"]
            * hours,
            "RDS Proxy (8 ACUs minimum)": max(proxy["minimum_acus"], service.database_min_acus)
            * proxy["value"]
            * hours,
        }
    )


class StageError(ValueError):
    """A stage samconfig.toml does not describe: said in one line."""


@dataclass(frozen=True)
class Stage:
    """A samconfig.toml environment: its target, and the parameter values it deploys with."""

    name: str
    orders_per_second: float
    overrides: dict[str, str]


def read_stage(name: str, samconfig: Path = SAMCONFIG) -> Stage:
    config = tomllib.loads(samconfig.read_text())
    if not isinstance(config.get(name), dict):
        raise StageError(f"samconfig.toml has no stage {name!r} (stages: {', '.join(stage_names(samconfig))})")
    deploy = config[name].get("deploy", {}).get("parameters", {})
    overrides = dict(pair.split("=", 1) for pair in shlex.split(deploy.get("parameter_overrides", "")))
    target = config[name].get("capacity", {}).get("parameters", {}).get("orders_per_second")
    if not isinstance(target, int | float) or target <= 0:
        raise StageError(f"samconfig.toml: [{name}.capacity.parameters] needs orders_per_second, a positive number")
    return Stage(name, float(target), overrides)


def stage_names(samconfig: Path = SAMCONFIG) -> list[str]:
    return [name for name, section in tomllib.loads(samconfig.read_text()).items() if isinstance(section, dict)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="workbench capacity", description="a target rate against every limit")
    parser.add_argument("--rate", type=float, default=None, help="orders a second (default: the stage's, or 1000)")
    parser.add_argument("--stage", default=None, help="a samconfig.toml environment: its settings and its target")
    parser.add_argument(
        "--profile",
        default="steady",
        choices=("steady", "daily"),
        help="the rate all day (steady), or the peak of a daily curve (a trough at a tenth): a day's orders, the bill",
    )
    parser.add_argument("--results", type=Path, default=None, help="the results page to write its section of")
    args = parser.parse_args(argv)
    try:
        stage = read_stage(args.stage) if args.stage else None
    except StageError as error:
        print(f"workbench capacity: {error}", file=sys.stderr)
        return 2
    rate = args.rate if args.rate is not None else stage.orders_per_second if stage else 1000.0
    if rate <= 0:
        print("workbench capacity: --rate must be a positive number of orders a second", file=sys.stderr)
        return 2
    return report(rate, args.results, stage, args.profile)


_STORED_ORDER = """
import json, sys, time
import botocore.session
from botocore import parsers
from orders.adapters.orders_table import line_sales, to_item
from orders.logic.rollup import roll_up_day
from orders.models import Order

def size(value):  # DynamoDB's item size: names and values, nested types with their overhead
    kind, inner = next(iter(value.items()))
    if kind == "M":
        return 3 + sum(len(k) + size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(size(v) + 1 for v in inner)
    return len(str(inner).encode())

order = Order.model_validate(json.loads(sys.argv[1]))
item = to_item(order, 16)
projected = {name: value for name, value in item.items() if name in json.loads(sys.argv[2])}
query = botocore.session.get_session().get_service_model("dynamodb").operation_model("Query")
page = json.dumps({"Items": [projected] * 1000, "Count": 1000, "ScannedCount": 1000}).encode()
parser, best = parsers.create_parser("json"), float("inf")

def pages(count):
    for _ in range(count):
        yield from parser.parse({"body": page, "headers": {}, "status_code": 200}, query.output_shape)["Items"]

for _ in range(3):  # the fastest of three: other processes only ever add CPU time
    started = time.process_time()
    roll_up_day(order.created_at.date(), (line_sales(index_item) for index_item in pages(20)))
    best = min(best, time.process_time() - started)
print(json.dumps({
    "item_bytes": sum(len(k) + size(v) for k, v in item.items()),
    "index_item_bytes": sum(len(k) + size(v) for k, v in projected.items()),
    "rollup_items_per_cpu_s": 20_000 / best,
}))
"""


def measure_stored_order(template: dict[str, Any]) -> StoredOrder:
    """The sample order of the consumer's event, stored by src/ (to_item) and projected as the day index keeps it:
    its sizes, and how many of its index items the rollup's code reads a CPU second, botocore's parsing of the
    Query response included (measured now, in a process of its own)."""
    table = template["Resources"]["OrdersTable"]["Properties"]
    rollup_variables = template["Resources"]["DailyRollupFunction"]["Properties"]["Environment"]["Variables"]
    (index,) = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == rollup_variables["ORDERS_BY_DAY_INDEX"]]
    projected = [k["AttributeName"] for k in (*table["KeySchema"], *index["KeySchema"])]
    projected += index["Projection"].get("NonKeyAttributes", [])
    batch = json.loads((PROJECT_ROOT / TUNED["OrdersConsumer"]).read_text())["Records"]
    measured = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _STORED_ORDER, batch[0]["body"], json.dumps(projected)],
        env=os.environ | {"PYTHONPATH": str(PROJECT_ROOT / "src"), "POWERTOOLS_TRACE_DISABLED": "true"},
        capture_output=True,
        text=True,
        check=True,
    )
    return StoredOrder(**json.loads(measured.stdout))


def measured_durations() -> dict[str, dict[int, float]]:
    """Warm durations per memory size, from `make tune` (a quick one run now, and said, where missing)."""
    durations = {}
    for function, event in TUNED.items():
        result = PROJECT_ROOT / "bench" / f"tune-{function}.json"
        if not result.is_file():
            ensure_tune_result(
                {
                    "function": function,
                    "tune_event": event,
                    "tune_result": f"bench/{result.name}",
                    "requests_per_month": 1,
                },
                result,
            )
        durations[function] = {memory: m.duration_ms for memory, m in durations_from_tune(result).items()}
    return durations


def report(rate: float, results_page: Path | None, stage: Stage | None = None, profile: str = "steady") -> int:
    from rich.console import Console

    from workbench.measure.results import ResultTable, write_section

    try:
        template = read_template(DEFAULT_TEMPLATE)
        overrides = stage.overrides if stage else {}
        service = read_service(template, measured_durations(), measure_stored_order(template), overrides)
    except MissingTuneResult as error:
        print(f"workbench capacity: {error}", file=sys.stderr)
        return 2
    data = json.loads((LAB / "capacity.json").read_text())
    share = day_share(profile)
    rows = limits(service, rate, data["quotas"], share)
    deployed = f"stage {stage.name} (samconfig.toml)" if stage else "template.yaml's defaults"
    peak = f"{rate:,.0f} orders/s" + (
        "" if profile == "steady" else f" at the peak of a daily curve ({share:.0%} of it all day)"
    )
    table = ResultTable(
        f"{peak} against each limit, {deployed} (quotas of {data['retrieved']}, measure/capacity.json)",
        ("component", "per order", "needed", "limit", "headroom", "kind", "what moves it"),
    )
    for row in rows:
        limit = "—" if math.isinf(row.limit) else f"{row.limit:,.0f} {row.unit}"
        headroom = "—" if math.isinf(row.headroom) else f"{row.headroom:,.2f}x"
        table.add(row.component, row.per_order, f"{row.needed:,.1f}", limit, headroom, row.kind, row.lever)
    telemetry = measure_telemetry()
    costs = monthly_cost(service, rate * share, Prices.load(), data["prices"], telemetry)
    total = sum(costs.values())
    cost_table = ResultTable(
        f"monthly cost at {rate * share:,.0f} orders/s on average ({data['currency']}, {data['region']} list prices)",
        ("component", "per month", "per million orders"),
    )
    million_orders = rate * share * SECONDS_PER_MONTH / 1e6
    for component, usd in [*costs.items(), ("total", total)]:
        cost_table.add(component, f"{usd:,.2f}", f"{usd / million_orders:,.4f}")
    settings = derive(service, rate, data["quotas"], share)
    settings_table = ResultTable(
        f"settings {rate:,.0f} orders/s decides, against {deployed}",
        ("parameter", "now", "the target needs", "derivation", ""),
    )
    for setting in settings:
        needed = f"{'>= ' if setting.at_least else ''}{setting.needed:g}"
        settings_table.add(
            setting.parameter, f"{setting.now:g}", needed, setting.why, "ok" if setting.holds else "change"
        )
    notes = verdict(rows, rate)
    changes = [f"{s.parameter}={s.needed:g}" for s in settings if not s.holds]
    where = f"{stage.name}'s parameter_overrides in samconfig.toml" if stage else "the stage's parameter_overrides"
    notes.append(f"settings: add to {where}: {' '.join(changes)}" if changes else "settings: all as the target needs")
    notes.append(provisioned_pollers_option(service, rate, data))
    notes.append(
        f"durations: make tune at the template's sizes — ApiFunction {service.api_ms:.1f} ms at "
        f"{service.api_memory_mb} MB, OrdersConsumer {service.consumer_ms_per_record:.2f} ms a record at "
        f"{service.consumer_memory_mb} MB (this machine's emulated CPU, not AWS's); the rollup's code parses and sums "
        f"{service.rollup_items_per_cpu_s:,.0f} index items a CPU second here; not priced: Secrets Manager (about "
        "nothing at these rates), Aurora's growth with load"
    )
    span_gb = rate * share * SECONDS_PER_MONTH * telemetry.span_bytes_per_order / 1e9
    notes.append(
        f"telemetry, measured warm over {telemetry.orders} orders run locally: an order logs "
        f"{telemetry.log_bytes_per_order:,.0f} B (priced above) and sends {telemetry.span_bytes_per_order:,.0f} B of "
        f"spans, {span_gb:,.0f} GB a month: not priced here (Transaction Search bills span ingestion at its own rate)"
    )
    console = Console(width=max(Console().width, 150))
    console.print(table.rich())
    console.print(settings_table.rich())
    console.print(cost_table.rich())
    for note in notes:
        console.print(note)
    if results_page is not None:
        name, command = (
            (f"capacity-{stage.name}", f"make capacity STAGE={stage.name}")
            if stage and rate == stage.orders_per_second
            else (f"capacity-{rate:g}", f"make capacity RATE={rate:g}" + (f" STAGE={stage.name}" if stage else ""))
        )
        if profile != "steady":
            name, command = f"{name}-{profile}", f"{command} PROFILE={profile}"
        write_section(name, command, [table, settings_table, cost_table], notes, results_page)
        console.print(f"wrote the capacity section of {results_page}")
    return 0


def provisioned_pollers_option(service: Service, rate: float, data: dict[str, Any]) -> str:
    """What provisioned pollers would give the consumer at this rate, and their bill for the minimum."""
    if service.minimum_pollers:
        return (
            f"SQS pollers: provisioned, {service.minimum_pollers} to {service.maximum_pollers} (ConsumerMinimumPollers)"
        )
    quotas, price = data["quotas"], data["prices"]["sqs_provisioned_poller_epu_hour"]["value"]
    concurrency = demand(service, rate, quotas).consumer_concurrency
    minimum = min(max(2, math.ceil(concurrency / quotas["sqs_provisioned_poller_concurrency"]["value"])), 200)
    monthly = minimum * price * SECONDS_PER_MONTH / 3600
    return (
        f"option, provisioned SQS pollers (ConsumerMinimumPollers={minimum}): they scale by 1,000 batches a minute "
        f"instead of 300 and stay polling when idle; {minimum} always on cost ${monthly:,.2f} a month "
        f"(${price} a poller-hour)"
    )


def verdict(rows: list[Limit], rate: float) -> list[str]:
    """The first bottleneck, and what is left to do: settings to change, quotas to request, designs to change."""
    exceeded = sorted((r for r in rows if r.exceeded), key=lambda r: r.headroom)
    notes = []
    if exceeded:
        first = exceeded[0]
        notes.append(f"first bottleneck: {first.component}, at {rate * first.headroom:,.0f} orders/s ({first.lever})")
    else:
        tightest = min(rows, key=lambda r: r.headroom)
        notes.append(
            f"no limit below {rate:,.0f} orders/s; the tightest: {tightest.component} ({tightest.headroom:.2f}x)"
        )
    todo = (
        ("change in the template", [r for r in exceeded if r.kind == "setting"]),
        ("request before launch", [r for r in rows if r.kind == "quota" and (r.exceeded or r.tight)]),
        ("unresolved bottleneck (design only)", [r for r in exceeded if r.kind == "hard"]),
    )
    notes += [f"{words}: " + "; ".join(f"{r.component} — {r.lever}" for r in found) for words, found in todo if found]
    return notes
