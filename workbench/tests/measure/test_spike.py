"""The spike simulation (measure/spike.py): each limit shows in time, and nothing accepted is lost."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.measure import spike
from workbench.measure.capacity import profile_rate
from workbench.measure.spike import Model, Run, Simulation, changed

OPEN = Model(  # limits far above the rates below, a 10 ms POST, a 1 ms record
    api_ms=10.0,
    api_init_ms=300.0,
    api_first_ms=40.0,
    route_rate=10_000.0,
    route_burst=5_000.0,
    account_concurrency=1000,
    scale_out_per_window=1000,
    consumer_ms_per_record=1.0,
    consumer_init_ms=300.0,
    batch_size=100,
    batching_window_s=0.5,
    maximum_concurrency=50,
    mapping_initial=5,
    mapping_per_minute=300,
    mapping_max=1250,
    visibility_timeout_s=5.0,
    max_receive_count=3,
    day_shards=16,
    partition_wcu=1000.0,
    write_units=1,
    write_attempts=3,
    retry_base_s=0.05,
    retry_cap_s=0.5,
)


def simulate(model: Model, rate: float, seconds: float = 10, profile: str = "steady") -> Run:
    return Simulation(model, profile_rate(profile, rate, seconds), seconds, seed=1).simulate(horizon_s=3600)


def total(run: Run, attribute: str) -> int:
    return sum(getattr(second, attribute) for second in run.seconds)


def test_under_every_limit_each_order_is_accepted_and_stored_and_the_queue_drains():
    run = simulate(OPEN, rate=200)
    assert total(run, "throttled_route") == total(run, "throttled_lambda") == total(run, "unprocessed") == 0
    assert run.stored == total(run, "accepted") == total(run, "arrivals") > 0
    assert run.drained_at_s is not None


def test_the_route_takes_its_rate_and_burst_and_answers_429_beyond():
    # GIVEN a route limited to 100/s with a burst of 200, WHEN 500 orders/s come for 10 s
    run = simulate(dataclasses.replace(OPEN, route_rate=100, route_burst=200), rate=500)
    # THEN about 200 + 10 x 100 are accepted, the rest refused, and every accepted order is stored
    assert 1_100 <= total(run, "accepted") <= 1_300
    assert total(run, "throttled_route") == total(run, "arrivals") - total(run, "accepted")
    assert run.stored == total(run, "accepted")


def test_one_day_shard_over_its_write_units_throttles_and_more_shards_do_not():
    # GIVEN partitions of 100 write units a second and 300 orders/s
    hot = dataclasses.replace(OPEN, partition_wcu=100, day_shards=1)
    # WHEN the day is on one shard, THEN writes come back unprocessed, the queue backs up, nothing is lost
    one = simulate(hot, rate=300)
    assert total(one, "unprocessed") > 0
    assert one.stored + one.dead_lettered == total(one, "accepted")
    # AND over eight shards, each at under half its write units, none do
    assert total(simulate(dataclasses.replace(hot, day_shards=8), rate=300), "unprocessed") == 0


def test_records_that_never_store_reach_the_dlq_after_max_receive_count():
    # GIVEN a table that takes no write, THEN every accepted order ends in the DLQ, none stored, none lost
    run = simulate(dataclasses.replace(OPEN, partition_wcu=0), rate=50, seconds=2)
    assert run.stored == 0
    assert run.dead_lettered == total(run, "accepted") > 0


def test_scale_out_beyond_lambdas_rate_is_throttled():
    # GIVEN 5 new environments per 10 s and 1 s POSTs, WHEN 100 orders/s come, THEN Lambda answers 429
    run = simulate(dataclasses.replace(OPEN, scale_out_per_window=5, api_ms=1000.0), rate=100, seconds=5)
    assert total(run, "throttled_lambda") > 0
    assert total(run, "cold_starts") == 5


def test_a_cold_start_is_seen_in_the_latencies():
    run = simulate(OPEN, rate=20, seconds=5)
    assert total(run, "cold_starts") >= 1
    assert max(run.latencies_ms) >= 0.8 * (OPEN.api_init_ms + OPEN.api_first_ms)
    assert run.percentile(0.5) <= 1.2 * OPEN.api_ms


def test_closed_loop_clients_send_exactly_their_requests():
    # GIVEN 5 clients and 200 requests, as `make load` runs them, THEN 200 are answered and stored
    run = Simulation(dataclasses.replace(OPEN, host_environments=2), lambda t: 0.0, 0.0).simulate(
        3600, clients=5, requests=200
    )
    assert total(run, "accepted") == run.stored == 200


@pytest.mark.parametrize(
    ("name", "t", "expected"),
    [("steady", 5, 100.0), ("ramp", 5, 50.0), ("ramp", 20, 100.0), ("daily", 0, 10.0), ("daily", 5, 100.0)],
)
def test_profiles_rates_in_time(name: str, t: float, expected: float):
    # GIVEN a rate of 100 and a period of 10 s: the ramp halfway at 5 s, the day's trough at 0 and peak at 5
    assert profile_rate(name, 100, 10)(t) == pytest.approx(expected)


def test_a_model_input_is_changed_by_name_and_a_wrong_one_refused():
    assert changed(OPEN, ["day_shards=1", "route_rate=12.5"]) == dataclasses.replace(
        OPEN, day_shards=1, route_rate=12.5
    )
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        changed(OPEN, ["shards=1"])


def test_bad_arguments_are_a_one_line_error(capsys: pytest.CaptureFixture[str]):
    assert spike.main(["--rate", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_on_a_host_of_two_cores_the_closed_loop_runs_at_cores_over_cpu_an_order():
    # GIVEN a host of 2 cores where an order costs 10 ms of CPU, WHEN 20 clients send 2,000 orders
    host = dataclasses.replace(OPEN, host_environments=10, host_cores=2, host_cpu_ms=10.0, host_wait_ms=0.0)
    run = Simulation(host, lambda t: 0.0, 0.0).simulate(3600, clients=20, requests=2000)
    # THEN they take about 2,000 x 10 ms / 2 cores = 10 s, and a POST waits its turn for a core
    busy_seconds = sum(1 for second in run.seconds if second.accepted)
    assert 9 <= busy_seconds <= 12
    assert run.percentile(0.5) > 10


def test_provisioned_pollers_meet_a_spike_at_their_minimum_where_on_demand_ones_start_at_five():
    # GIVEN 1,000 orders/s for 20 s at 40 ms a record: 40 batches at once to keep up
    slow = dataclasses.replace(OPEN, consumer_ms_per_record=40.0, maximum_concurrency=1000)
    on_demand = simulate(slow, rate=1000, seconds=20)
    # WHEN 5 provisioned pollers are always on (50 batches at once from the start, 1,000 more a minute)
    provisioned = simulate(
        dataclasses.replace(slow, mapping_initial=50, mapping_per_minute=1000, mapping_max=20_000),
        rate=1000,
        seconds=20,
    )
    # THEN the oldest message and the backlog stay smaller (the on-demand pollers' first seconds are the gap);
    # both store every order
    oldest, deepest = (
        [max(getattr(second, name) for second in run.seconds) for run in (on_demand, provisioned)]
        for name in ("oldest_age_s", "queue_depth")
    )
    assert oldest[1] < oldest[0] / 2
    assert deepest[1] < deepest[0]
    assert (on_demand.stored, provisioned.stored) == (total(on_demand, "accepted"), total(provisioned, "accepted"))
