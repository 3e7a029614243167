"""When environments start and end (templates/lifecycle/: Provisioned, with provisioned concurrency 2 on its alias,
and OnDemand): provisioned environments initialised before traffic, overflow to on-demand, `--warm`, idle
retirement."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from workbench.emulator.environment import FunctionPool, Invocation, Lifecycle
from workbench.emulator.service import LocalService
from workbench.emulator.testing import run_workbench

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "lifecycle"


def on_demand_pool(service: LocalService, lifecycle: Lifecycle, clock: FakeClock | None = None) -> FunctionPool:
    spec = service.build.spec(service.app.functions["OnDemand"])
    extra = {"clock": clock} if clock is not None else {}
    return FunctionPool(spec, service.environment("OnDemand"), lifecycle=lifecycle, **extra)  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Hold:
    """A port the handler connects to and waits on, until released: invocations in flight, as the test says."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []

    def wait_for(self, count: int) -> None:
        while len(self.held) < count:
            self.held.append(self.listener.accept()[0])

    def release(self) -> None:
        for connection in self.held:
            connection.sendall(b"x")
            connection.close()
        self.listener.close()


def test_provisioned_environments_are_initialised_before_traffic_and_report_no_init(service: LocalService):
    # WHEN the service prepares its environments, as start-api and invoke do before the first request
    said = service.prepare_environments()

    # THEN the alias's two provisioned environments ran INIT, and the first invocation is theirs, with no Init Duration
    assert any(line.startswith("Provisioned: 2 provisioned environments initialised before traffic") for line in said)
    pool = service.pool("Provisioned")
    assert pool.environments_started == 2
    first = pool.invoke({})
    assert (first.payload, first.init_duration_ms) == ("provisioned-concurrency", None)
    assert "Init Duration" not in first.report_line()
    assert service.pool("OnDemand").environments_started == 0, "a function without provisioning starts on demand"


def test_past_the_provisioned_environments_invocations_overflow_to_on_demand(service: LocalService):
    service.prepare_environments()
    pool = service.pool("Provisioned")
    hold = Hold()
    results: list[Invocation] = []
    held = [threading.Thread(target=lambda: results.append(pool.invoke({"hold": hold.port}))) for _ in range(2)]
    for thread in held:
        thread.start()
    try:
        # GIVEN both provisioned environments busy
        hold.wait_for(2)

        # WHEN a third invocation arrives, THEN it gets an on-demand environment, with its INIT
        overflow = pool.invoke({})
        assert overflow.payload == "on-demand"
        assert overflow.init_duration_ms is not None
    finally:
        hold.release()
        for thread in held:
            thread.join()
    assert [r.payload for r in results] == ["provisioned-concurrency"] * 2


def test_warm_never_makes_every_invocation_a_cold_start(service: LocalService):
    pool = on_demand_pool(service, Lifecycle("never"))
    try:
        runs = [pool.invoke({}) for _ in range(2)]
        assert all(run.init_duration_ms is not None for run in runs)
        assert pool.environments_started == 2
    finally:
        pool.close()


def test_warm_eager_starts_one_environment_before_traffic(service: LocalService):
    pool = on_demand_pool(service, Lifecycle("eager"))
    try:
        (started,) = pool.prepare()
        run = pool.invoke({})
        assert (pool.environments_started, run.payload) == (1, "on-demand")
        assert run.init_duration_ms == started.init_duration_ms, "an on-demand environment reports its INIT"
    finally:
        pool.close()


def test_an_environment_idle_past_the_timeout_is_retired(service: LocalService):
    clock = FakeClock()
    pool = on_demand_pool(service, Lifecycle(idle_timeout_s=60), clock)
    try:
        assert pool.invoke({}).init_duration_ms is not None
        clock.now += 30
        assert pool.invoke({}).init_duration_ms is None, "idle 30 s: still warm"
        clock.now += 61
        assert pool.invoke({}).init_duration_ms is not None, "idle 61 s: retired, a cold start"
        assert pool.environments_started == 2
    finally:
        pool.close()


def test_invoke_says_the_environments_it_prepared_and_reports_no_init(folder: Path):
    result = run_workbench(folder, "invoke", "Provisioned")
    assert result.returncode == 0, result.stderr
    assert "Provisioned: 2 provisioned environments initialised before traffic" in result.stderr
    (report,) = [line for line in result.stderr.splitlines() if line.startswith("REPORT")][-1:]
    assert "Init Duration" not in report
