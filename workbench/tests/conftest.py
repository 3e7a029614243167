"""What the workbench's tests share beyond the service's fixtures (tests/fixtures.py, loaded by the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.emulator.service import LocalService


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    """This application served locally, its database prepared (the migration, the seed): one per test module.
    A module that needs another (traced, or with its own log) defines its own."""
    with LocalService() as local:
        local.prepare_database()
        yield local
