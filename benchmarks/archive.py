"""How a build scales with the archive, against plain genanki writing the same notes.

A synthetic archive (benchmarks/synthetic.py: 2,000 quiz-text and 1,000 markdown-table digests
of made-up text by default, about 37,000 notes) is built by `flashcards.build.build` cold, then
again with nothing new, then with one new digest, and cold with that digest as the reference the
incremental result must equal byte for byte. Plain genanki writes the same notes (read back from
the cold package: same fields, tags, GUIDs, note types and count) with its own `write_to_file`.
Every build runs in a fresh process so its peak RSS is its own. Prints each phase of each build,
the ratios, the package sizes and the issue-14 targets as ok/MISS; exit status 1 on a miss.

    python benchmarks/archive.py                      # the 37,000-note archive
    python benchmarks/archive.py --notes 10000        # another size (2 quiz : 1 table digests)
    python benchmarks/archive.py --sizes 10000,40000,100000   # growth: cold and genanki only
    python benchmarks/archive.py --profile cold.prof  # cProfile of one cold build, top entries
    python benchmarks/archive.py --json               # the numbers as JSON
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import pstats
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # beside this script (benchmarks/ is not a package)

#: The build clock: only changed notes read it, and nothing changes between these builds.
NOW = 1_800_000_000
DECK = "Archive"
PHASES = ("cache", "parse", "answers", "topics", "notes", "state", "export", "zip", "write")

#: Issue 14's targets, as ratios to plain genanki in the same run.
COLD_RATIO = 8.0
INCREMENTAL_RATIO = 2.0
RSS_RATIO = 1.5
SIZE_TOLERANCE = 0.10  # the package against the same collection deflated at level 9
GROWTH_TOLERANCE = 1.3  # seconds per note at the largest size against the smallest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _our_build(inputs: list[str], output: str, profile: str | None = None) -> dict[str, Any]:
    from flashcards.build import build
    from flashcards.plan import plan_adhoc
    from flashcards.timing import recording

    plan = plan_adhoc(inputs, output, deck=DECK)
    profiler = cProfile.Profile() if profile else None
    with recording() as phases:
        start = time.perf_counter()
        if profiler is not None:
            report = profiler.runcall(build, plan, now=NOW)
            profiler.dump_stats(profile)
        else:
            report = build(plan, now=NOW)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "phases": dict(phases),
        "notes": report.notes,
        "cards": report.cards,
        "new": report.new,
        "unchanged": report.unchanged,
        "bytes": Path(output).stat().st_size,
        "sha256": _sha256(Path(output)),
    }


def _genanki(package: str, output: str) -> dict[str, Any]:
    """Plain genanki writing the notes of `package` (one deck, our two note types)."""
    import genanki

    from flashcards import identity
    from flashcards.anki.notetypes import mcq_model, summary_model

    models = {model.model_id: model for model in (mcq_model(), summary_model())}
    with tempfile.TemporaryDirectory() as tmp:
        collection = Path(tmp) / "collection.anki2"
        with (
            zipfile.ZipFile(package) as archive,
            archive.open("collection.anki2") as source,
            collection.open("wb") as target,
        ):
            shutil.copyfileobj(source, target, 1 << 20)
        connection = sqlite3.connect(collection)
        rows = connection.execute("SELECT guid, mid, flds, tags FROM notes ORDER BY id").fetchall()
        connection.close()

    start = time.perf_counter()
    deck = genanki.Deck(identity.deck_id(DECK), DECK)
    for guid, mid, fields, tags in rows:
        note = genanki.Note(
            model=models[mid], fields=fields.split("\x1f"), tags=tags.split(), guid=guid
        )
        deck.add_note(note)
    genanki.Package(deck).write_to_file(output, timestamp=NOW)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "notes": len(rows), "bytes": Path(output).stat().st_size}


def _child(job: Callable[..., dict[str, Any]], args: tuple, queue: multiprocessing.Queue) -> None:
    result = job(*args)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB
    # The parse workers' (forked, so counting the pages they share with this process): the
    # largest one's peak. They are gone before this process peaks (notes, state, export), so
    # the main process's peak is the build's; this shows it stays so.
    result["worker_max_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put(result)


def run_alone(job: Callable[..., dict[str, Any]], *args: object) -> dict[str, Any]:
    """`job(*args)` in a fresh process; its result with that process's peak RSS."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(job, args, queue))
    process.start()
    try:
        result = queue.get()
    finally:
        process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{job.__name__} failed with exit code {process.exitcode}")
    return result


