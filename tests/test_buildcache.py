"""The build cache: a warm, cold, stale, corrupted or foreign cache gives the same bytes."""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import NOW, spy_on_worker_pools

import flashcards.parse
from flashcards import build as builder
from flashcards import buildcache, buildnotes
from flashcards.answers import resolve
from flashcards.cli import main
from flashcards.deckdef import load_deck_definition
from flashcards.errors import BuildError, ConfigError
from flashcards.parse import digest_jobs, parse_file, parse_paths
from flashcards.plan import plan_adhoc

FIXTURES = Path(__file__).parent / "fixtures"
INPUTS = ("quiz/varied.txt", "quiz/marks.txt", "markdown/two_days_wrapped.md")
LATER = ("quiz/bilingual.html", "markdown/category_column.md")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inputs(folder: Path, names: tuple[str, ...]) -> Path:
    inputs = folder / "digests"
    inputs.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(FIXTURES / name, inputs / name.replace("/", "-"))
    return inputs


def _build(folder: Path, *, cache: bool = True, now: int = NOW) -> builder.BuildReport:
    plan = plan_adhoc([folder / "digests"], folder / "deck.apkg", cache=cache)
    return builder.build(plan, now=now)


def _outputs(folder: Path) -> tuple[str, str]:
    return _sha(folder / "deck.apkg"), _sha(folder / "deck.state.json")


def _forge(cache: Path, kind: str, change: Callable[[Any], Any]) -> int:
    """Replace the value of every `kind` entry ("file", "answers", "topics") of the cache's
    table with `change(value)`; how many there were."""
    connection = sqlite3.connect(cache / "entries.sqlite")
    try:
        rows = connection.execute("SELECT key, value FROM entries").fetchall()
        forged = [
            (json.dumps(change(json.loads(value))), key)
            for key, value in rows
            if key.startswith(f"{kind}\0")
        ]
        connection.executemany("UPDATE entries SET value = ? WHERE key = ?", forged)
        connection.commit()
    finally:
        connection.close()
    return len(forged)


def test_cache_lives_beside_the_state(tmp_path: Path) -> None:
    _inputs(tmp_path, INPUTS)
    _build(tmp_path)
    assert sorted(p.name for p in (tmp_path / "deck.cache").iterdir()) == [
        "build.json",
        "chunks.sqlite",
        "entries.sqlite",
    ]
    assert buildcache.default_cache_path(Path("d/x.state.json")) == Path("d/x.cache")
    assert buildcache.default_cache_path(Path("d/x.json")) == Path("d/x.cache")


def test_warm_stale_and_corrupted_caches_give_the_cold_bytes(tmp_path: Path) -> None:
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for folder in (cold, warm):
        _inputs(folder, INPUTS)
    first = _build(cold, cache=False)
    _build(warm)
    assert _outputs(cold) == _outputs(warm)
    reused = _build(warm)
    assert (reused.notes, reused.cards, reused.unchanged) == (first.notes, first.cards, first.notes)
    assert (reused.new, reused.changed, reused.written) == (0, 0, False)
    assert not (cold / "deck.cache").exists()

    # A day later, new digests: the cached files are not parsed again, the bytes are the same.
    for folder in (cold, warm):
        _inputs(folder, LATER)
    _build(cold, cache=False, now=NOW + 86_400)
    report = _build(warm, now=NOW + 86_400)
    assert _outputs(cold) == _outputs(warm)
    assert report.new > 0

    # A changed file, then a corrupted cache, then a cache whose entries are forged.
    for folder in (cold, warm):
        path = folder / "digests" / "quiz-marks.txt"
        path.write_text(path.read_text().replace("Checkmarks Everywhere", "Ticks Everywhere"))
        report = _build(folder, cache=folder is warm, now=NOW + 2 * 86_400)
        assert report.changed > 0
    assert _outputs(cold) == _outputs(warm)
    for name in ("build.json", "entries.sqlite"):
        (warm / "deck.cache" / name).write_bytes(b"\x00{not json, not SQLite")
    _build(warm, now=NOW + 3 * 86_400)
    assert _outputs(cold) == _outputs(warm)
    assert _forge(warm / "deck.cache", "file", lambda _: [{"source": 1, "format": "quiz-text"}])
    (warm / "deck.cache" / "build.json").unlink()
    _build(warm, now=NOW + 3 * 86_400)
    assert _outputs(cold) == _outputs(warm)


