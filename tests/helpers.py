"""Shared test constants and helpers (conftest.py holds only fixtures and hooks)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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

#: Seconds after which a call counts as hung. Far above any real run on a loaded machine (the
#: guarded calls take milliseconds): it catches a hang, never a slow machine.
HANG_TIMEOUT = 60.0

T = TypeVar("T")


def shared_folder(path: Path) -> Path:
    """The one rule for tests on real digests: they need ../shared beside the checkout. CI
    always has it, so there (CI set) a missing folder is a failure, not a silent skip."""
    if not path.is_dir():
        message = f"{path} is not beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def only_digest(digests: list[Digest]) -> Digest:
    """The one digest a file must hold."""
    assert len(digests) == 1, f"{len(digests)} digests"
    return digests[0]


def without_hanging(call: Callable[[], T], timeout: float = HANG_TIMEOUT) -> T:
    """`call()`'s result (or its exception), failing the test if it runs past `timeout`: a hang
    guard, not a speed test (speed figures belong in benchmarks/)."""
    outcome: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test's thread below
            error.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        pytest.fail(f"still running after {timeout:.0f} s: a hang")
    if error:
        raise error[0]
    return outcome[0]


def spy_on_worker_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make `flashcards.workers.fork_iter` believe it has two cores and record each worker pool
    it starts: the returned list grows by one per pool."""
    import flashcards.workers as workers

    monkeypatch.setattr(workers, "cores", lambda: 2)
    started: list[int] = []
    real_pool = workers.concurrent.futures.ProcessPoolExecutor

    def pool(*args: object, **kwargs: object) -> object:
        started.append(1)
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(workers.concurrent.futures, "ProcessPoolExecutor", pool)
    return started