def level9_bytes(package: Path) -> int:
    """Today's reference size: the package's collection deflated at level 9, as before."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    size = 0
    with zipfile.ZipFile(package) as archive, archive.open("collection.anki2") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            size += len(compressor.compress(chunk))
    size += len(compressor.flush())
    return size + (Path(package).stat().st_size - _entry_compressed_size(package))


def _entry_compressed_size(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        return archive.getinfo("collection.anki2").compress_size


def measure(quiz: int, tables: int, *, incremental: bool = True) -> dict[str, Any]:
    """Every build of an archive of `quiz` + `tables` digests; see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="flashcards-bench-") as tmp:
        root = Path(tmp)
        archive = root / "archive"
        synthetic.write_archive(archive, quiz, tables)
        extra = synthetic.write_next_digest(root / "new", quiz)
        deck = root / "daily" / "deck.apkg"  # the daily deck: its state (and caches) beside it
        builds: dict[str, dict[str, Any]] = {}
        builds["cold"] = run_alone(_our_build, [str(archive)], str(deck))
        cold_package = root / "cold.apkg"
        shutil.copyfile(deck, cold_package)
        genanki_result = run_alone(_genanki, str(cold_package), str(root / "genanki.apkg"))
        if incremental:
            builds["nothing new"] = run_alone(_our_build, [str(archive)], str(deck))
            both = [str(archive), str(extra)]
            builds["one new digest"] = run_alone(_our_build, both, str(deck))
            reference = root / "reference" / "deck.apkg"
            builds["cold with it"] = run_alone(_our_build, both, str(reference))
        reference_bytes = level9_bytes(cold_package)
    result: dict[str, Any] = {
        "quiz_digests": quiz,
        "table_digests": tables,
        "notes": builds["cold"]["notes"],
        "cards": builds["cold"]["cards"],
        "genanki": genanki_result,
        "builds": builds,
        "level9_bytes": reference_bytes,
    }
    result["targets"] = _targets(result)
    return result


def _targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    base = result["genanki"]
    builds = result["builds"]
    targets = []

    def target(name: str, ok: bool, detail: str) -> None:
        targets.append({"target": name, "ok": ok, "detail": detail})

    ratio = builds["cold"]["seconds"] / base["seconds"]
    target(f"cold ≤ {COLD_RATIO:g}× genanki", ratio <= COLD_RATIO, f"{ratio:.1f}×")
    for name in ("nothing new", "one new digest"):
        if name in builds:
            ratio = builds[name]["seconds"] / base["seconds"]
            target(f"{name} ≤ {INCREMENTAL_RATIO:g}× genanki", ratio <= INCREMENTAL_RATIO,
                   f"{ratio:.1f}×")  # fmt: skip
    rss = max(b["max_rss_mb"] for b in builds.values())
    rss_ratio = rss / base["max_rss_mb"]
    target(f"peak RSS ≤ {RSS_RATIO:g}× genanki", rss_ratio <= RSS_RATIO,
           f"{rss:.0f} MB vs {base['max_rss_mb']:.0f} MB, {rss_ratio:.2f}×")  # fmt: skip
    size, reference = builds["cold"]["bytes"], result["level9_bytes"]
    target(f"package within {SIZE_TOLERANCE:.0%} of level-9 deflate",
           size <= reference * (1 + SIZE_TOLERANCE),
           f"{size / 1e6:.1f} MB vs {reference / 1e6:.1f} MB")  # fmt: skip
    if "nothing new" in builds:
        same = builds["nothing new"]["sha256"] == builds["cold"]["sha256"]
        target("nothing new: byte-identical to the cold build", same, "")
        same = builds["one new digest"]["sha256"] == builds["cold with it"]["sha256"]
        target("one new digest: byte-identical to a cold build of its inputs", same, "")
    return targets


