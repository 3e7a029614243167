"""Fail when checkov could not parse a file it was given: it says so in a line and exits 0, scanning nothing.

Run in the scan venv on checkov's JSON report (`make security-scan`). A template checkov cannot read —
a YAML form its parser refuses, say — would otherwise pass the scan with every check silently skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def unparsed(report: Path) -> int:
    """How many files checkov could not parse, from its JSON report (one summary, or one per framework)."""
    document = json.loads(report.read_text())
    summaries = document if isinstance(document, list) else [document]
    return sum(int(summary["summary"]["parsing_errors"]) for summary in summaries)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python tools/checkov_parsed.py <checkov JSON report>", file=sys.stderr)
        return 2
    count = unparsed(Path(argv[1]))
    if count:
        print(f"checkov could not parse {count} file(s): nothing in them was scanned", file=sys.stderr)
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
