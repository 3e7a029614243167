"""`make capacity RATE=…`: what a target rate of orders a second asks of each component, against its limit.

Per order, the demand is derived from the template and the code (a BatchWriteItem carries 25, the queue's
batch size, the index the consumer writes, the price cache's bound) and from measured durations (`make
tune` of ApiFunction and OrdersConsumer at the template's MemorySize). Concurrency is Little's law: arrivals
a second times seconds each. Each limit is a quota or a template setting, with its source
(measure/capacity.json) and whether AWS can raise it. A limit the rate exceeds is a bottleneck: a template
setting moves by changing the template, an adjustable quota by a quota request, the others only by design.
The monthly cost per component uses the same rates and prices.json / capacity.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam_testkit.sam_template import read_template
from workbench.emulator.template import DEFAULT_TEMPLATE, PROJECT_ROOT
from workbench.measure.cost import (
    LAB,
    SECONDS_PER_MONTH,
    MissingTuneResult,
    Prices,
    durations_from_tune,
    ensure_tune_result,
)

SECONDS_PER_DAY = 86_400
DYNAMODB_WRITE_UNIT_BYTES = 1024  # a write unit per KB of item
DYNAMODB_READ_UNIT_BYTES = 4096  # a read unit per 4 KB, strongly consistent (half for eventually consistent)
PARTITION_TARGET_USE = 0.8  # a partition kept at 80 % of its write units: room for a day's uneven minutes
ONE_VCPU_MB, MAX_MEMORY_MB = 1769, 10240  # CPU ∝ memory: 1,769 MB is one vCPU
TIGHT_HEADROOM = 1.5  # a quota met with less room than this is requested before launch too
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
    maximum_concurrency: int
    route_rate_limit: float
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


def _parameter_default(template: dict[str, Any], value: Any) -> Any:
    """A property's value, or the default of the parameter it `!Ref`s."""
    if isinstance(value, dict) and "Ref" in value:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


@dataclass(frozen=True)
class StoredOrder:
    """A sample order as src/ stores it (measured by the service's own code): its sizes, and the rollup's pace."""

    item_bytes: int
    index_item_bytes: int
    rollup_items_per_cpu_s: float


def read_service(template: dict[str, Any], durations: dict[str, dict[int, float]], stored: StoredOrder) -> Service:
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
    return Service(
        api_memory_mb=api_memory,
        api_ms=durations["ApiFunction"][api_memory],
        consumer_memory_mb=consumer_memory,
        consumer_ms_per_record=durations["OrdersConsumer"][consumer_memory] / records,
        batch_size=int(queue_event["BatchSize"]),
        batching_window_s=float(queue_event.get("MaximumBatchingWindowInSeconds", 0)),
        maximum_concurrency=int(queue_event["ScalingConfig"]["MaximumConcurrency"]),
        route_rate_limit=float(_parameter_default(template, route["ThrottlingRateLimit"])),
        item_bytes=stored.item_bytes,
        index_item_bytes=stored.index_item_bytes,
        indexes_written=len(table["GlobalSecondaryIndexes"]),
        day_index=index["IndexName"],
        day_shards=int(_parameter_default(template, rollup_variables["ORDER_DAY_SHARDS"])),
        rollup_memory_mb=int(rollup["MemorySize"]),
        rollup_timeout_s=float(rollup["Timeout"]),
        rollup_readers=int(rollup_variables.get("ROLLUP_READERS", 8)),
        rollup_runs=int(_parameter_default(template, rollup_variables["ROLLUP_RUNS"])),
        rollup_items_per_cpu_s=stored.rollup_items_per_cpu_s,
        catalog_max_age_s=float(api["Environment"]["Variables"]["CATALOG_MAX_AGE_SECONDS"]),
        catalog_skus=seed.count("\n    ('"),
        secret_max_age_s=float(api["Environment"]["Variables"]["SECRET_MAX_AGE_SECONDS"]),
        database_min_acus=float(template["Parameters"]["DatabaseMinCapacity"]["Default"]),
    )


