"""The cost model against hand-worked examples from the published prices (measure/prices.json).

Every test here reads: GIVEN the example its comment works out by hand from those prices, THEN the
model's figure is that one.
"""

from __future__ import annotations

import json

import pytest

from workbench.measure.cost import (
    LAB,
    Measured,
    MissingTuneResult,
    Prices,
    billed_gb_seconds,
    break_even_utilization,
    cost_table,
    durations_from_tune,
    new_environments_per_month,
    on_demand_monthly,
    on_demand_with_inits_monthly,
    provisioned_monthly,
    report_cost,
    snapstart_break_even_restores,
    snapstart_init_break_even_seconds,
    snapstart_monthly,
)

PRICES = Prices.load()


def test_prices_carry_their_region_source_and_date():
    assert PRICES.source == {"region": "us-east-1", "currency": "USD", "retrieved": "2026-11-01"}
    assert PRICES.duration == {"x86_64": 0.0000166667, "arm64": 0.0000133334}


def test_duration_is_billed_rounded_up_to_the_millisecond():
    # 1,000 invocations of 10.2 ms at 1,024 MB are billed as 11 ms each: 11 GB-s
    assert billed_gb_seconds(1000, 10.2, 1024) == pytest.approx(11.0)


def test_on_demand_hand_worked_example():
    # 1M requests x 100 ms x 512 MB = 50,000 GB-s
    # x86:   50,000 x 0.0000166667 = 0.833335, + 1M x $0.20/M = 0.20 -> 1.033335
    # arm64: 50,000 x 0.0000133334 = 0.66667,  + 0.20                -> 0.86667
    assert on_demand_monthly(PRICES, "x86_64", 1_000_000, 100, 512) == pytest.approx(1.033335)
    assert on_demand_monthly(PRICES, "arm64", 1_000_000, 100, 512) == pytest.approx(0.86667)


def test_one_idle_provisioned_environment_costs_what_aws_publishes():
    # 1 GB kept warm all month: 730 h x 3,600 s x 0.0000041667 = 10.950 (x86); x 0.0000033334 = 8.760 (arm64)
    assert provisioned_monthly(PRICES, "x86_64", 0, 100, 1024, 1, 24) == pytest.approx(10.95, abs=0.01)
    assert provisioned_monthly(PRICES, "arm64", 0, 100, 1024, 1, 24) == pytest.approx(8.76, abs=0.01)


def test_provisioned_break_even_is_sixty_percent_on_both_architectures():
    # x86: 0.0000041667 / (0.0000166667 - 0.0000097222) = 0.6000
    assert break_even_utilization(PRICES, "x86_64") == pytest.approx(0.60, abs=0.001)
    assert break_even_utilization(PRICES, "arm64") == pytest.approx(0.60, abs=0.001)


@pytest.mark.parametrize("utilization", [0.3, 0.6, 0.9])
def test_provisioned_is_cheaper_exactly_above_break_even(utilization: float):
    # One 1 GB environment busy `utilization` of the month with 100 ms requests
    requests = utilization * 730 * 3600 / 0.1
    provisioned = provisioned_monthly(PRICES, "arm64", requests, 100, 1024, 1, 24)
    on_demand = on_demand_monthly(PRICES, "arm64", requests, 100, 1024)
    if utilization > 0.6:
        assert provisioned < on_demand
    elif utilization < 0.6:
        assert provisioned > on_demand
    else:
        assert provisioned == pytest.approx(on_demand, rel=1e-3)


def test_requests_beyond_provisioned_capacity_spill_to_on_demand():
    # One environment, 1 h/day, 1 s requests: capacity 3,600 x 30.4167 = 109,500 requests
    capacity = 3600 * 730 / 24
    spilled = provisioned_monthly(PRICES, "x86_64", capacity + 1000, 1000, 1024, 1, 1)
    within = provisioned_monthly(PRICES, "x86_64", capacity, 1000, 1024, 1, 1)
    assert spilled - within == pytest.approx(on_demand_monthly(PRICES, "x86_64", 1000, 1000, 1024))


