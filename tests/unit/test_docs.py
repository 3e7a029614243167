"""The docs cannot drift: every code reference in README and docs/ holds, every link resolves.

A code reference is written `path:LINE` or `path:FIRST-LAST` (hyphen or en dash), followed by the names that must be
on those lines: `src/orders/adapters/mysql.py:116` (`_connect`). Bare "line N" is not allowed: it
cannot be checked. Links are relative Markdown links (to a file, or to a heading's anchor) and
backticked repository paths.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")])
CODE_REFERENCE = re.compile(
    r"`(?P<path>[\w./-]+):(?P<first>\d+)(?:[–-](?P<last>\d+))?`\s*\((?P<names>(?:`[^`]+`(?:,\s*)?)+)\)"
)
BARE_LINE = re.compile(r"\blines? \d+", re.IGNORECASE)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
TOP_LEVEL = ("src/", "tests/", "local_runner/", "lab/", "faults/", "docs/", "layers/", "events/", "db/", "tools/")
REPO_PATH = re.compile(r"`(?P<path>(?:" + "|".join(re.escape(d) for d in TOP_LEVEL) + r")[\w./-]*\w)(?:::\w+)?`")


def _docs_with(pattern: re.Pattern[str]) -> list[tuple[Path, re.Match[str]]]:
    return [(doc, match) for doc in DOCS if doc.exists() for match in pattern.finditer(doc.read_text())]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower().replace("`", ""))
    return re.sub(r"\s", "-", text)


def _anchors(doc: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in doc.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize(
    ("doc", "match"),
    _docs_with(CODE_REFERENCE),
    ids=lambda value: value.name if isinstance(value, Path) else value.group(0)[:60],
)
def test_each_code_reference_names_what_is_on_its_lines(doc: Path, match: re.Match[str]):
    source = ROOT / match["path"]
    assert source.is_file(), f"{doc.name}: {match['path']} does not exist"
    first, last = int(match["first"]), int(match["last"] or match["first"])
    cited = "\n".join(source.read_text().splitlines()[first - 1 : last])
    for name in re.findall(r"`([^`]+)`", match["names"]):
        assert name.removesuffix("()") in cited, f"{doc.name}: `{name}` is not on {match['path']}:{first}–{last}"


def test_the_docs_cite_code_by_reference_never_by_a_bare_line_number():
    bare = [f"{doc.name}: {m.group(0)}" for doc, m in _docs_with(BARE_LINE)]
    assert bare == []


def test_every_relative_link_resolves_to_a_file_or_a_heading():
    broken = []
    for doc, match in _docs_with(LINK):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http(s):, mailto: — outside the repository
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            broken.append(f"{doc.name}: {target}")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []


def test_every_repository_path_the_docs_name_exists():
    missing = sorted(
        {f"{doc.name}: {m['path']}" for doc, m in _docs_with(REPO_PATH) if not (ROOT / m["path"]).exists()}
    )
    assert missing == []


def _repository_files() -> list[Path]:
    """Every file of the repository's own: hidden folders (venvs, caches, build output) skipped, .github kept."""
    files = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [
            d for d in subfolders if d == ".github" or not (d.startswith(".") or d in {"bench", "__pycache__"})
        ]
        files += [Path(folder) / name for name in names]
    return files


def test_nothing_in_the_repository_refers_to_material_outside_it():
    outside = re.compile(r"\.\./shared|ANCHORS\.md")
    offenders = [
        str(path.relative_to(ROOT))
        for path in _repository_files()
        if path.suffix in {".md", ".py", ".yaml", ".yml", ".toml", ".json", ".txt", ".cfg", ""}
        and path != Path(__file__)
        and outside.search(path.read_text(errors="ignore"))
    ]
    assert offenders == []
