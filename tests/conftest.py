"""Fixtures and hooks. Constants and helpers shared by the tests live in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CORPUS, SEEDS, shared_folder

#: Fixtures that read ../shared: every test using one (directly or through another fixture)
#: is marked `corpus`, so `pytest -m "not corpus and not slow"` runs the fast core alone.
SHARED_FIXTURES = frozenset({"corpus", "seeds"})


@pytest.fixture(scope="session")
def seeds() -> Path:
    return shared_folder(SEEDS)


@pytest.fixture(scope="session")
def corpus() -> Path:
    return shared_folder(CORPUS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.corpus)
