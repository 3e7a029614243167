"""The results page: each measuring command rewrites its own section of `workbench/results.md`.

`make bench`, `make tune`, `make cost` and `make load` measure, then hand their tables here as typed
rows; the same rows print in the terminal (rich) and land on the page (Markdown) with the machine,
the date and the versions they were measured with. README and the guides quote no figure of their
own: they point at the page, and the page is whatever the last run measured (commit it after a full
run on the machine you want to quote).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.table import Table

RESULTS_PAGE = Path(__file__).resolve().parents[3] / "results.md"  # workbench/results.md in a checkout
VERSIONS_OF = ("aws-lambda-powertools", "boto3", "PyMySQL", "pydantic", "moto", "aws-sam-cli")
_PAGE_HEAD = """# Results

Written by the commands that measure (`make bench`, `make tune`, `make cost`, `make load`): each
rewrites its own section below, with the machine, the date and the versions of its run. Nothing on
this page is typed by hand; run the command to see your machine's figures.
"""


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in VERSIONS_OF:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
    }


@dataclass(frozen=True)
class ResultTable:
    """A table of figures, already formatted: the first column names the row, the others are right-aligned."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        assert len(cells) == len(self.columns), (self.title, cells)
        self.rows.append(tuple(str(cell) for cell in cells))

    def rich(self) -> Table:
        table = Table(title=self.title)
        for index, column in enumerate(self.columns):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        lines = [f"**{self.title}**", "", "| " + " | ".join(map(cell, self.columns)) + " |"]
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|")
        lines += ["| " + " | ".join(map(cell, row)) + " |" for row in self.rows]
        return "\n".join(lines)


def write_section(
    key: str, command: str, tables: Sequence[ResultTable], notes: Sequence[str] = (), page: Path = RESULTS_PAGE
) -> Path:
    """Replace the section `key` of the page (or add it), keeping every other command's section as it was."""
    machine = machine_info()
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items() if version)
    body = [
        f"## `{command}`",
        "",
        f"{machine['date']} · {machine['platform']}, {machine['cpus']} CPUs · Python {machine['python']} · {versions}",
        "",
        *(table.markdown() + "\n" for table in tables),
        *(f"- {note}" for note in notes),
    ]
    section = f"<!-- {key}: start -->\n" + "\n".join(body).rstrip() + f"\n<!-- {key}: end -->\n"
    text = page.read_text() if page.is_file() else _PAGE_HEAD
    marked = re.compile(rf"<!-- {re.escape(key)}: start -->\n.*?<!-- {re.escape(key)}: end -->\n", re.S)
    text = marked.sub(lambda _: section, text) if marked.search(text) else text.rstrip() + "\n\n" + section
    page.write_text(text)
    return page