def test_a_cache_of_another_code_version_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _inputs(tmp_path, INPUTS)
    _build(tmp_path)
    expected = _outputs(tmp_path)

    # Forge the cache: another paper title for every file, and a build record that would reuse.
    def forge(digests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for digest in digests:
            for paper in digest["papers"]:
                paper["title"] = "Forged"
        return digests

    assert _forge(tmp_path / "deck.cache", "file", forge)
    monkeypatch.setattr(buildcache, "code_version", lambda: "another version")
    (tmp_path / "deck.state.json").unlink()
    (tmp_path / "deck.apkg").unlink()
    _build(tmp_path)
    assert _outputs(tmp_path) == expected
    # The cache now belongs to "another version": the real one ignores it as well.
    monkeypatch.undo()
    (tmp_path / "deck.state.json").unlink()
    report = _build(tmp_path)
    assert report.new == report.notes
    assert _outputs(tmp_path) == expected
    assert all(d.papers[0].title != "Forged" for f in inputs.iterdir() for d in parse_file(f))


def test_a_changed_state_or_package_is_rebuilt(tmp_path: Path) -> None:
    _inputs(tmp_path, INPUTS)
    _build(tmp_path)
    expected = _outputs(tmp_path)
    (tmp_path / "deck.apkg").write_bytes(b"damaged")
    assert _build(tmp_path).written
    assert _outputs(tmp_path) == expected
    (tmp_path / "deck.state.json").unlink()
    report = _build(tmp_path)
    assert report.new == report.notes
    assert _outputs(tmp_path) == expected


def test_no_cache_flag_and_deck_definition_key(tmp_path: Path) -> None:
    _inputs(tmp_path, INPUTS)
    runner = CliRunner()
    args = ["build", "-q", "-i", str(tmp_path / "digests"), "-o", str(tmp_path / "deck.apkg")]
    result = runner.invoke(main, [*args, "--no-cache"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "deck.cache").exists()
    assert runner.invoke(main, args).exit_code == 0
    assert (tmp_path / "deck.cache" / "build.json").is_file()

    yaml = tmp_path / "d.yaml"
    yaml.write_text("name: D\nsources: [digests]\n")
    assert load_deck_definition(yaml).cache == tmp_path / "d.cache"
    yaml.write_text("name: D\nsources: [digests]\ncache: false\n")
    assert load_deck_definition(yaml).cache is None
    yaml.write_text("name: D\nsources: [digests]\ncache: ../elsewhere\n")
    assert load_deck_definition(yaml).cache == tmp_path.parent / "elsewhere"
    yaml.write_text("name: D\nsources: [digests]\ncache: 3\n")
    result = runner.invoke(main, ["build", "-q", str(yaml)])
    assert result.exit_code != 0
    assert "cache: expected true, false or a directory path" in result.output


def test_per_paper_results_follow_the_threshold_and_survive_forgery(tmp_path: Path) -> None:
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for folder in (cold, warm):
        _inputs(folder, INPUTS)
    for threshold in (None, 0.99, 0.01):
        for folder in (cold, warm):
            plan = plan_adhoc(
                [folder / "digests"],
                folder / "deck.apkg",
                unsure_threshold=threshold,
                cache=folder is warm,
            )
            builder.build(plan, now=NOW)
        assert _outputs(cold) == _outputs(warm)
    # Wrong shapes and, for topics, a forged but well-formed answer.
    assert _forge(warm / "deck.cache", "answers", lambda _: [{"number": "1"}])
    assert _forge(warm / "deck.cache", "topics", lambda _: ["forged"])
    (warm / "deck.cache" / "build.json").unlink()
    (warm / "deck.state.json").unlink()
    (cold / "deck.state.json").unlink()
    for folder in (cold, warm):
        plan = plan_adhoc(
            [folder / "digests"],
            folder / "deck.apkg",
            unsure_threshold=0.01,
            cache=folder is warm,
        )
        builder.build(plan, now=NOW)
    assert _outputs(cold) == _outputs(warm)


def test_a_forged_answers_entry_cannot_change_a_question(tmp_path: Path) -> None:
    # A well-formed entry under the right key (anyone can compute it): the question's text and
    # options come from the digest, never from the cache.
    def forge(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**q, "prompt": "<b>forged</b>", "options": ["x"] * len(q["options"]), "answer": 0}
            for q in questions
        ]

    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for folder in (cold, warm):
        _inputs(folder, INPUTS)
        builder.build(plan_adhoc([folder / "digests"], folder / "deck.apkg"), now=NOW)
    assert _forge(warm / "deck.cache", "answers", forge)
    (warm / "deck.cache" / "build.json").unlink()
    for folder in (cold, warm):
        (folder / "deck.state.json").unlink()
        plan = plan_adhoc([folder / "digests"], folder / "deck.apkg", cache=folder is warm)
        builder.build(plan, now=NOW)
    assert _outputs(cold) == _outputs(warm)


@pytest.mark.parametrize("use_cache", [False, True])
def test_files_parsed_in_worker_processes_read_as_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_cache: bool
) -> None:
    folder = tmp_path / "digests"
    shutil.copytree(FIXTURES, folder)  # good digests, broken ones, files that are no digest
    plan = plan_adhoc([folder], tmp_path / "deck.apkg", cache=use_cache)
    one = parse_paths([folder], collect_errors=True)
    pools = spy_on_worker_pools(monkeypatch)
    monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 2)
    cache = buildcache.BuildCache(tmp_path / "deck.cache") if use_cache else None
    shown: list[tuple[str, bool]] = []

    def progress(jobs: Sequence[tuple[str, bool]]) -> Iterator[tuple[str, bool]]:
        for job in jobs:
            shown.append(job)
            yield job

    for second in (False, True):  # the second time, with a cache, from the cache
        shown.clear()
        started = len(pools)
        many = builder.read_inputs(plan, collect_errors=True, progress=progress, cache=cache)
        assert len(pools) == started + (len(shown) >= 2)  # parsed in worker processes
        assert many.digests == one.digests
        assert many.warnings == one.warnings
        assert [str(e) for e in many.errors] == [str(e) for e in one.errors]
        assert len(one.errors) > 1 and len(one.warnings) > 1
        jobs = digest_jobs([folder])
        if cache is None or not second:
            assert shown == jobs  # every file parsed, shown in order
        else:  # only files that gave no digests (errors, not digests) are parsed again
            assert 0 < len(shown) == len(jobs) - cache.files_reused < len(jobs)
        if cache is not None:  # as the next build reads it
            cache.save(None)
            cache = buildcache.BuildCache.load(cache.path)
            cache.load_digests()


