"""Fixtures and hooks. Constants and helpers shared by the tests live in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import CORPUS, SEEDS

#: Fixtures that read ../shared: every test using one (directly or through another fixture)
#: is marked `corpus`, so `pytest -m "not corpus and not slow"` runs the fast core alone.
SHARED_FIXTURES = frozenset({"corpus", "seeds"})


def shared_folder(path: Path) -> Path:
    """The one rule for tests on real digests: they need ../shared beside the checkout. CI
    always has it, so there (CI set) a missing folder is a failure, not a silent skip."""
    if not path.is_dir():
        message = f"{path} is not beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


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
