"""What a build reads, and so what hot reload watches: a template whose CodeUri is `.` holds the build's own
output, which must not count as an input (or every build would call for another)."""

from __future__ import annotations

from pathlib import Path

from workbench.emulator.build import source_files
from workbench.emulator.reload import signature


def test_hidden_folders_and_bytecode_are_not_inputs(tmp_path: Path):
    # GIVEN a code folder holding the build's output, a git folder and bytecode beside its sources
    for name in (
        "app.py",
        "lib/util.py",
        ".aws-sam/local/sam-0/app.py",
        ".git/HEAD",
        "__pycache__/app.cpython-313.pyc",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")

    # THEN only the sources are the build's inputs, and only they are watched
    assert source_files(tmp_path) == [tmp_path / "app.py", tmp_path / "lib" / "util.py"]
    before = signature([tmp_path])
    (tmp_path / ".aws-sam" / "local" / "sam-1").mkdir()
    (tmp_path / ".aws-sam" / "local" / "sam-1" / "app.py").write_text("built")
    assert signature([tmp_path]) == before, "a build's output changes nothing watched"
    (tmp_path / "app.py").write_text("edited")
    assert signature([tmp_path]) != before