def _entries(folder: Path) -> list[tuple[str, str]]:
    """The entries of the cache of the deck in `folder` but its manifest (which hashes the
    plan: paths), its path in them replaced by `…`."""
    connection = sqlite3.connect(folder / "deck.cache" / "entries.sqlite")
    try:
        rows = connection.execute("SELECT key, value FROM entries").fetchall()
    finally:
        connection.close()
    return sorted(
        (k.replace(str(folder), "…"), v.replace(str(folder), "…"))
        for k, v in rows
        if k != "notes\0manifest"
    )


@pytest.mark.parametrize("use_cache", [False, True])
def test_papers_merged_tagged_and_noted_in_workers_as_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_cache: bool
) -> None:
    one, many = tmp_path / "one", tmp_path / "many"
    for folder in (one, many):
        _inputs(folder, INPUTS)
    made: list[int] = []
    notes = buildnotes.make_notes

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = notes(*args, **kwargs)
        made.append(len(result[1]))
        return result

    monkeypatch.setattr(buildnotes, "make_notes", spy)

    def build_both() -> list[int]:
        """Build `one` in this process, then `many` with workers; the pools `many` started."""
        _build(one, cache=use_cache)
        with monkeypatch.context() as patch:
            patch.setattr(buildnotes, "PARALLEL_MIN_PAPERS", 2)
            spawned = spy_on_worker_pools(patch)
            _build(many, cache=use_cache)
        assert _outputs(many) == _outputs(one)
        if use_cache:  # the topics and note texts kept for the next build too
            entries = _entries(many)
            assert entries == _entries(one)
            assert sum(key.startswith("topics\0") for key, _ in entries) == made[-1]
        return spawned

    assert build_both() == [1]  # topics and notes in one pool (answers and parsing: too few)
    assert made[-1] > 2
    # A full build again (an input changed): with a cache, the topics kept are found in it.
    for folder in (one, many):
        inputs = folder / "digests"
        shutil.copyfile(FIXTURES / "quiz" / "bilingual.html", inputs / INPUTS[0].replace("/", "-"))
    assert build_both() == [1]


