"""The bench's machinery: statistics, exact-count checks, import timing, package sizes, and the
counted figures of two patterns against known counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab.bench import Bench, Comparison, Sizes, Timing, import_time_ms, package_sizes, top_level_import_times
from local_runner.service import LocalService


def test_timing_summarizes_round_medians():
    timing = Timing([3.0, 1.0, 2.0])
    assert (timing.median_ms, timing.min_ms, timing.max_ms) == (2.0, 1.0, 3.0)


def test_a_comparison_is_separated_only_when_the_rounds_do_not_overlap():
    apart = Comparison("p", "o", "n", "ms", Timing([1.0, 1.2]), Timing([2.0, 2.5]))
    overlapping = Comparison("p", "o", "n", "ms", Timing([1.0, 2.1]), Timing([2.0, 2.5]))
    assert apart.separated is True
    assert apart.ratio == pytest.approx(2.25 / 1.1)
    assert overlapping.separated is False


def test_count_failures_name_the_figure_and_both_values():
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
    assert top_level_import_times(IMPORTTIME_REPORT) == {"site": 1203, "json": 920}


def test_import_time_counts_only_what_the_statement_adds_to_a_bare_interpreter():
    # a behaviour, not a timing: `pass` adds no module (exactly 0), `import json` adds json
    assert import_time_ms("pass") == 0
    assert import_time_ms("import json") > 0


def test_package_sizes_zip_the_built_artifacts(tmp_path: Path):
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
    comparison = bench.secret_caching()
    assert comparison.counts["GetSecretValue calls per 100 invocations (within one TTL)"] == {
        "optimized": 1,
        "naive": 100,
    }
    assert comparison.count_failures() == []


@pytest.mark.integration
def test_connection_reuse_is_counted_on_the_server(bench: Bench):
    comparison = bench.connection_reuse()
    assert comparison.count_failures() == []
    figure = "MySQL connections opened per 100 invocations (counted at the proxy)"
    assert comparison.counts[figure] == {"optimized": 1, "naive": 100}
