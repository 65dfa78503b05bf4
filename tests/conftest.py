from __future__ import annotations

import os
from pathlib import Path

import pytest

from flashcards.model import Digest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
CORPUS = SHARED / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

#: A fixed clock for builds (epoch seconds): only changed notes read it.
NOW = 1_750_000_000
#: Seed digests the build tests copy: one quiz text digest (3 papers, 9 questions) and one
#: markdown table digest (13 papers).
QUIZ_SEED = "000_8c7c851b79673f42.txt"
TABLE_SEED = "003_6112daa6f0df162a.txt"


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


def only_digest(digests: list[Digest]) -> Digest:
    """The one digest a file must hold."""
    assert len(digests) == 1, f"{len(digests)} digests"
    return digests[0]
