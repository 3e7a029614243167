"""The locks, generated from pyproject.toml's declarations with uv: `make lock`, `make update-deps`, `make check-deps`.

    python tools/deps.py lock       regenerate the locks, keeping every pin that still satisfies the declarations
    python tools/deps.py upgrade    the newest versions within the declared ranges
    python tools/deps.py check      exit 1 when a lock disagrees with the declarations or the layer with the lock

The locks, each with hashes: requirements-dev.txt (runtime + the service's dev group, every platform,
Python ≥ 3.11), requirements-scan.txt (the scanners' own venv), layers/deps/requirements.txt — the
runtime closure resolved for Lambda's python3.13 on arm64, constrained to the dev lock's versions (what
the tests ran is what ships), minus what the runtime already provides — and, where the workbench is
present, workbench/requirements.txt: its dependencies and its test group, constrained to the dev lock
too, so the service and its workbench run one set of versions, and a clone that deletes the workbench
deletes its pins with it.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from check_layer import RUNTIME_PROVIDED

ROOT = Path(__file__).resolve().parents[1]
DEV, SCAN, LAYER = "requirements-dev.txt", "requirements-scan.txt", "layers/deps/requirements.txt"
WORKBENCH = "workbench/requirements.txt"
# What a lock is compiled from, beside the lock itself (copied for `check`).
DECLARATIONS = ("pyproject.toml", "testkit/pyproject.toml", "workbench/pyproject.toml")
EVERY_PLATFORM = ["--universal", "--python-version", "3.11"]  # the venv prefers 3.13 but runs on 3.11 too


def _sources(lock: str) -> list[str]:
    if lock == DEV:
        return ["pyproject.toml", "--group", "dev", *EVERY_PLATFORM]
    if lock == SCAN:
        return ["--group", "pyproject.toml:scan", *EVERY_PLATFORM]
    if lock == WORKBENCH:  # the test kit is installed from its folder (make venv), not pinned
        test_group = ["--group", "workbench/pyproject.toml:test", "--no-emit-package", "sam-testkit"]
        return ["workbench/pyproject.toml", *test_group, "-c", DEV, *EVERY_PLATFORM]
    without_runtime = [option for name in sorted(RUNTIME_PROVIDED) for option in ("--no-emit-package", name)]
    lambda_arm64 = ["--python-platform", "aarch64-manylinux2014", "--python-version", "3.13"]
    return ["pyproject.toml", *lambda_arm64, "-c", DEV, *without_runtime]


def locks(folder: Path) -> tuple[str, ...]:
    """Dev first: the layer and the workbench follow it."""
    return (DEV, SCAN, LAYER, *((WORKBENCH,) if (folder / "workbench" / "pyproject.toml").is_file() else ()))


def compile_locks(folder: Path, *, upgrade: bool = False) -> None:
    """Write the locks in `folder` (the repository, or a copy of it)."""
    uv = Path(sys.executable).with_name("uv")
    for lock in locks(folder):
        command = [str(uv), "pip", "compile", *_sources(lock), "--generate-hashes", "--quiet"]
        command += ["--custom-compile-command", "make lock", "-o", lock]
        subprocess.run([*command, *(["--upgrade"] if upgrade else [])], cwd=folder, check=True)  # noqa: S603


def check() -> list[str]:
    """Each lock as `make lock` would write it now, against the committed one: the differences."""
    problems = []
    with tempfile.TemporaryDirectory() as scratch:
        copies = Path(scratch)
        for declaration in DECLARATIONS:
            if (ROOT / declaration).is_file():
                (copies / declaration).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / declaration, copies / declaration)
        for lock in locks(ROOT):
            (copies / lock).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / lock, copies / lock)  # the committed pins are uv's preferences
        compile_locks(copies)
        for lock in locks(ROOT):
            committed, expected = (ROOT / lock).read_text(), (copies / lock).read_text()
            if committed != expected:
                diff = difflib.unified_diff(
                    committed.splitlines(), expected.splitlines(), lock, "make lock", lineterm=""
                )
                problems.append("\n".join(list(diff)[:40]))
    return problems


def main(argv: list[str]) -> int:
    if argv[1:] == ["lock"] or argv[1:] == ["upgrade"]:
        compile_locks(ROOT, upgrade=argv[1] == "upgrade")
        return 0
    if argv[1:] == ["check"]:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("the locks disagree with pyproject.toml or each other: run `make lock` and commit", file=sys.stderr)
        return 1 if problems else 0
    print("usage: python tools/deps.py lock|upgrade|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