def limits(service: Service, rate: float, quotas: dict[str, dict[str, Any]]) -> list[Limit]:
    """Every ceiling at `rate` orders a second."""

    def against(name: str, component: str, per_order: str, needed: float, lever: str) -> Limit:
        q = quotas[name]
        kind = "quota" if q["adjustable"] else "hard"
        return Limit(component, per_order, needed, float(q["value"]), q["unit"], kind, q["source"], lever)

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
    day_items = rate * SECONDS_PER_DAY
    # Runs a day needs at this memory, each kept to 80 % of its Timeout (a run reads whole shards)
    runs_needed = math.ceil(day_items / (rollup_pace * service.rollup_timeout_s * PARTITION_TARGET_USE))
    partition_use = PARTITION_TARGET_USE * quotas["dynamodb_partition_wcu"]["value"]
    shards_needed = math.ceil(rate * index_write_units / partition_use)
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
            api_concurrency + consumer_concurrency + 1,  # + the rollup
            "quota request: Lambda concurrent executions",
        ),
        Limit(
            "OrdersConsumer MaximumConcurrency",
            f"1/{service.batch_size} of a batch",
            consumer_concurrency,
            service.maximum_concurrency,
            "concurrent batches",
            "setting",
            "template.yaml, OrdersConsumer ScalingConfig.MaximumConcurrency",
            "MaximumConcurrency (at most 1,000; provisioned pollers beyond)",
        ),
        against(
            "sqs_mapping_on_demand_concurrency",
            "SQS mapping, on-demand pollers",
            f"1/{service.batch_size} of a batch",
            consumer_concurrency,
            "ProvisionedPollerConfig (provisioned mode)",
        ),
        Limit(
            f"DynamoDB index {service.day_index}, one day shard",
            f"{index_write_units} write unit ({service.index_item_bytes} B kept) on 1 of {service.day_shards} shards",
            rate * index_write_units / service.day_shards,
            PARTITION_TARGET_USE * float(quotas["dynamodb_partition_wcu"]["value"]),
            "write units/s (80 % of a partition's 1,000)",
            "setting",
            quotas["dynamodb_partition_wcu"]["source"],
            f"OrderDayShards >= {shards_needed} (only ever raised)",
        ),
        against(
            "dynamodb_table_on_demand_wru",
            "DynamoDB orders table, on-demand",
            f"{write_units + index_write_units * service.indexes_written} write units (table + index)",
            rate * (write_units + index_write_units * service.indexes_written),
            "quota request: DynamoDB table throughput (on-demand maximum)",
        ),
        against(
            "secrets_manager_get_secret_value_rps",
            "Secrets Manager GetSecretValue",
            f"1 per environment per {service.secret_max_age_s:.0f} s",
            (api_concurrency + 1) / service.secret_max_age_s,
            "SECRET_MAX_AGE_SECONDS",
        ),
        Limit(
            "DailyRollupFunction, one run's share of a day",
            f"1 item to read and sum ({rollup_pace:,.0f} items/s at {service.rollup_memory_mb} MB), "
            f"over {service.rollup_runs} run(s)",
            day_items / service.rollup_runs / rollup_pace,
            service.rollup_timeout_s,
            "s (its Timeout)",
            "setting",
            "template.yaml, DailyRollupFunction Timeout and MemorySize; parameter RollupRuns",
            f"RollupRuns >= {runs_needed} (OrderDayShards at least as many), or MemorySize for CPU",
        ),
        Limit(
            "MySQL catalog queries (RDS Proxy)",
            f"1 per SKU per environment per {service.catalog_max_age_s:.0f} s (price cache)",
            catalog_queries,
            math.inf,
            "queries/s",
            "setting",
            "not modelled: Aurora's capacity per query is not measured here",
            "CATALOG_MAX_AGE_SECONDS; DatabaseMaxCapacity",
        ),
    ]