def test_answers_inferred_in_workers_are_kept_as_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers inferred in worker processes, each kept in the cache as it comes (a first build
    hashes a paper only to keep it): the same package, state and entries as one process, in a
    first build and in one that finds the kept answers of the papers it read before."""
    one, many = tmp_path / "one", tmp_path / "many"
    for folder in (one, many):
        _inputs(folder, INPUTS)
    found: list[bool] = []
    lookup = buildcache.BuildCache.resolved_paper

    def spy(self: buildcache.BuildCache, paper: Any, inputs: Any) -> Any:
        result = lookup(self, paper, inputs)
        found.append(result[0] is not None)
        return result

    monkeypatch.setattr(buildcache.BuildCache, "resolved_paper", spy)

    def build_both() -> list[int]:
        found.clear()
        _build(one)
        with monkeypatch.context() as patch:
            patch.setattr(resolve, "PARALLEL_MIN_PAPERS", 2)
            spawned = spy_on_worker_pools(patch)
            _build(many)
        assert _outputs(many) == _outputs(one)
        entries = _entries(many)
        assert entries == _entries(one)
        assert sum(key.startswith("answers\0") for key, _ in entries) > 2
        return spawned

    assert build_both() == [1]  # the answers' pool (too few papers for the notes')
    assert not any(found)
    # An input changed (a full build): the answers kept are found, the new ones inferred.
    for folder in (one, many):
        shutil.copyfile(
            FIXTURES / "answers" / "blind_a1.txt", folder / "digests" / "quiz-marks.txt"
        )
    assert build_both() == [1]
    # Each build found the answers of the unchanged digest, kept by a first build.
    assert found.count(True) == 2 * 2 and found.count(False) > 2 * 2


def test_a_cache_that_cannot_be_written_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for folder in (cold, warm):
        _inputs(folder, INPUTS)

    def full_disk(files: object) -> None:
        raise buildcache.BuildError("cannot write: No space left on device", warm)

    monkeypatch.setattr(buildcache, "replace_files", full_disk)
    assert _build(warm).written
    _build(cold, cache=False)
    assert _outputs(cold) == _outputs(warm)
    assert not (warm / "deck.cache" / "build.json").exists()


def test_a_cache_database_not_exactly_ours_is_deleted_unread(tmp_path: Path) -> None:
    """A restored cache may come from anyone: a database with anything besides our two tables
    (here a trigger) is deleted, not used, and made anew."""
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for folder in (cold, warm):
        _inputs(folder, INPUTS)
    _build(cold, cache=False)
    _build(warm)
    assert _forge(warm / "deck.cache", "file", lambda _: [{"source": 1, "format": "quiz-text"}])
    connection = sqlite3.connect(warm / "deck.cache" / "entries.sqlite")
    connection.execute("CREATE TRIGGER t AFTER INSERT ON entries BEGIN DELETE FROM meta; END")
    connection.commit()
    connection.close()
    (warm / "deck.cache" / "build.json").unlink()
    (warm / "deck.state.json").unlink()
    (cold / "deck.state.json").unlink()
    _build(cold, cache=False)
    _build(warm)
    assert _outputs(cold) == _outputs(warm)
    connection = sqlite3.connect(warm / "deck.cache" / "entries.sqlite")
    try:
        names = connection.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
        assert names == sorted((row[1],) for row in buildcache._schema_rows())  # no trigger
        assert ("entries",) in names and ("meta",) in names
        assert connection.execute("SELECT count(*) FROM entries").fetchone()[0] > 0
    finally:
        connection.close()


def _keys(cache: Path) -> list[str]:
    connection = sqlite3.connect(cache / "entries.sqlite")
    try:
        return [key for (key,) in connection.execute("SELECT key FROM entries ORDER BY key")]
    finally:
        connection.close()


def test_a_failed_build_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    """Entries are written as they are made, in a transaction only a finished build commits;
    the next successful build drops the entries it no longer uses."""
    inputs = _inputs(tmp_path, INPUTS)
    _build(tmp_path)
    before = _keys(tmp_path / "deck.cache")
    assert any(key.startswith("file\0") for key in before)
    _inputs(tmp_path, LATER)
    key = tmp_path / "key.yaml"
    key.write_text('"0000.00000": [A]\n')  # matches no paper: an error after parsing
    plan = plan_adhoc([inputs], tmp_path / "deck.apkg", answers=key)
    with pytest.raises(ConfigError):
        builder.build(plan, now=NOW)
    gc.collect()  # the failed build's connection, held by the traceback, is closed
    assert _keys(tmp_path / "deck.cache") == before
    for name in LATER:
        (inputs / name.replace("/", "-")).unlink()
    (inputs / "quiz-varied.txt").unlink()
    _build(tmp_path)
    after = _keys(tmp_path / "deck.cache")
    assert after and set(after) < set(before)
    assert not any("quiz-varied" in key for key in after)


def test_a_failed_first_build_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build with no valid cache writes its entries to a new file as it goes, under a
    temporary name: a failed build leaves neither that file nor its folder."""
    monkeypatch.setattr(buildcache._Entries, "BATCH", 1)  # each entry written as it comes
    inputs = _inputs(tmp_path, INPUTS)
    key = tmp_path / "key.yaml"
    key.write_text('"0000.00000": [A]\n')  # matches no paper: an error after parsing
    plan = plan_adhoc([inputs], tmp_path / "deck.apkg", answers=key)
    with pytest.raises(ConfigError) as failed:
        builder.build(plan, now=NOW)
    # At once, not when the cache (which the traceback holds) is collected.
    assert failed.traceback and sorted(p.name for p in tmp_path.iterdir()) == [
        "digests",
        "key.yaml",
    ]
    # Failing later, once its entries are complete and being synced: writing the package.

    def full_disk(files: object) -> None:
        raise BuildError("cannot write: No space left on device", tmp_path)

    monkeypatch.setattr(builder, "replace_files", full_disk)
    with pytest.raises(BuildError):
        builder.build(plan_adhoc([inputs], tmp_path / "deck.apkg"), now=NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digests", "key.yaml"]


def test_a_cache_path_that_is_a_file_is_no_error(tmp_path: Path) -> None:
    _inputs(tmp_path, INPUTS)
    (tmp_path / "deck.cache").write_text("not a directory")
    assert _build(tmp_path).written
    assert (tmp_path / "deck.cache").read_text() == "not a directory"


def test_digests_are_kept_as_dataclasses_asdict_would_write_them() -> None:
    import dataclasses

    from flashcards.answers import resolve_answers
    from flashcards.model import Paper, Question

    digests = resolve_answers(parse_paths([FIXTURES], collect_errors=True).digests)
    papers = [paper for digest in digests for paper in digest.papers]
    assert any(q.answer_source == "inferred" for p in papers for q in p.questions)
    for paper in papers:
        expected = dataclasses.asdict(paper)
        expected["published"] = paper.published.isoformat() if paper.published else None
        data = buildcache._paper_to_data(paper)
        assert list(data) == [f.name for f in dataclasses.fields(Paper)]  # no field left out
        assert json.dumps(data) == json.dumps(expected)
        for question in paper.questions:
            data = buildcache._question_to_data(question)
            assert list(data) == [f.name for f in dataclasses.fields(Question)]
            assert json.dumps(data) == json.dumps(dataclasses.asdict(question))


# A build, in a child process, that kills itself (SIGKILL: nothing can clean up) while it
# writes its cache: "copy", with the new file half written (no valid cache before: the file is
# made anew); "transaction", in the middle of the transaction that applies its entries to the
# last build's file.
_KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
from flashcards import build as builder, buildcache
from flashcards.plan import plan_adhoc

folder, point, now = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "copy":
    real_fsync = os.fsync

    def fsync(fd):
        inode = os.fstat(fd).st_ino
        if any(p.stat().st_ino == inode for p in folder.glob("deck.cache/.entries.sqlite.tmp-*")):
            os.truncate(fd, os.fstat(fd).st_size // 2)  # as if cut short while written
            die()
        real_fsync(fd)

    os.fsync = fsync
else:
    real_ours = buildcache._ours
    journal = folder / "deck.cache" / "entries.sqlite-journal"

    def die_once_the_file_changed():
        # The journal's count of pages (bytes 8 to 12) is set once they are safe on disk, just
        # before the file is overwritten with the new ones.
        if journal.exists() and journal.read_bytes()[8:12].strip(bytes(1)):
            die()

    def ours(connection, schema=""):
        found = real_ours(connection, schema)
        if found and schema == "cache.":  # the transaction on the last build's file follows
            connection.execute("PRAGMA cache.cache_size=1")  # it writes to the file at once
            connection.set_progress_handler(die_once_the_file_changed, 10)
        return found

    buildcache._ours = ours
builder.build(plan_adhoc([folder / "digests"], folder / "deck.apkg"), now=now)
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["copy", "transaction"])
def test_a_build_killed_while_writing_its_cache_leaves_none_misread(
    tmp_path: Path, point: str
) -> None:
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for folder in (cold, warm):
        _inputs(folder, INPUTS)
    if point == "transaction":
        _build(warm)  # a valid cache to apply the next build's entries to
        for folder in (cold, warm):
            _inputs(folder, LATER)
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(warm), point, str(NOW)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    cache = warm / "deck.cache"
    leftovers = [p.name.split("tmp-")[0] for p in cache.iterdir() if ".tmp-" in p.name]
    if point == "copy":  # the new file, half written, under its temporary name
        assert leftovers == [".entries.sqlite."] and not (cache / "entries.sqlite").exists()
    else:  # a file changed in part, and the journal of the pages it had then
        assert leftovers == [] and (cache / "entries.sqlite-journal").stat().st_size > 0
        entries = buildcache._Entries(cache / "entries.sqlite")
        assert entries.last is None  # it must be rolled back, which a reader cannot do
        entries.close()
    # The next builds, with whatever the kill left of the cache, give the bytes of builds
    # without one (a new cache file is synced while the package is made, and renamed last).
    _build(cold, cache=False)
    for now in (NOW, NOW + 1):
        (warm / "deck.cache" / "build.json").unlink(missing_ok=True)  # so that it runs again
        _build(warm, now=now)
        assert _outputs(warm) == _outputs(cold)
    # Removed by the next build: the temporary file; the journal, which would otherwise be
    # played back on the new file.
    assert sorted(p.name for p in cache.iterdir()) == [
        "build.json",
        "chunks.sqlite",
        "entries.sqlite",
    ]
    entries = buildcache._Entries(cache / "entries.sqlite")
    assert entries.last is not None  # a cache of this version, read as valid
    entries.close()
    assert _keys(cache) and buildcache.BuildCache.load(cache).last_build


def test_a_file_is_hashed_up_to_its_limit(tmp_path: Path) -> None:
    data = tmp_path / "digest.txt"
    data.write_bytes(b"x" * 100)
    expected = hashlib.sha256(b"x" * 100).hexdigest()
    assert buildcache.sha256_file(data) == buildcache.sha256_file(data, 100) == expected
    assert buildcache.sha256_file(data, 99) is None  # larger than the limit: not read whole
    assert buildcache.sha256_file(tmp_path, 100) is None  # a directory
    assert buildcache.sha256_file(tmp_path / "missing", 100) is None
