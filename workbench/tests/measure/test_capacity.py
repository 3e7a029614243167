"""The capacity model (`make capacity`): demands from the template and measured durations, against quotas."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from sam_testkit.sam_template import read_template
from workbench.emulator.template import DEFAULT_TEMPLATE
from workbench.measure import capacity
from workbench.measure.capacity import Service, limits, read_service, verdict
from workbench.measure.telemetry import Telemetry, measure_telemetry

QUOTAS = json.loads((capacity.LAB / "capacity.json").read_text())["quotas"]
SERVICE = Service(
    api_memory_mb=512,
    api_ms=50.0,
    consumer_memory_mb=512,
    consumer_ms_per_record=2.0,
    batch_size=100,
    batching_window_s=2.0,
    maximum_concurrency=5,
    minimum_pollers=0,
    maximum_pollers=200,
    route_rate_limit=100.0,
    route_burst_limit=200.0,
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
    database_max_acus=2.0,
    proxy_max_connections_percent=90.0,
)


def by_component(rate: float, service: Service = SERVICE) -> dict[str, capacity.Limit]:
    return {row.component: row for row in limits(service, rate, QUOTAS)}


def test_every_quota_has_a_value_a_source_and_whether_it_can_be_raised():
    for name, quota in QUOTAS.items():
        assert quota["value"] > 0, name
        assert isinstance(quota["adjustable"], bool), name
        assert quota["source"], name


def test_concurrency_is_littles_law_over_both_functions():
    # GIVEN 1,000 orders/s at 50 ms a POST and 2 ms a record, THEN 50 + 2 environments, and the rollup's 3 runs
    # (a day of 86.4 M orders, 36 M a run) once a day
    assert by_component(1000)["Lambda concurrency, account"].needed == pytest.approx(50 + 2 + 3)


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


PROXY = "RDS Proxy, database connections"


def test_the_price_cache_bounds_catalog_queries_by_environments_not_orders():
    # GIVEN 1,000 orders/s over 50 environments and 7 SKUs kept 60 s, THEN at most 50 x 7 / 60 queries a second
    assert capacity.demand(SERVICE, 1000, QUOTAS).catalog_queries == pytest.approx(50 * 7 / 60)
    uncached = dataclasses.replace(SERVICE, catalog_max_age_s=0)
    assert capacity.demand(uncached, 1000, QUOTAS).catalog_queries == 1000


def test_database_connections_are_queries_in_flight_plus_the_rollups_runs_within_the_proxys_budget():
    # GIVEN 2 maximum ACUs (Aurora MySQL: max_connections 90) and a proxy taking 90 % of them
    assert capacity.proxy_budget(2, 90, QUOTAS) == 81
    # WHEN every order queries (no cache) at 1,000/s, each holding a connection for at most its 50 ms POST
    uncached = by_component(1000, dataclasses.replace(SERVICE, catalog_max_age_s=0))[PROXY]
    # THEN 50 connections, and one for each of the 3 rollup runs a day of 86.4 M orders needs (36 M a run), fit;
    # at 2,000/s (100 + 5) they do not, and 4 ACUs are named (135 connections, 121 for the proxy)
    assert uncached.needed == pytest.approx(50 + 3)
    assert not uncached.exceeded
    twice = by_component(2000, dataclasses.replace(SERVICE, catalog_max_age_s=0))[PROXY]
    assert twice.exceeded
    assert twice.lever.startswith("DatabaseMaxCapacity >= 4,")
    # AND with the price cache the same 2,000/s keep less than one connection busy with queries
    assert by_component(2000)[PROXY].needed - 5 < 1


def test_max_connections_follow_the_maximum_acus_in_steps():
    assert [capacity.max_connections(acus, QUOTAS) for acus in (0.5, 2, 4, 8, 12, 128, 256)] == [
        90,
        90,
        135,
        1000,
        1000,
        5000,
        5000,
    ]


def test_provisioned_pollers_replace_maximum_concurrency_ten_batches_each():
    # GIVEN 300 batches at once (100,000 orders/s at 3 ms a record is past on-demand pollers' 1,250)
    busy = dataclasses.replace(SERVICE, consumer_ms_per_record=3.0)
    on_demand = by_component(100_000, busy)
    assert on_demand["SQS mapping, on-demand pollers"].needed == pytest.approx(300)
    # WHEN the stage turns provisioned pollers on, 2 to 20
    provisioned = by_component(100_000, dataclasses.replace(busy, minimum_pollers=2, maximum_pollers=20))
    # THEN its ceiling is 20 pollers x 10 batches, and the MaximumConcurrency row is gone (Lambda refuses it)
    assert provisioned["OrdersConsumer provisioned pollers"].limit == 200
    assert provisioned["OrdersConsumer provisioned pollers"].lever == "ConsumerMaximumPollers >= 30"
    assert "OrdersConsumer MaximumConcurrency" not in provisioned


def derived(rate: float, service: Service = SERVICE) -> dict[str, capacity.Derived]:
    return {setting.parameter: setting for setting in capacity.derive(service, rate, QUOTAS)}


def test_a_target_derives_the_route_throttling_with_room_for_a_spike():
    # GIVEN a target of 1,000 orders/s, THEN 1,500 a second and a 3,000 burst; at 10 the template's 100 and 200
    assert (derived(1000)["ApiThrottlingRateLimit"].needed, derived(1000)["ApiThrottlingBurstLimit"].needed) == (
        1500,
        3000,
    )
    assert (derived(10)["ApiThrottlingRateLimit"].needed, derived(10)["ApiThrottlingBurstLimit"].needed) == (100, 200)
    # AND the burst never asks more than the account's 5,000
    assert derived(10_000)["ApiThrottlingBurstLimit"].needed == 5000


def test_a_target_on_demand_pollers_carry_keeps_them_and_sizes_maximum_concurrency():
    # GIVEN 1,000 orders/s at 2 ms a record: 2 batches at once, x 1.5, THEN the 5 a mapping starts with, no pollers
    settings = derived(1000)
    assert (settings["ConsumerMaximumConcurrency"].needed, settings["ConsumerMinimumPollers"].needed) == (5, 0)
    # AND at 200,000 orders/s (400 at once, 600 with room) still on demand: MaximumConcurrency 600
    assert derived(200_000)["ConsumerMaximumConcurrency"].needed == 600


def test_a_target_past_on_demand_pollers_derives_provisioned_ones():
    # GIVEN 1,000 batches at once (500,000 orders/s at 2 ms a record), 1,500 with room: past MaximumConcurrency's 1,000
    settings = derived(500_000)
    # THEN provisioned pollers: 100 always on (10 batches each), up to 150
    assert (settings["ConsumerMinimumPollers"].needed, settings["ConsumerMaximumPollers"].needed) == (100, 150)
    assert "ConsumerMaximumConcurrency" not in settings


def test_settings_derived_from_a_target_clear_every_setting_limit_at_that_target():
    # GIVEN any target, WHEN the stage takes every derived value
    for rate in (10, 100, 1000, 10_000):
        settings = derived(rate)
        applied = dataclasses.replace(
            SERVICE,
            route_rate_limit=settings["ApiThrottlingRateLimit"].needed,
            route_burst_limit=settings["ApiThrottlingBurstLimit"].needed,
            day_shards=int(settings["OrderDayShards"].needed),
            rollup_runs=int(settings["RollupRuns"].needed),
            database_max_acus=settings["DatabaseMaxCapacity"].needed,
            maximum_concurrency=int(settings["ConsumerMaximumConcurrency"].needed),
        )
        # THEN no template setting is left in the way, and every derived value holds
        assert not [row.component for row in limits(applied, rate, QUOTAS) if row.kind == "setting" and row.exceeded]
        assert all(setting.holds for setting in capacity.derive(applied, rate, QUOTAS)), rate


def test_a_day_has_at_least_as_many_shards_as_the_rollup_has_runs():
    # GIVEN 10,000 orders/s: 13 shards for the writes, but 864 M orders a day need 24 runs of 36 M
    settings = derived(10_000)
    assert settings["RollupRuns"].needed == 24
    # THEN the shards the target needs are the runs', since a run reads whole shards
    assert settings["OrderDayShards"].needed == 24


def test_a_setting_only_ever_raised_holds_above_its_need_and_an_exact_one_only_at_it():
    assert capacity.Derived("OrderDayShards", 13, 16, "", at_least=True).holds
    assert not capacity.Derived("OrderDayShards", 13, 8, "", at_least=True).holds
    assert not capacity.Derived("ApiThrottlingRateLimit", 1500, 3000, "", at_least=False).holds


def test_each_stage_in_samconfig_has_a_target_and_deploys_what_it_derives_from_the_target_alone():
    # GIVEN each samconfig.toml stage: its target, and its parameter values over the template's defaults (with
    # paces of this machine's order: a day's shards are no fewer than the rollup's runs)
    template = read_template(DEFAULT_TEMPLATE)
    durations = {"ApiFunction": {512: 20.0}, "OrdersConsumer": {512: 9.0}}
    stored = capacity.StoredOrder(item_bytes=400, index_item_bytes=150, rollup_items_per_cpu_s=50_000.0)
    for name in capacity.stage_names():
        stage = capacity.read_stage(name)
        service = read_service(template, durations, stored, stage.overrides)
        settings = {s.parameter: s for s in capacity.derive(service, stage.orders_per_second, QUOTAS)}
        # THEN what the target alone decides (no measured duration in it) is what the stage deploys
        for parameter in ("ApiThrottlingRateLimit", "ApiThrottlingBurstLimit", "OrderDayShards"):
            assert settings[parameter].holds, (name, settings[parameter])


def test_a_stage_is_read_as_it_deploys(tmp_path: Path):
    # GIVEN a stage with provisioned pollers and a larger database
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        "[big.capacity.parameters]\norders_per_second = 5000\n"
        '[big.deploy.parameters]\nparameter_overrides = "ConsumerMinimumPollers=4 DatabaseMaxCapacity=16"\n'
    )
    stage = capacity.read_stage("big", samconfig)
    durations = {"ApiFunction": {512: 20.0}, "OrdersConsumer": {512: 9.0}}
    stored = capacity.StoredOrder(item_bytes=400, index_item_bytes=150, rollup_items_per_cpu_s=1000.0)
    service = read_service(read_template(DEFAULT_TEMPLATE), durations, stored, stage.overrides)
    # THEN the model sees the stage's values, the template's conditions decided
    assert stage.orders_per_second == 5000
    assert (service.minimum_pollers, service.maximum_pollers, service.batching_window_s) == (4, 200, 0.0)
    assert (service.database_max_acus, service.proxy_max_connections_percent) == (16.0, 90.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[dev.deploy.parameters]\nparameter_overrides = ""\n', "[dev.capacity.parameters] needs orders_per_second"),
        ("[other.capacity.parameters]\norders_per_second = 1\n", "no stage 'dev' (stages: other)"),
    ],
)
def test_a_stage_without_a_target_is_a_one_line_error(tmp_path: Path, content: str, message: str):
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(content)
    with pytest.raises(capacity.StageError, match=re.escape(message)):
        capacity.read_stage("dev", samconfig)


def test_an_unknown_stage_exits_2_in_one_line(capsys: pytest.CaptureFixture[str]):
    assert capacity.main(["--stage", "nowhere"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_provisioned_pollers_are_offered_with_the_bill_of_their_minimum():
    data = json.loads((capacity.LAB / "capacity.json").read_text())
    # GIVEN on-demand pollers at 1,000 orders/s, THEN the option names 2 pollers and 2 x $0.00925 x 730 h
    option = capacity.provisioned_pollers_option(SERVICE, 1000, data)
    assert "ConsumerMinimumPollers=2" in option
    assert f"${2 * 0.00925 * capacity.SECONDS_PER_MONTH / 3600:,.2f} a month" in option
    # AND a stage that has them is billed for its minimum around the clock
    with_pollers = dataclasses.replace(SERVICE, minimum_pollers=4, maximum_pollers=20)
    costs = capacity.monthly_cost(with_pollers, 1000, capacity.Prices.load(), data["prices"])
    assert costs["SQS provisioned pollers (the minimum)"] == pytest.approx(
        4 * 0.00925 * capacity.SECONDS_PER_MONTH / 3600
    )


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
    assert (service.minimum_pollers, service.batching_window_s, service.route_burst_limit) == (0, 2.0, 200.0)
    assert (service.database_max_acus, service.proxy_max_connections_percent) == (2.0, 90.0)
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


def test_a_daily_curve_holds_the_peak_and_bills_and_rolls_up_its_days_share():
    # GIVEN the daily profile (a trough at a tenth of the peak), THEN a day holds 55 % of the peak all day
    assert capacity.day_share("steady") == 1.0
    assert capacity.day_share("daily") == pytest.approx(0.55, abs=1e-6)
    # WHEN the peak is 1,000 orders/s, THEN the limits at the peak are the same, the rollup's day is 55 % of it
    steady, daily = by_component(1000), {r.component: r for r in limits(SERVICE, 1000, QUOTAS, share=0.55)}
    assert daily["HTTP API route throttling"].needed == steady["HTTP API route throttling"].needed
    assert daily[ROLLUP].needed == pytest.approx(0.55 * steady[ROLLUP].needed)


def test_the_functions_log_lines_are_billed_per_gb_ingested():
    # GIVEN 1 KB of log lines an order, at 1,000 orders/s on average
    data = json.loads((capacity.LAB / "capacity.json").read_text())
    telemetry = Telemetry(log_bytes_per_order=1000, span_bytes_per_order=2000, orders=10)
    costs = capacity.monthly_cost(SERVICE, 1000, capacity.Prices.load(), data["prices"], telemetry)
    # THEN a month's GB at $0.50 each
    gb = 1000 * capacity.SECONDS_PER_MONTH * 1000 / 1e9
    assert costs["CloudWatch Logs (the functions' lines)"] == pytest.approx(gb * 0.5)


@pytest.mark.integration
def test_an_orders_log_and_span_bytes_are_measured_on_a_warm_local_run():
    # GIVEN the service run locally, WHEN a few warm orders go through the API and the consumer
    telemetry = measure_telemetry(orders=5)
    # THEN each wrote log lines (REPORT at least: well over 100 B) and spans (a POST alone sends several)
    assert telemetry.orders == 5
    assert telemetry.log_bytes_per_order > 100
    assert telemetry.span_bytes_per_order > 100
