"""Cache files that are not what a build wrote: a FIFO or a huge file in place of the cache's
record must neither hang the build nor fill its memory; the build gives the bytes of a build
without the cache."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HANG_TIMEOUT

FIXTURES = Path(__file__).parent / "fixtures"


def _build(folder: Path, *extra: str, limit_memory: int | None = None) -> None:
    def limited() -> None:
        if limit_memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    # A process of its own: a blocked open() cannot be abandoned from a thread.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flashcards",
            "build",
            "-q",
            "-i",
            "digests",
            "-o",
            "deck.apkg",
            *extra,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        check=False,
        preexec_fn=limited,
    )
    assert (result.returncode, result.stderr) == (0, "")


def _deck(folder: Path) -> Path:
    (folder / "digests").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "quiz" / "varied.txt", folder / "digests" / "varied.txt")
    return folder


def _outputs(folder: Path) -> tuple[bytes, bytes]:
    return (folder / "deck.apkg").read_bytes(), (folder / "deck.state.json").read_bytes()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_the_cache_record_is_not_read(tmp_path: Path) -> None:
    reference = _deck(tmp_path / "reference")
    _build(reference, "--no-cache")
    cached = _deck(tmp_path / "cached")
    _build(cached)
    record = cached / "deck.cache" / "build.json"
    record.unlink()
    os.mkfifo(record)
    _build(cached)
    assert _outputs(cached) == _outputs(reference)


def test_a_huge_cache_record_is_not_read_into_memory(tmp_path: Path) -> None:
    reference = _deck(tmp_path / "reference")
    _build(reference, "--no-cache")
    cached = _deck(tmp_path / "cached")
    _build(cached)
    # A sparse file: 4 GiB that take no disk, but would take memory if read whole.
    with open(cached / "deck.cache" / "build.json", "r+b") as record:
        record.truncate(4 << 30)
    _build(cached, limit_memory=3 << 30)
    assert _outputs(cached) == _outputs(reference)
