"""Fixtures of the tests that run a template of their own: the module names it as APPLICATION (a folder under
templates/), and gets it copied (`folder`, as a user's checkout would be) and running (`service`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy


@pytest.fixture(scope="module")
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    source: Path = request.module.APPLICATION
    return application_copy(source, tmp_path_factory.mktemp(source.name))


@pytest.fixture(scope="module")
def service(folder: Path) -> Iterator[LocalService]:
    with LocalService(template=folder / "template.yaml") as running:
        yield running
