"""The security scan fails when checkov could not read a template, instead of passing with nothing scanned."""

from __future__ import annotations

import json
from pathlib import Path

from tools import checkov_parsed


def _report(tmp_path: Path, *parsing_errors: int) -> Path:
    summaries = [{"summary": {"passed": 1, "failed": 0, "parsing_errors": n}} for n in parsing_errors]
    path = tmp_path / "checkov.json"
    path.write_text(json.dumps(summaries[0] if len(summaries) == 1 else summaries))
    return path


def test_a_file_checkov_could_not_parse_fails_the_scan(tmp_path: Path):
    # GIVEN a report with one unparsed file, THEN the check fails
    assert checkov_parsed.main(["checkov_parsed.py", str(_report(tmp_path, 0, 1))]) == 1


def test_a_report_with_everything_parsed_passes(tmp_path: Path):
    # GIVEN a report where every file was parsed, THEN the check passes
    assert checkov_parsed.main(["checkov_parsed.py", str(_report(tmp_path, 0))]) == 0
