"""The docs cannot drift: every code reference in README, docs/ and the workbench's guides holds, every link resolves.

A code reference is a repository path followed by what must be in that file:
`src/orders/adapters/mysql.py` (`Database._connect`, `tls_context`). A name (`Class.method` too) must be
defined there; anything else (`BATCH_WRITE_LIMIT = 25`) must appear there as written. Line numbers are
not allowed (`path:116`, "line 116"): every edit above them would break them. In a clone that deleted
the workbench, what README says of it names a folder that is gone on purpose: those references are
not checked there.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKBENCH = ROOT / "workbench"
DOCS = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md"), *WORKBENCH.glob("**/*.md")]
)
CODE_REFERENCE = re.compile(r"`(?P<path>[\w./-]+\.\w+)`\s*\((?P<names>`[^`]+`(?:,\s*`[^`]+`)*)\)")
LINE_NUMBER = re.compile(r"`[\w./-]+\.(?:py|ya?ml|md|sql|toml|json|sh|txt):\d+|\blines? \d+", re.IGNORECASE)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
TOP_LEVEL = ("src/", "tests/", "testkit/", "workbench/", "docs/", "layers/", "events/", "db/", "tools/", "pipeline/")
REPO_PATH = re.compile(r"`(?P<path>(?:" + "|".join(re.escape(d) for d in TOP_LEVEL) + r")[\w./-]*\w)(?:::\w+)?`")
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


def defined_names(source: Path) -> set[str]:
    """Every function, class, method (as Class.method) and assigned name a Python module defines."""
    names: set[str] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(prefix + child.name)
                visit(child, f"{prefix}{child.name}." if isinstance(child, ast.ClassDef) else prefix)
            elif isinstance(child, ast.Assign | ast.AnnAssign):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                names.update(prefix + t.id for t in targets if isinstance(t, ast.Name))

    visit(ast.parse(source.read_text()), "")
    return names


def _resolve(doc: Path, path: str) -> Path:
    """A path as its doc means it: from the doc's folder, from the workbench's when the doc is one of its
    guides (they name the workbench's own files from there), else from the repository's root."""
    homes = [doc.parent, *([WORKBENCH] if doc.is_relative_to(WORKBENCH) else []), ROOT]
    return next((home / path for home in homes if (home / path).exists()), ROOT / path)


def _removed_on_purpose(path: Path) -> bool:
    return not WORKBENCH.exists() and path.resolve().is_relative_to(WORKBENCH)


def _docs_with(pattern: re.Pattern[str]) -> list[tuple[Path, re.Match[str]]]:
    found = [(doc, match) for doc in DOCS if doc.exists() for match in pattern.finditer(doc.read_text())]
    return [(doc, m) for doc, m in found if not _removed_on_purpose(_resolve(doc, m.groupdict().get("path", "")))]


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
def test_each_code_reference_names_what_is_in_its_file(doc: Path, match: re.Match[str]):
    # GIVEN a doc's `path` (`name`) reference, THEN the file exists and defines (or holds) each name
    source = _resolve(doc, match["path"])
    assert source.is_file(), f"{doc.relative_to(ROOT)}: {match['path']} does not exist"
    defined = defined_names(source) if source.suffix == ".py" else set()
    for name in (n.removesuffix("()") for n in re.findall(r"`([^`]+)`", match["names"])):
        if source.suffix == ".py" and IDENTIFIER.match(name):
            assert name in defined, f"{doc.name}: {match['path']} defines no `{name}`"
        else:
            assert name in source.read_text(), f"{doc.name}: `{name}` is not in {match['path']}"


def test_the_docs_find_code_by_reference_on_what_is_found():
    # GIVEN every doc, THEN the reference pattern finds references in them (a changed syntax would find none)
    found = _docs_with(CODE_REFERENCE)
    assert len(found) >= 10, "the pattern found almost nothing: has the reference syntax changed?"


def test_the_docs_cite_code_by_name_never_by_line_number():
    # GIVEN every doc, THEN none cites code by a line number
    numbered = [f"{doc.name}: {m.group(0)}" for doc, m in _docs_with(LINE_NUMBER)]
    assert numbered == []


def test_every_relative_link_resolves_to_a_file_or_a_heading():
    # GIVEN every relative link of every doc, THEN its file exists and its anchor is one of that file's headings
    broken = []
    for doc, match in _docs_with(LINK):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http(s):, mailto: — outside the repository
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if _removed_on_purpose(resolved):
            continue
        if not resolved.exists():
            broken.append(f"{doc.relative_to(ROOT)}: {target}")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_every_repository_path_the_docs_name_exists():
    # GIVEN every repository path a doc names, THEN it exists
    missing = sorted(
        {
            f"{doc.relative_to(ROOT)}: {m['path']}"
            for doc, m in _docs_with(REPO_PATH)
            if not _resolve(doc, m["path"]).exists()
        }
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
    # GIVEN every file of the repository, THEN none refers to material outside it
    outside = re.compile(r"\.\./shared|ANCHORS\.md")
    offenders = [
        str(path.relative_to(ROOT))
        for path in _repository_files()
        if path.suffix in {".md", ".py", ".yaml", ".yml", ".toml", ".json", ".txt", ".cfg", ""}
        and path != Path(__file__)
        and outside.search(path.read_text(errors="ignore"))
    ]
    assert offenders == []


MEASURED_FIGURE = re.compile(r"\b\d[\d,]*(?:\.\d+)?\s?(?:ms|µs)\b|\b\d+(?:\.\d+)?×|\breq/s\b")
REFERENCES = ROOT / "docs" / "references.md"


def test_no_figure_of_ours_is_typed_into_the_docs():
    """Our measurements live on the results page their commands write (workbench/results.md); a time or a
    ratio anywhere else must be a public figure, cited in its own paragraph (a link, or the references)."""
    # GIVEN every doc but the results page and the references, THEN a paragraph with a time or a ratio cites its source
    typed = []
    for doc in DOCS:
        if doc.name == "results.md" or doc == REFERENCES or not doc.exists():
            continue
        prose = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for paragraph in re.split(r"\n\s*\n", prose):
            figures = MEASURED_FIGURE.findall(paragraph)
            if figures and "](http" not in paragraph and "references.md" not in paragraph:
                typed.append(f"{doc.relative_to(ROOT)}: {', '.join(figures)} in “{paragraph.strip()[:60]}…”")
    assert typed == []


def test_the_figure_check_finds_figures():
    # GIVEN a sentence of measured figures, THEN the check finds each
    assert MEASURED_FIGURE.findall("INIT 264 ms vs 506 ms (1.9×), 228 req/s") == ["264 ms", "506 ms", "1.9×", "req/s"]
