"""`make tune`: Power Tuning's arithmetic and choices, its input checks, and one real quick run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.factories import load_event

from workbench.emulator import sandbox
from workbench.emulator.template import PROJECT_ROOT
from workbench.measure.cost import Prices
from workbench.measure.tune import (
    TuneInputError,
    choose,
    cost_per_invocation,
    fresh_idempotency_key,
    parse_memory_sizes,
    trimmed_mean,
    tune,
)

PRICES = Prices.load()


def test_the_fastest_and_slowest_fifth_are_dropped_before_averaging():
    # GIVEN durations with outliers, THEN the mean drops the fastest and slowest fifth (one value stays one)
    assert trimmed_mean([1, 10, 10, 10, 100]) == 10
    assert trimmed_mean([5.0]) == 5.0


def test_cost_per_invocation_is_billed_duration_times_rate_times_memory():
    # 10.2 ms is billed as 11 ms; 11 ms x 1 GB x $0.0000133334 per GB-s
    # GIVEN a duration, THEN its cost is the billed (rounded up) duration times the rate times the memory
    assert cost_per_invocation(PRICES, "arm64", 10.2, 1024) == pytest.approx(0.011 * 0.0000133334)


def test_cheapest_fastest_and_balanced_are_power_tunings_strategies():
    # GIVEN four sizes' durations and costs, THEN cheapest, fastest and balanced are Power Tuning's picks
    rows = [
        {"memory_mb": 128, "duration_ms": 400.0, "cost_per_invocation": 6.0},
        {"memory_mb": 512, "duration_ms": 60.0, "cost_per_invocation": 4.0},
        {"memory_mb": 1024, "duration_ms": 50.0, "cost_per_invocation": 7.0},
        {"memory_mb": 3008, "duration_ms": 48.0, "cost_per_invocation": 20.0},
    ]
    # balanced: 0.5 x cost/20 + 0.5 x duration/400 -> 128: 0.65, 512: 0.175, 1024: 0.2375, 3008: 0.56
    assert choose(rows) == {"cheapest": 512, "fastest": 3008, "balanced": 512}


def test_each_invocation_gets_a_new_idempotency_key_and_nothing_else_changes():
    # GIVEN the POST event, WHEN it is sent twice, THEN each has a new key and nothing else differs
    event = load_event("api_post_order.json")
    first, second = fresh_idempotency_key(event), fresh_idempotency_key(event)
    assert first["headers"]["idempotency-key"] != second["headers"]["idempotency-key"]
    assert {k: v for k, v in first["headers"].items() if k != "idempotency-key"} == {
        k: v for k, v in event["headers"].items() if k != "idempotency-key"
    }
    assert first["body"] == event["body"]
    sqs = load_event("sqs_orders_batch.json")
    assert fresh_idempotency_key(sqs) is sqs  # no header, nothing to change


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("128,abc", "comma-separated whole MB"),
        ("", "MEMORY is empty"),
        ("64", "outside Lambda's 128–10240 MB"),
        ("10240", "this host has"),
    ],
)
def test_bad_memory_sizes_are_refused_with_the_reason(memory: str, message: str):
    # GIVEN a memory size Lambda or this host cannot give, THEN it is refused saying why
    if memory == "10240" and sandbox.vcpus_for(10240) <= sandbox.host_cpus():
        pytest.skip("this host can give 10,240 MB its 6 vCPUs")
    with pytest.raises(TuneInputError, match=message):
        parse_memory_sizes(memory)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["NoSuchFunction", "events/api_post_order.json"], "error: no function 'NoSuchFunction' in template.yaml"),
        (["ApiFunction", "events/absent.json"], "error: cannot read event events/absent.json"),
        (["ApiFunction", "README.md"], "error: event README.md is not JSON"),
        (["ApiFunction", "events/api_post_order.json", "--memory", "96"], "error: MemorySize 96 MB is outside"),
    ],
)
def test_the_cli_answers_bad_input_with_one_line_and_exit_2(arguments: list[str], message: str):
    # GIVEN bad input on the command line, THEN one line says what is wrong, and exit 2
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "workbench", "tune", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.integration
@pytest.mark.timing  # at its end: the smaller size is the slower one
def test_a_quick_tune_writes_its_table_json_and_chart(tmp_path: Path):
    # GIVEN two sizes, WHEN a quick tune runs, THEN it writes its JSON and chart, each size measured cold and warm
    result = tune(
        "ApiFunction",
        PROJECT_ROOT / "events" / "api_post_order.json",
        [256, 1024],
        quick=True,
        out_dir=tmp_path,
        requests_per_month=1_000_000,
    )
    written = json.loads((tmp_path / "tune-ApiFunction.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert (tmp_path / "tune-ApiFunction.png").stat().st_size > 0
    assert [row["memory_mb"] for row in written["rows"]] == [256, 1024]
    assert all(row["init_ms"] > 0 and len(row["warm_durations_ms"]) == 8 for row in written["rows"])
    # … and each size under SnapStart: a restore, far shorter than INIT, with its hooks' billed time
    assert all(0 < row["restore_ms"] < row["init_ms"] for row in written["rows"])
    assert all(row["restore_hooks_ms"] >= 0 for row in written["rows"])
    assert written["fresh_idempotency_key"] is True
    if written["emulation"]["cpu_and_memory"]:
        small, large = written["rows"]
        # a quarter of the CPU at 256 MB: the trimmed mean of eight warm invocations says so; one first
        # invocation per size does not (a busy core inverted it once: 23.0 vs 24.0 ms)
        assert small["duration_ms"] > large["duration_ms"]
