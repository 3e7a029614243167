"""Lambda's CPU, memory and code layout in the local runner: cgroups, read-only code, shipped bytecode.

Ratios in one run with wide bands, never times. Skipped, with the reason, only where the host has no
usable cgroups; this project's CI machine has them, so there they run.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.check_layer import check_bytecode

from workbench.emulator import environment as environment_module
from workbench.emulator import sandbox
from workbench.emulator.build import LocalBuild, runtime_dir
from workbench.emulator.environment import (
    REQUEST_LIMIT_BYTES,
    RESPONSE_LIMIT_BYTES,
    Emulation,
    FunctionPool,
    RequestTooLargeError,
    init_limit_s,
)
from workbench.emulator.template import PROJECT_ROOT, FunctionSpec, SamApplication

FUNCTIONS = Path(__file__).parent / "functions"
HOST = sandbox.cgroup_host()
needs_cgroups = pytest.mark.skipif(isinstance(HOST, str), reason=f"no CPU/memory emulation here: {HOST}")


@pytest.fixture(scope="module")
def app() -> SamApplication:
    return SamApplication()


def resources_spec(app: SamApplication, handler: str, memory_mb: int) -> FunctionSpec:
    return dataclasses.replace(
        app.functions["ApiFunction"],
        logical_id="ResourcesFunction",
        handler=f"resources.{handler}",
        code_dir=FUNCTIONS,
        layer_dirs=(),
        memory_mb=memory_mb,
        timeout_s=60,
    )


@pytest.fixture
def pools() -> Iterator[list[FunctionPool]]:
    created: list[FunctionPool] = []
    yield created
    for pool in created:
        pool.close()


def make_pool(
    pools: list[FunctionPool], app: SamApplication, handler: str, memory_mb: int, **kwargs: object
) -> FunctionPool:
    environment = {"AWS_REGION": "us-east-1", **kwargs.pop("environment", {})}  # type: ignore[dict-item]
    pool = FunctionPool(resources_spec(app, handler, memory_mb), environment, max_environments=1, **kwargs)  # type: ignore[arg-type]
    pools.append(pool)
    return pool


def fastest_warm_ms(pool: FunctionPool, event: dict[str, object], count: int = 5) -> float:
    """The fastest of `count` warm runs: a busy host only ever adds time, so the fastest is the least disturbed."""
    pool.invoke({"iterations": 10})  # INIT out of the way
    return min(pool.invoke(event).duration_ms for _ in range(count))


# ---------------------------------------------------------------- Lambda's rule, as numbers


def test_cpu_share_is_memory_over_1769_capped_at_six_vcpus():
    # GIVEN a memory size, THEN its CPU share is MemorySize / 1,769 MB of a vCPU, as Lambda gives it
    assert sandbox.vcpus_for(1769) == 1
    assert sandbox.vcpus_for(128) == pytest.approx(0.0724, abs=1e-4)
    assert sandbox.vcpus_for(10240) == pytest.approx(5.79, abs=0.01)


@pytest.mark.parametrize("memory_mb", [64, 127, 10241])
def test_a_size_lambda_does_not_offer_is_refused(memory_mb: int):
    # GIVEN a size outside Lambda's range, THEN it is refused, naming the range
    with pytest.raises(sandbox.EmulationError, match="outside Lambda's 128–10240 MB"):
        sandbox.vcpus_for(memory_mb)


def test_a_size_beyond_the_hosts_cores_is_refused_with_the_reason():
    # GIVEN a size needing more CPUs than this host has, THEN it is refused, saying how many it has
    too_big = min(10240, int((sandbox.host_cpus() + 0.5) * sandbox.ONE_VCPU_MB))
    if sandbox.vcpus_for(too_big) <= sandbox.host_cpus():
        pytest.skip("this host has more cores than Lambda's largest size needs")
    with pytest.raises(sandbox.EmulationError, match=f"this host has {sandbox.host_cpus()} CPUs"):
        sandbox.check_host_can_give(too_big)


def test_a_host_without_cgroups_is_named_not_silently_skipped(tmp_path: Path):
    # GIVEN a host without cgroup controllers, THEN the emulator says why it cannot emulate
    reason = sandbox.CgroupHost.detect(tmp_path)
    assert isinstance(reason, str)
    assert "no cgroup cpu and memory controllers" in reason


def test_emulation_off_is_marked_on_every_report_line(app: SamApplication, pools: list[FunctionPool]):
    # GIVEN emulation off, WHEN a function runs, THEN its REPORT line says CPU and memory were not emulated
    pool = make_pool(pools, app, "spin", 512, emulation=Emulation(cpu_and_memory=False))
    invocation = pool.invoke({"iterations": 10})
    assert not invocation.emulated
    assert invocation.report_line().endswith(f"({sandbox.NOT_EMULATED})")


# ---------------------------------------------------------------- CPU


@needs_cgroups
@pytest.mark.timing
def test_cpu_bound_work_runs_about_four_times_faster_at_1769_than_at_442_mb(
    app: SamApplication, pools: list[FunctionPool]
):
    # GIVEN CPU-bound work at a quarter of a vCPU and at one vCPU, WHEN each runs warm
    # THEN the small one takes about four times as long (a wide band)
    small = make_pool(pools, app, "spin", 442)
    one_vcpu = make_pool(pools, app, "spin", 1769)
    event = {"iterations": 1_500_000}
    ratio = fastest_warm_ms(small, event) / fastest_warm_ms(one_vcpu, event)
    # ≈ 4 (3.8-4.1 alone). A busy host stretches either side: the throttled one (7.8 seen once in a full CI run
    # with medians), or the one-vCPU one, which cannot get a whole core while others run (2.49 seen with a CPU
    # hog beside the CI, medians again). Without the quota the ratio is ≈ 1: the lower bound is the check.
    assert 2 <= ratio <= 9, f"442 MB / 1,769 MB = {ratio:.2f}, expected ≈ 4"


def init_ms(
    pools: list[FunctionPool], app: SamApplication, memory_mb: int, emulation: Emulation, *, samples: int = 1
) -> float:
    """The fastest of `samples` cold starts: on a busy host, the one the other processes disturbed least."""
    durations = []
    for _ in range(samples):
        pool = make_pool(pools, app, "spin", memory_mb, environment={"INIT_SPIN": "1500000"}, emulation=emulation)
        invocation = pool.invoke({"iterations": 10})
        assert invocation.init_duration_ms is not None
        durations.append(invocation.init_duration_ms)
    return min(durations)


@needs_cgroups
@pytest.mark.timing
def test_init_runs_unthrottled_by_default_and_throttled_on_request(app: SamApplication, pools: list[FunctionPool]):
    # GIVEN INIT at 128 and 1,769 MB, THEN it takes about as long unthrottled, and longer at 128 MB when throttled
    unthrottled = Emulation()
    throttled = Emulation(throttle_init=True)

    small, large = init_ms(pools, app, 128, unthrottled, samples=3), init_ms(pools, app, 1769, unthrottled, samples=3)
    assert small / large < 1.5, f"unthrottled INIT: 128 MB {small:.0f} ms vs 1,769 MB {large:.0f} ms"

    # 256 MB, not 128: its INIT stays far below Lambda's 10 s on a busy host (beyond it, INIT would run again)
    small, large = init_ms(pools, app, 256, throttled, samples=3), init_ms(pools, app, 1769, throttled, samples=3)
    assert small / large > 3, f"throttled INIT: 256 MB {small:.0f} ms vs 1,769 MB {large:.0f} ms"


def test_an_on_demand_init_over_its_limit_runs_again_within_the_first_invocation(
    app: SamApplication, pools: list[FunctionPool], monkeypatch: pytest.MonkeyPatch
):
    # GIVEN an on-demand INIT limit shorter than any INIT (Lambda's is 10 s; the rule is the same)
    monkeypatch.setattr(environment_module, "ON_DEMAND_INIT_LIMIT_S", 0.001)
    pool = make_pool(pools, app, "spin", 1769)

    # WHEN the first invocation comes, THEN INIT ran again inside it: it succeeds, with no Init Duration
    first = pool.invoke({"iterations": 10})
    assert first.error is None
    assert first.init_duration_ms is None
    warm = pool.invoke({"iterations": 10})
    assert warm.error is None


def test_inits_before_traffic_get_130_s_or_the_timeout_and_on_demand_ten(app: SamApplication):
    # GIVEN a function with a 300 s Timeout and one with 30 s
    long = dataclasses.replace(resources_spec(app, "spin", 1769), timeout_s=300)
    short = dataclasses.replace(long, timeout_s=30)
    # THEN the limits are Lambda's: 10 s on demand; 130 s or the Timeout, whichever is higher, before traffic
    assert [init_limit_s(spec, before_traffic=False) for spec in (long, short)] == [10, 10]
    assert [init_limit_s(spec, before_traffic=True) for spec in (long, short)] == [300, 130]


# ---------------------------------------------------------------- memory


@needs_cgroups
def test_max_memory_used_is_the_environments_peak(app: SamApplication, pools: list[FunctionPool]):
    # GIVEN an environment that allocated 100 MB then 10, THEN Max Memory Used is its peak, as Lambda reports
    pool = make_pool(pools, app, "allocate", 512)
    first = pool.invoke({"mb": 100})
    later = pool.invoke({"mb": 10})
    assert first.max_memory_used_mb >= 100
    assert later.max_memory_used_mb >= first.max_memory_used_mb  # the environment's peak, as Lambda reports it
    assert "Max Memory Used: " in later.report_line()


@needs_cgroups
def test_allocating_past_memory_size_ends_the_environment_as_lambda_does(
    app: SamApplication, pools: list[FunctionPool]
):
    # GIVEN a 128 MB function allocating 300 MB, THEN Runtime.OutOfMemory, and the next invocation is a cold start
    pool = make_pool(pools, app, "allocate", 128)

    killed = pool.invoke({"mb": 300})
    after = pool.invoke({"mb": 10})

    assert killed.error is not None
    assert killed.error["errorType"] == "Runtime.OutOfMemory"
    assert killed.error["errorMessage"] == (
        f"RequestId: {killed.request_id} Error: Runtime exited with error: signal: killed"
    )
    assert "Status: error\tError Type: Runtime.OutOfMemory" in killed.report_line()
    assert killed.max_memory_used_mb == 128
    assert after.error is None
    assert after.init_duration_ms is not None  # a fresh environment: a cold start
    assert pool.environments_started == 2


# ---------------------------------------------------------------- no cgroup outlives the runner

RUNNER_SCRIPT = textwrap.dedent(
    """
    import dataclasses, sys, time
    from pathlib import Path
    from workbench.emulator.environment import FunctionPool
    from workbench.emulator.template import SamApplication

    spec = dataclasses.replace(
        SamApplication().functions["ApiFunction"], handler="resources.spin",
        code_dir=Path(sys.argv[2]), layer_dirs=(), memory_mb=256,
    )
    pool = FunctionPool(spec, {"AWS_REGION": "us-east-1"}, max_environments=1)
    pool.invoke({"iterations": 10})
    print("ready", flush=True)
    sys.stdin.readline()  # the test looks at the cgroups first: ending on its own could beat the look
    if sys.argv[1] == "raise":
        raise RuntimeError("the runner fails")
    if sys.argv[1] == "wait":
        time.sleep(60)
    """
)


def own_cgroups(pid: int) -> list[Path]:
    assert not isinstance(HOST, str)
    return [p for root in {HOST.cpu_root, HOST.memory_root} for p in root.glob(f"{sandbox.PREFIX}{pid}-*")]


@needs_cgroups
@pytest.mark.parametrize("ending", ["normal", "raise", "sigterm"])
def test_no_cgroup_outlives_the_runner(ending: str):
    # GIVEN a runner that ends, normally, by an exception or by SIGTERM, THEN none of its cgroups is left
    runner = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", RUNNER_SCRIPT, "wait" if ending == "sigterm" else ending, str(FUNCTIONS)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert runner.stdout is not None
    assert runner.stdin is not None
    assert runner.stdout.readline().strip() == "ready"
    assert own_cgroups(runner.pid)  # it had one while it ran
    runner.stdin.write("go on\n")
    runner.stdin.close()
    if ending == "sigterm":
        runner.send_signal(signal.SIGTERM)
    runner.wait(timeout=300)  # a bound on a hang, not a speed: its cleanup waits for killed workers to go
    assert own_cgroups(runner.pid) == []


@needs_cgroups
def test_cgroups_of_a_killed_runner_are_removed_at_the_next_start():
    # GIVEN cgroups of a runner that was killed, WHEN the next one starts, THEN they are removed
    assert not isinstance(HOST, str)
    stale_pid = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000
    stale = [root / f"{sandbox.PREFIX}{stale_pid}-1" for root in {HOST.cpu_root, HOST.memory_root}]
    for path in stale:
        path.mkdir()
    try:
        assert HOST.remove_stale() == len(stale)
        assert not any(path.exists() for path in stale)
    finally:
        for path in stale:
            if path.exists():
                path.rmdir()


# ---------------------------------------------------------------- code as Lambda runs it


def test_an_environment_cannot_write_into_its_code_or_layer_folders(app: SamApplication, pools: list[FunctionPool]):
    # GIVEN a function writing into its code and layer folders, THEN both are read-only, as on Lambda
    if os.geteuid() == 0 and not sandbox.read_only_mounts():
        pytest.skip("root without mount namespaces: code folders cannot be made read-only here")
    build = LocalBuild(app)
    spec = build.spec(app.functions["ApiFunction"])
    written = dataclasses.replace(
        spec, logical_id="WriteProbe", handler="resources.write_code_dir", code_dir=build.code(FUNCTIONS)
    )
    pool = FunctionPool(written, {"AWS_REGION": "us-east-1"}, max_environments=1)
    pools.append(pool)
    outcome = pool.invoke({}).payload
    assert len(outcome) == 2  # the task root and the layer
    assert set(outcome.values()) == {"OSError"}, outcome


def test_the_built_function_layer_and_runtime_ship_python313_bytecode(app: SamApplication, tmp_path: Path):
    # GIVEN the local build, THEN code, layer and runtime folders ship python3.13 bytecode; one without is caught
    build = LocalBuild(app)
    spec = build.spec(app.functions["ApiFunction"])
    for folder in (spec.code_dir, *(d / "python" for d in spec.layer_dirs), runtime_dir()):
        assert check_bytecode(folder) == [], folder

    # a module whose bytecode is gone is caught
    copy = tmp_path / "function"
    shutil.copytree(spec.code_dir, copy)
    for path in copy.rglob("*.pyc"):
        path.chmod(0o644)
    (copy / "orders" / "__pycache__" / "config.cpython-313.pyc").unlink()
    assert check_bytecode(copy) == [f"{copy / 'orders' / 'config.py'}: no config.cpython-313.pyc"]


def test_without_shipped_bytecode_the_same_code_has_none(app: SamApplication):
    # GIVEN the lab's build without bytecode, THEN the same code has no .pyc
    stripped = LocalBuild(app).without_bytecode(app.functions["ApiFunction"])
    assert not any(stripped.code_dir.rglob("*.pyc"))
    assert not any(any(layer.rglob("*.pyc")) for layer in stripped.layer_dirs)
    assert (stripped.code_dir / "orders" / "handlers" / "api.py").is_file()


def test_the_function_imports_boto3_from_the_runtime_folder_and_nothing_from_the_venv(
    app: SamApplication, pools: list[FunctionPool]
):
    # GIVEN a function reporting its path, THEN boto3 is the runtime folder's, the task root first, no venv
    seen = make_pool(pools, app, "where", 512).invoke({}).payload
    assert Path(seen["boto3"]).is_relative_to(runtime_dir())
    assert seen["sys_path"][0] == str(FUNCTIONS)  # the task root first, as on Lambda
    assert not [path for path in seen["sys_path"] if "site-packages" in path]


def test_on_cgroup_v2_the_same_limits_are_written_to_its_files(tmp_path: Path):
    # GIVEN a unified (v2) tree with the cpu and memory controllers, as a container host mounts it
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    host = sandbox.CgroupHost.detect(tmp_path)
    assert isinstance(host, sandbox.CgroupHost)
    assert host.version == 2
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory"

    # WHEN an environment of 512 MB gets its sandbox, INIT unthrottled, then throttled
    box = sandbox.Sandbox(host, 512, throttle_init=False)
    try:
        (path,) = box.paths
        assert (path / "memory.max").read_text() == str(512 * 1024 * 1024)
        assert (path / "memory.swap.max").read_text() == "0"
        assert (path / "cpu.max").read_text() == f"max {sandbox.CFS_PERIOD_US}"
        box.set_throttled(True)
        assert (path / "cpu.max").read_text() == f"{round(sandbox.CFS_PERIOD_US * 512 / 1769)} {sandbox.CFS_PERIOD_US}"

        # THEN the peak and the OOM killer are read from v2's own files
        (path / "memory.peak").write_text(str(300 * 1024 * 1024))
        (path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
        assert box.peak_memory_mb() == 300
        assert box.out_of_memory()
        assert box.procs_files == [path / "cgroup.procs"]
    finally:
        for file in path.iterdir():  # a real cgroup's files vanish with it; these are plain files
            file.unlink()
        box.remove()
    assert not path.exists()


# ---------------------------------------------------------------- Lambda's payload quotas


def test_an_event_over_six_mb_is_refused_before_any_environment_runs(app: SamApplication, pools: list[FunctionPool]):
    # GIVEN a function, and an event just over Lambda's 6 MB synchronous request quota
    pool = make_pool(pools, app, "echo_size", 256)
    event = {"pad": "x" * REQUEST_LIMIT_BYTES}

    # WHEN it is invoked, THEN the Invoke API's RequestTooLargeException, and no environment started
    with pytest.raises(RequestTooLargeError, match="RequestTooLargeException"):
        pool.invoke(event)
    assert pool.invocations == []


def test_a_response_over_six_mb_becomes_lambdas_response_size_error(app: SamApplication, pools: list[FunctionPool]):
    pool = make_pool(pools, app, "echo_size", 512)

    # GIVEN responses either side of the quota; WHEN each is returned
    within = pool.invoke({"bytes": RESPONSE_LIMIT_BYTES - 100})
    over = pool.invoke({"bytes": RESPONSE_LIMIT_BYTES})

    # THEN the smaller one arrives whole, the larger one is Lambda's Function.ResponseSizeTooLarge and no payload
    assert within.error is None
    assert len(within.payload["blob"]) == RESPONSE_LIMIT_BYTES - 100
    assert over.payload is None
    assert over.error is not None
    assert over.error["errorType"] == "Function.ResponseSizeTooLarge"
