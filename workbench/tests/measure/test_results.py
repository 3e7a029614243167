"""The results page: each measuring command rewrites its own section and leaves the others as they were."""

from __future__ import annotations

from pathlib import Path

from workbench.measure.results import ResultTable, write_section


def _table(figure: str) -> ResultTable:
    table = ResultTable("Load run", ("figure", "value"))
    table.add("latency p95", figure)
    table.add("a | in a cell", "1")
    return table


def test_a_command_adds_its_section_with_the_machine_the_date_and_the_versions(tmp_path: Path):
    # GIVEN no page yet
    page = tmp_path / "results.md"
    # WHEN the load run writes its table
    write_section("load", "make load", [_table("430 ms")], ["no problem"], page)
    # THEN the page has its head, the command, the run's machine and versions, the table and the notes
    text = page.read_text()
    assert text.startswith("# Results\n")
    assert "## `make load`" in text
    assert "Python " in text
    assert "moto " in text
    assert "| latency p95 | 430 ms |" in text
    assert "| a \\| in a cell | 1 |" in text  # a pipe in a cell does not split it
    assert "- no problem" in text


def test_a_second_run_replaces_its_own_section_and_keeps_the_others(tmp_path: Path):
    # GIVEN a page with the load and the bench sections
    page = tmp_path / "results.md"
    write_section("load", "make load", [_table("430 ms")], [], page)
    write_section("bench", "make bench", [_table("bench figure")], [], page)
    # WHEN the load run writes again
    write_section("load", "make load", [_table("500 ms")], [], page)
    # THEN its figure is the new one, once, and the bench section is untouched
    text = page.read_text()
    assert "500 ms" in text
    assert "430 ms" not in text
    assert text.count("## `make load`") == 1
    assert "bench figure" in text