def monthly_cost(service: Service, rate: float, prices: Prices, extra: dict[str, dict[str, Any]]) -> dict[str, float]:
    """USD a month at `rate`, per component: arm64 Lambda on demand, warm durations; the database's ACUs at the
    template's minimum (their growth with load is not modelled)."""
    orders = rate * SECONDS_PER_MONTH
    gb_ms = service.api_ms * service.api_memory_mb + service.consumer_ms_per_record * service.consumer_memory_mb
    write_units = math.ceil(service.item_bytes / DYNAMODB_WRITE_UNIT_BYTES) + service.indexes_written * math.ceil(
        service.index_item_bytes / DYNAMODB_WRITE_UNIT_BYTES
    )
    proxy = extra["rds_proxy_acu_hour"]
    hours = SECONDS_PER_MONTH / 3600
    return {
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
        "RDS Proxy (8 ACUs minimum)": max(proxy["minimum_acus"], service.database_min_acus) * proxy["value"] * hours,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="workbench capacity", description="a target rate against every limit")
    parser.add_argument("--rate", type=float, default=1000, help="orders a second (default 1000)")
    parser.add_argument("--results", type=Path, default=None, help="the results page to write its section of")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        print("workbench capacity: --rate must be a positive number of orders a second", file=sys.stderr)
        return 2
    return report(args.rate, args.results)


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


def report(rate: float, results_page: Path | None) -> int:
    from rich.console import Console

    from workbench.measure.results import ResultTable, write_section

    try:
        template = read_template(DEFAULT_TEMPLATE)
        service = read_service(template, measured_durations(), measure_stored_order(template))
    except MissingTuneResult as error:
        print(f"workbench capacity: {error}", file=sys.stderr)
        return 2
    data = json.loads((LAB / "capacity.json").read_text())
    rows = limits(service, rate, data["quotas"])
    table = ResultTable(
        f"{rate:,.0f} orders/s against each limit (quotas of {data['retrieved']}, measure/capacity.json)",
        ("component", "per order", "needed", "limit", "headroom", "kind", "what moves it"),
    )
    for row in rows:
        limit = "—" if math.isinf(row.limit) else f"{row.limit:,.0f} {row.unit}"
        headroom = "—" if math.isinf(row.headroom) else f"{row.headroom:,.2f}x"
        table.add(row.component, row.per_order, f"{row.needed:,.1f}", limit, headroom, row.kind, row.lever)
    costs = monthly_cost(service, rate, Prices.load(), data["prices"])
    total = sum(costs.values())
    cost_table = ResultTable(
        f"monthly cost at {rate:,.0f} orders/s ({data['currency']}, {data['region']} list prices)",
        ("component", "per month", "per million orders"),
    )
    million_orders = rate * SECONDS_PER_MONTH / 1e6
    for component, usd in [*costs.items(), ("total", total)]:
        cost_table.add(component, f"{usd:,.2f}", f"{usd / million_orders:,.4f}")
    notes = verdict(rows, rate)
    notes.append(
        f"durations: make tune at the template's sizes — ApiFunction {service.api_ms:.1f} ms at "
        f"{service.api_memory_mb} MB, OrdersConsumer {service.consumer_ms_per_record:.2f} ms a record at "
        f"{service.consumer_memory_mb} MB (this machine's emulated CPU, not AWS's); the rollup's code parses and sums "
        f"{service.rollup_items_per_cpu_s:,.0f} index items a CPU second here; not priced: logs, spans, "
        "Secrets Manager (about nothing at these rates), Aurora's growth with load"
    )
    console = Console(width=max(Console().width, 150))
    console.print(table.rich())
    console.print(cost_table.rich())
    for note in notes:
        console.print(note)
    if results_page is not None:
        write_section(f"capacity-{rate:g}", f"make capacity RATE={rate:g}", [table, cost_table], notes, results_page)
        console.print(f"wrote the capacity section of {results_page}")
    return 0


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
