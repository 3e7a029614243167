"""The bench's machinery: statistics, exact-count checks, import timing, package sizes, and the
counted figures of two patterns against known counts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from tests.fixtures import MYSQL_ADMIN

from workbench.emulator.service import LocalService
from workbench.measure.bench import (
    Bench,
    Comparison,
    Sizes,
    Timing,
    import_time_ms,
    lab_step,
    package_sizes,
    top_level_import_times,
)


def test_timing_summarizes_round_medians():
    # GIVEN three rounds' medians, THEN the timing's median, min and max are theirs
    timing = Timing([3.0, 1.0, 2.0])
    assert (timing.median_ms, timing.min_ms, timing.max_ms) == (2.0, 1.0, 3.0)


def test_a_comparison_is_separated_only_when_the_rounds_do_not_overlap():
    # GIVEN rounds apart and rounds overlapping, THEN only the first are separated, the ratio of medians
    apart = Comparison("p", "o", "n", "ms", Timing([1.0, 1.2]), Timing([2.0, 2.5]))
    overlapping = Comparison("p", "o", "n", "ms", Timing([1.0, 2.1]), Timing([2.0, 2.5]))
    assert apart.separated is True
    assert apart.ratio == pytest.approx(2.25 / 1.1)
    assert overlapping.separated is False


def test_count_failures_name_the_figure_and_both_values():
    # GIVEN a count off by one, THEN the failure names the figure, what it was and what was expected
    comparison = Comparison("p", "o", "n", "ms")
    comparison.counts = {"calls": {"optimized": 2, "naive": 100}}
    comparison.expected_counts = {"calls": {"optimized": 1, "naive": 100}}
    assert comparison.count_failures() == ["p: calls for optimized was 2, expected 1"]


IMPORTTIME_REPORT = """\
import time: self [us] | cumulative | imported package
import time:       201 |        201 |   _io
import time:       950 |       1203 | site
import time:       120 |        120 |     json.scanner
import time:       300 |        420 |   json.decoder
import time:       500 |        920 | json
"""


def test_only_top_level_imports_count_each_with_what_it_imported():
    # GIVEN an importtime report, THEN each top-level import counts with what it pulled in
    assert top_level_import_times(IMPORTTIME_REPORT) == {"site": 1203, "json": 920}


def test_import_time_counts_only_what_the_statement_adds_to_a_bare_interpreter():
    # a behaviour, not a timing: `pass` adds no module (exactly 0), `import json` adds json
    # GIVEN `pass` and `import json` in a bare interpreter, THEN nothing is counted for the first
    assert import_time_ms("pass") == 0
    assert import_time_ms("import json") > 0


def test_package_sizes_zip_the_built_artifacts(tmp_path: Path):
    # GIVEN a build folder, THEN the sizes are of the zipped artifacts, metadata left out
    (tmp_path / "ApiFunction" / "orders").mkdir(parents=True)
    (tmp_path / "ApiFunction" / "orders" / "a.py").write_text("x = 1\n" * 100)
    site = tmp_path / "DependenciesLayer" / "python"
    (site / "big").mkdir(parents=True)
    (site / "big" / "m.py").write_bytes(bytes(range(256)) * 400)
    (site / "big-1.0.dist-info").mkdir()
    sizes = package_sizes(tmp_path)
    assert 0 < sizes["function_zipped"] < 1000
    assert list(sizes["layer_top"]) == ["big"]


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    service = LocalService()
    service.prepare_database()
    yield Bench(service, Sizes(quick=True))
    service.close()


@pytest.mark.integration
def test_secret_caching_counts_one_fetch_against_one_hundred(bench: Bench):
    # GIVEN the cached and the naive secret read, WHEN each runs 100 times, THEN 1 fetch against 100
    comparison = lab_step("secret_caching")(bench)
    assert comparison.counts["GetSecretValue calls per 100 invocations (within one TTL)"] == {
        "optimized": 1,
        "naive": 100,
    }
    assert comparison.count_failures() == []


def server_connections() -> int:
    """The whole server's count: every client's connections, ours and anyone else's."""
    with pymysql.connect(**MYSQL_ADMIN, connect_timeout=5) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(cursor.fetchone()[1])


@pytest.mark.integration
def test_connection_reuse_counts_only_its_own_connections_whatever_else_connects(bench: Bench):
    # GIVEN another client of the same server opening and closing connections the whole time
    stop, connects = threading.Event(), [0]

    def another_client() -> None:
        while not stop.is_set():
            pymysql.connect(**MYSQL_ADMIN, connect_timeout=5).close()
            connects[0] += 1

    server_before = server_connections()
    neighbour = threading.Thread(target=another_client)
    neighbour.start()
    try:
        # WHEN the lab counts the twins' connections
        comparison = lab_step("connection_reuse")(bench)
    finally:
        stop.set()
        neighbour.join()
    server_after = server_connections()

    # THEN the counts are exactly the twins' own, though the server saw the neighbour's too
    assert comparison.count_failures() == []
    figure = "MySQL connections opened per 100 invocations (counted at the proxy)"
    assert comparison.counts[figure] == {"optimized": 1, "naive": 100}
    assert connects[0] > 0
    assert server_after - server_before >= 101 + connects[0]


@pytest.mark.integration
def test_batch_writes_count_one_call_per_25_against_one_per_message_each_twin_as_the_consumers_role(bench: Bench):
    # GIVEN the consumer and its PutItem twin, WHEN each drains the same messages
    # THEN one call per 25 against one per message
    comparison = lab_step("batch_writes")(bench)
    assert comparison.count_failures() == []
    counts = comparison.counts["DynamoDB write requests"]
    assert counts["naive"] == bench.sizes.messages  # PutItem per message, granted to the twin alone
    assert counts["optimized"] < counts["naive"]
    assert (
        "lab-twin-grant"
        not in bench.service.cloud.client("iam").list_role_policies(
            RoleName=bench.service.cloud.role_names["OrdersConsumer"]
        )["PolicyNames"]
    )  # the grant went with the comparison


@pytest.mark.integration
def test_price_cache_counts_no_query_for_warm_posts_against_one_each(bench: Bench):
    # GIVEN the shipped ApiFunction with prices kept 60 s and with 0, WHEN each serves 100 warm POSTs
    comparison = lab_step("price_cache")(bench)

    # THEN the proxy saw no query from the first and one a POST from the second
    figure = "MySQL queries per 100 warm POSTs (counted at the proxy)"
    assert comparison.counts[figure] == {"optimized": 0, "naive": 100}
    assert comparison.count_failures() == []