def growth(sizes: list[int]) -> dict[str, Any]:
    """Cold builds and genanki at each size (in notes): seconds per 1,000 notes should stay flat."""
    runs = [measure(*synthetic.archive_size(notes), incremental=False) for notes in sizes]
    per_note = [run["builds"]["cold"]["seconds"] / run["notes"] for run in runs]
    ratio = per_note[-1] / per_note[0]
    targets = [
        target
        for run in runs
        for target in run["targets"]
        if not target["target"].startswith(("nothing", "one"))
    ]
    targets.append(
        {
            "target": f"linear: s/note at {runs[-1]['notes']:,} ≤ {GROWTH_TOLERANCE:g}× at "
            f"{runs[0]['notes']:,}",
            "ok": ratio <= GROWTH_TOLERANCE,
            "detail": f"{ratio:.2f}×",
        }
    )
    return {"runs": runs, "targets": targets}


def _print_run(run: dict[str, Any]) -> None:
    print(
        f"archive: {run['quiz_digests']:,} quiz + {run['table_digests']:,} table digests, "
        f"{run['notes']:,} notes, {run['cards']:,} cards"
    )
    header = "".join(f"{p:>8}" for p in PHASES)
    print(
        f"{'build':16}{'total':>8}{header}{'other':>8}{'RSS MB':>8}{'MB':>7}{'×genanki':>9}"
        f"{'worker RSS':>11}"
    )
    base = run["genanki"]
    print(
        f"{'plain genanki':16}{base['seconds']:8.2f}{'':{8 * (len(PHASES) + 1)}}"
        f"{base['max_rss_mb']:8.0f}{base['bytes'] / 1e6:7.1f}{1:9.1f}"
    )
    for name, build in run["builds"].items():
        phases = build["phases"]
        other = build["seconds"] - sum(phases.values())
        cells = "".join(f"{phases.get(p, 0.0):8.2f}" for p in PHASES)
        print(
            f"{name:16}{build['seconds']:8.2f}{cells}{other:8.2f}{build['max_rss_mb']:8.0f}"
            f"{build['bytes'] / 1e6:7.1f}{build['seconds'] / base['seconds']:9.1f}"
            f"{build.get('worker_max_rss_mb', 0.0):11.0f}"
        )


def _print_targets(targets: list[dict[str, Any]]) -> None:
    for target in targets:
        mark = "ok  " if target["ok"] else "MISS"
        print(f"{mark} {target['target']}" + (f": {target['detail']}" if target["detail"] else ""))


def _profile(quiz: int, tables: int, output: Path, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="flashcards-bench-") as tmp:
        archive = Path(tmp) / "archive"
        synthetic.write_archive(archive, quiz, tables)
        result = run_alone(_our_build, [str(archive)], str(Path(tmp) / "deck.apkg"), str(output))
    print(f"cold build under cProfile: {result['seconds']:.1f} s, {result['notes']:,} notes")
    stream = io.StringIO()
    stats = pstats.Stats(str(output), stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(stream.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, help="archive size in notes (default 37,000)")
    parser.add_argument("--quiz", type=int, help="quiz digests (12 notes each)")
    parser.add_argument("--tables", type=int, help="markdown table digests (13 notes each)")
    parser.add_argument("--sizes", help="comma-separated note counts: growth, cold builds only")
    parser.add_argument("--profile", type=Path, help="write a cProfile of one cold build here")
    parser.add_argument("--top", type=int, default=30, help="entries of the profile to print")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    options = parser.parse_args()

    if options.notes is not None:
        quiz, tables = synthetic.archive_size(options.notes)
    else:
        quiz, tables = synthetic.DEFAULT_QUIZ, synthetic.DEFAULT_TABLES
    quiz = options.quiz if options.quiz is not None else quiz
    tables = options.tables if options.tables is not None else tables

    if options.profile is not None:
        _profile(quiz, tables, options.profile, options.top)
        return 0
    if options.sizes:
        result = growth([int(size) for size in options.sizes.split(",")])
        runs = result["runs"]
    else:
        result = measure(quiz, tables)
        runs = [result]
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        for run in runs:
            _print_run(run)
            print()
        _print_targets(result["targets"])
    return 0 if all(target["ok"] for target in result["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
