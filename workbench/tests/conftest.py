"""What the workbench's tests share beyond the service's fixtures (tests/fixtures.py, loaded by the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy


@pytest.fixture(scope="module")
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's own application (its APPLICATION: a folder under emulator/templates/), copied as a user's
    checkout would be: its build goes to the copy's .aws-sam/."""
    source: Path = request.module.APPLICATION
    return application_copy(source, tmp_path_factory.mktemp(source.name))


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest) -> Iterator[LocalService]:
    """The module's APPLICATION served locally, or else this application, its database prepared (the migration,
    the seed): one per test module. A module that needs another (traced, or with its own log) defines its own."""
    if hasattr(request.module, "APPLICATION"):
        template = request.getfixturevalue("folder") / "template.yaml"
        with LocalService(template=template) as own:
            yield own
        return
    with LocalService() as local:
        local.prepare_database()
        yield local
