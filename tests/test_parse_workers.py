"""`parse_paths` over many files parses them in worker processes, with one process's result."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from helpers import FIXTURES, spy_on_worker_pools

import flashcards.parse
from flashcards.errors import NotADigestError, ParseError
from flashcards.parse import digest_jobs, parse_paths


def _quiz(day: int) -> str:
    return (
        f"2025-02-{day:02d} Papers\n\nPaper 1\n\nA Lantern for Day {day}\n\n"
        f"Link: https://arxiv.org/abs/2502.{day:05d}\n\n1. 📘 Topic and Domain: lanterns.\n"
        "Q1\n1. What does it light?\nroads\nrooms ✓\n"
    )


def _library(tmp_path: Path) -> Path:
    """The fixtures (good digests, broken ones, files that are no digest) and more good ones."""
    folder = tmp_path / "digests"
    shutil.copytree(FIXTURES, folder)
    (folder / "more").mkdir()
    (folder / "more" / "notes.txt").write_text("Not a digest: my notes.\n", encoding="utf-8")
    for day in range(1, 29):
        (folder / "more" / f"2025-02-{day:02d}.txt").write_text(_quiz(day), encoding="utf-8")
    return folder


def _as_data(result: flashcards.parse.ParseResult) -> tuple[object, ...]:
    return result.digests, result.warnings, [(type(e), str(e)) for e in result.errors]


def test_many_files_are_parsed_in_workers_as_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _library(tmp_path)
    missing = tmp_path / "missing.txt"
    stdin = (folder / "more" / "2025-02-01.txt").read_bytes()
    paths = [folder, "-", missing]
    pools = spy_on_worker_pools(monkeypatch)
    monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 10_000)
    one = parse_paths(paths, stdin=stdin, collect_errors=True)
    assert pools == []  # in this process
    assert len(one.digests) > 28 and len(one.warnings) > 1 and len(one.errors) > 1
    assert not any(isinstance(e, NotADigestError) for e in one.errors)  # skipped in folders
    assert any(w.endswith("(skipped)") for w in one.warnings)
    assert str(one.errors[-1]) == f"{missing}: no such file or directory"

    monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 2)
    shown: list[tuple[str, bool]] = []

    def progress(jobs: Sequence[tuple[str, bool]]) -> Iterator[tuple[str, bool]]:
        for job in jobs:
            shown.append(job)
            yield job

    many = parse_paths(paths, stdin=stdin, collect_errors=True, progress=progress)
    assert len(pools) == 1  # a pool of workers parsed them
    assert _as_data(many) == _as_data(one)
    assert shown == digest_jobs(paths)  # every file shown, in order

    # Without collect_errors, the first broken file in reading order is the one reported.
    with pytest.raises(ParseError) as in_one:
        monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 10_000)
        parse_paths(paths, stdin=stdin)
    monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 2)
    with pytest.raises(ParseError) as in_workers:
        parse_paths(paths, stdin=stdin)
    assert len(pools) == 2
    assert (type(in_workers.value), str(in_workers.value)) == (
        type(in_one.value),
        str(in_one.value),
    )
    assert str(in_one.value) == str(one.errors[0])


def test_few_files_are_parsed_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = spy_on_worker_pools(monkeypatch)
    for day in range(1, 4):
        (tmp_path / f"2025-02-{day:02d}.txt").write_text(_quiz(day), encoding="utf-8")
    assert len(parse_paths([tmp_path]).digests) == 3
    assert pools == []


def test_known_hashes_spare_reading_the_files_the_cache_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build hashes its inputs first (its fingerprint): given those hashes, the cache is
    # asked without reading the file; only the files it lacks are read, where they are parsed.
    from flashcards.buildcache import BuildCache, sha256_file

    folder = _library(tmp_path)
    jobs = [path for path, _ in digest_jobs([folder])]
    cold_cache = BuildCache.load(tmp_path / "cache")
    cold_cache.load_digests()
    cold = parse_paths([folder], collect_errors=True, cache=cold_cache)
    cold_cache.save(None)
    read: list[str] = []
    real_read = flashcards.parse.read_digest_bytes

    def counted(path: Path, **kwargs: int) -> bytes:
        read.append(str(path))
        return real_read(path, **kwargs)

    monkeypatch.setattr(flashcards.parse, "read_digest_bytes", counted)
    monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 10_000)  # reads seen here
    hashes = {path: sha256_file(Path(path)) or "" for path in jobs}
    changed = str(folder / "more" / "2025-02-03.txt")
    hashes[changed] = "0" * 64  # as if its bytes were others when hashed: parsed again
    warm_cache = BuildCache.load(tmp_path / "cache")
    warm_cache.load_digests()
    warm = parse_paths([folder], collect_errors=True, cache=warm_cache, hashes=hashes)
    assert _as_data(warm) == _as_data(cold)
    parsed_again = {str(e.path) for e in cold.errors} | {changed}
    skipped = {w.split(":")[0] for w in cold.warnings if w.endswith("(skipped)")}
    assert changed in read and set(read) == parsed_again | skipped
    assert warm_cache.files_reused == len(jobs) - len(read) > 28