def test_the_profile_prices_every_memory_size_of_its_tune_result(tmp_path):
    # GIVEN the example profile and a `make tune` result for two memory sizes
    from workbench.measure.cost import LAB

    profile = json.loads((LAB / "traffic_profile.json").read_text())
    tune_result = tmp_path / "tune-ApiFunction.json"
    tune_result.write_text(
        json.dumps({"rows": [{"memory_mb": 1024, "duration_ms": 9.7}, {"memory_mb": 256, "duration_ms": 22.3}]})
    )

    # WHEN the cost table is built from it
    rows = cost_table(profile, PRICES, durations_from_tune(tune_result))

    # THEN a row per measured size, smallest first, each billed at its own rounded-up duration
    assert [(row["memory_mb"], row["duration_ms"]) for row in rows] == [(256, 22.3), (1024, 9.7)]
    assert rows[0]["arm64_on_demand"] == pytest.approx(on_demand_monthly(PRICES, "arm64", 10_000_000, 22.3, 256))
    assert all(row["arm64_on_demand"] < row["x86_64_on_demand"] for row in rows)
    # … and the three strategies side by side
    assert all({"arm64_provisioned", "arm64_snapstart", "x86_64_snapstart"} <= set(row) for row in rows)


def test_a_missing_tune_result_says_what_to_run(tmp_path):
    with pytest.raises(MissingTuneResult, match="make tune"):
        durations_from_tune(tmp_path / "absent.json")


@pytest.mark.integration
def test_cost_on_a_fresh_clone_runs_the_quick_tune_it_needs_and_says_so(tmp_path, capsys):
    # GIVEN the committed profile, pointed at a tune result that does not exist yet
    profile = json.loads((LAB / "traffic_profile.json").read_text())
    profile["tune_result"] = str(tmp_path / f"tune-{profile['function']}.json")
    profile_path = tmp_path / "profile.json"
    profile_path.write_text(json.dumps(profile))

    # WHEN make cost runs
    assert report_cost(profile_path, out_dir=tmp_path) == 0

    # THEN it measured the durations it needed on this machine, and said where they came from
    said = capsys.readouterr().err
    assert "not found: running the quick tune of ApiFunction it needs first" in said
    assert "quick tune of " in said
    assert (tmp_path / "cost.json").is_file()
    assert len(json.loads((tmp_path / "cost.json").read_text())["rows"]) == 6


def test_new_environments_a_month_follow_the_profiles_scale_out():
    # 8 peak environments x ceil(10 h / 2 h) + ceil(14 h / 2 h) off-peak = 47 a day, x 730/24 days
    profile = {"peak_concurrency": 8, "peak_hours_per_day": 10, "environment_lifetime_hours": 2}
    assert new_environments_per_month(profile) == pytest.approx(47 * 730 / 24)


def test_on_demand_pays_each_cold_starts_init_since_august_2025():
    # 1,000 INITs of 299.2 ms at 1,024 MB: 300 GB-s x 0.0000133334 = 0.00400002
    measured = Measured(duration_ms=10, init_ms=299.2)
    with_inits = on_demand_with_inits_monthly(PRICES, "arm64", 0, measured, 1024, 1000)
    assert with_inits == pytest.approx(300 * 0.0000133334)


def test_snapstart_hand_worked_example():
    # 1 GB, one cached version all month: 2,628,000 GB-s x 0.0000015046 = 3.9540888
    # 1,000 restores x 1 GB x 0.0001397998 = 0.1397998; their hooks billed 1 ms each: 1 GB-s x 0.0000133334
    measured = Measured(duration_ms=10, init_ms=300, restore_hooks_ms=0.4)
    monthly = snapstart_monthly(PRICES, "arm64", 0, measured, 1024, 1000, 1)
    assert monthly == pytest.approx(3.9540888 + 0.1397998 + 0.0000133334)


def test_at_the_break_even_snapstart_and_on_demand_cost_the_same():
    measured = Measured(duration_ms=10, init_ms=300, restore_hooks_ms=0.4)
    restores = snapstart_break_even_restores(PRICES, "arm64", measured, 512, 1)
    on_demand = on_demand_with_inits_monthly(PRICES, "arm64", 0, measured, 512, restores)
    assert snapstart_monthly(PRICES, "arm64", 0, measured, 512, restores, 1) == pytest.approx(on_demand)
    # a function whose INIT costs less than a restore never gains
    assert snapstart_break_even_restores(PRICES, "arm64", Measured(10, init_ms=1), 512, 1) == float("inf")


def test_a_restore_costs_what_about_ten_seconds_of_init_costs():
    # per GB: 0.0001397998 per restore; INIT at 0.0000133334 (arm64) / 0.0000166667 (x86) per second
    assert snapstart_init_break_even_seconds(PRICES, "arm64") == pytest.approx(10.4847, abs=1e-3)
    assert snapstart_init_break_even_seconds(PRICES, "x86_64") == pytest.approx(8.3880, abs=1e-3)
