from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
CORPUS = SHARED / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _shared(path: Path) -> Path:
    """Tests on real digests need ../shared beside the checkout. CI always has it, so there a
    missing folder is a failure, not a silent skip."""
    if not path.is_dir():
        message = f"{path} is not beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def seeds() -> Path:
    return _shared(SEEDS)


@pytest.fixture
def corpus() -> Path:
    return _shared(CORPUS)
