"""The capacity model (`make capacity`): demands from the template and measured durations, against quotas."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sam_testkit.sam_template import read_template
from workbench.emulator.template import DEFAULT_TEMPLATE
from workbench.measure import capacity
from workbench.measure.capacity import Service, limits, read_service, verdict

QUOTAS = json.loads((capacity.LAB / "capacity.json").read_text())["quotas"]
SERVICE = Service(
    api_memory_mb=512,
    api_ms=50.0,
    consumer_memory_mb=512,
    consumer_ms_per_record=2.0,
    batch_size=100,
    batching_window_s=2.0,
    maximum_concurrency=5,
    route_rate_limit=100.0,
    item_bytes=300,
    index_item_bytes=150,
    indexes_written=1,
    day_index="by-day-shard",
    day_shards=16,
    rollup_memory_mb=1769,
    rollup_timeout_s=900.0,
    rollup_readers=8,
    rollup_runs=1,
    rollup_items_per_cpu_s=50_000.0,
    catalog_max_age_s=60.0,
    catalog_skus=7,
    secret_max_age_s=300.0,
    database_min_acus=0.5,
)


def by_component(rate: float, service: Service = SERVICE) -> dict[str, capacity.Limit]:
    return {row.component: row for row in limits(service, rate, QUOTAS)}


def test_every_quota_has_a_value_a_source_and_whether_it_can_be_raised():
    for name, quota in QUOTAS.items():
        assert quota["value"] > 0, name
        assert isinstance(quota["adjustable"], bool), name
        assert quota["source"], name


def test_concurrency_is_littles_law_over_both_functions():
    # GIVEN 1,000 orders/s at 50 ms a POST and 2 ms a record, THEN 50 + 2 environments, and one rollup
    assert by_component(1000)["Lambda concurrency, account"].needed == pytest.approx(50 + 2 + 1)


SHARD = "DynamoDB index by-day-shard, one day shard"


def test_a_day_shard_takes_its_share_of_the_days_writes_up_to_80_percent_of_a_partition():
    # GIVEN items under 1 KB over 16 shards, THEN 16 x 800 orders/s fit, one more does not
    assert not by_component(16 * 800)[SHARD].exceeded
    above = by_component(16 * 800 + 1)[SHARD]
    assert above.exceeded
    # AND the count it needs is named as the setting to raise
    assert above.kind == "setting"
    assert above.lever.startswith("OrderDayShards >= 17")


def test_index_items_over_a_kilobyte_take_two_write_units_each():
    big = dataclasses.replace(SERVICE, index_item_bytes=1500)
    assert by_component(8 * 800 + 1, big)[SHARD].exceeded
    assert not by_component(8 * 800, big)[SHARD].exceeded


ROLLUP = "DailyRollupFunction, one run's share of a day"


def test_the_rollup_is_paced_by_the_cpu_its_memory_buys_and_shared_by_its_runs():
    # GIVEN 50,000 index items summed a CPU second, at 1,769 MB (one vCPU) and at 512 MB, with a 900 s Timeout
    small = dataclasses.replace(SERVICE, rollup_memory_mb=512)
    # THEN a day of 500 orders/s fits one vCPU's run (43.2 M orders in 864 s), not 512 MB's share of one
    assert by_component(500)[ROLLUP].needed == pytest.approx(500 * 86_400 / 50_000)
    assert not by_component(500)[ROLLUP].exceeded
    assert by_component(500, small)[ROLLUP].exceeded
    # AND four times the rate fits four runs, and the runs it needs are named as the setting to raise
    assert not by_component(2000, dataclasses.replace(SERVICE, rollup_runs=4))[ROLLUP].exceeded
    assert by_component(2000)[ROLLUP].lever.startswith("RollupRuns >= 5 ")


def test_the_price_cache_bounds_catalog_queries_by_environments_not_orders():
    # GIVEN 1,000 orders/s over 50 environments and 7 SKUs kept 60 s, THEN at most 50 x 7 / 60 queries a second
    assert by_component(1000)["MySQL catalog queries (RDS Proxy)"].needed == pytest.approx(50 * 7 / 60)
    uncached = dataclasses.replace(SERVICE, catalog_max_age_s=0)
    assert by_component(1000, uncached)["MySQL catalog queries (RDS Proxy)"].needed == 1000


def test_a_quota_met_with_little_room_is_requested_before_launch():
    # GIVEN 10,000 orders/s, THEN the account's HTTP API rate is not exceeded but must be requested
    account = by_component(10_000)["HTTP API, account"]
    notes = verdict(list(by_component(10_000).values()), 10_000)
    assert not account.exceeded
    assert any(note.startswith("request before launch") and "HTTP API, account" in note for note in notes)


def test_the_model_reads_the_template_it_runs_against():
    # GIVEN the repository's template and durations as make tune writes them, THEN the model reads its settings
    durations = {"ApiFunction": {512: 20.0}, "OrdersConsumer": {512: 9.0}}
    stored = capacity.StoredOrder(item_bytes=400, index_item_bytes=150, rollup_items_per_cpu_s=1000.0)
    service = read_service(read_template(DEFAULT_TEMPLATE), durations, stored)
    assert (service.batch_size, service.maximum_concurrency, service.route_rate_limit) == (100, 5, 100.0)
    assert service.catalog_max_age_s == 60
    assert service.consumer_ms_per_record == pytest.approx(3.0)  # the tuned event holds three records
    assert (service.item_bytes, service.index_item_bytes) == (400, 150)
    assert (service.day_index, service.day_shards, service.rollup_runs) == ("by-day-shard", 16, 1)


def test_a_rate_that_is_not_positive_is_a_one_line_error(capsys: pytest.CaptureFixture[str]):
    assert capacity.main(["--rate", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_stored_order_is_measured_with_the_services_own_code():
    # GIVEN the template's day index, WHEN the sample order is stored and projected by src/, and its pace measured
    stored = capacity.measure_stored_order(read_template(DEFAULT_TEMPLATE))
    # THEN the index keeps a fraction of the item, under one write unit, and the rollup reads it by the thousand
    assert 0 < stored.index_item_bytes < stored.item_bytes < 1024
    assert stored.rollup_items_per_cpu_s > 1_000
