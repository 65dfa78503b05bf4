"""Speed and memory targets of flashcards, measured on the real corpus (../shared/corpus).

Each phase runs in a fresh process so that its peak memory (max RSS) is its own. Exit status 1
when a target is missed. Timed tests are deliberately absent from the test suite: timing on a
shared CI machine is noise there, and a deliberate run here is a measurement.

    python benchmarks/run.py                # all phases, a table, exit 1 on a missed target
    python benchmarks/run.py --scale 10     # the synthetic phase with 10x the corpus
    python benchmarks/run.py --json         # the same numbers as JSON
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


@dataclasses.dataclass(frozen=True)
class Target:
    seconds: float
    max_rss_mb: float


#: The targets, on a 2-core machine. Parsing and tagging ~400 real digests is an interactive
#: command; building their ~4,000 notes is what a scheduled CI job does every day.
TARGETS = {
    "parse corpus (all cores)": Target(seconds=5.0, max_rss_mb=300),
    "answers (all quiz text)": Target(seconds=5.0, max_rss_mb=300),
    "build corpus deck": Target(seconds=15.0, max_rss_mb=400),
    "anki import of it": Target(seconds=5.0, max_rss_mb=500),
    "build synthetic (scale x corpus)": Target(seconds=60.0, max_rss_mb=1500),
    "hostile markdown tables": Target(seconds=30.0, max_rss_mb=600),
}

#: Cell contents that once cost markdown-it seconds per 100 KB (unmatched `[` were quadratic).
HOSTILE_CELLS = ("[", "]", "*", "_", "`", "<", "&", "![", "[]", "[a](", "*" + "a" * 30 + " ")


def _parse() -> str:
    from flashcards.parse import digest_jobs, parse_paths
    from flashcards.workers import cores

    result = parse_paths([CORPUS])  # in a worker process per core (PARALLEL_MIN_FILES)
    papers = sum(len(d.papers) for d in result.digests)
    files = len(digest_jobs([CORPUS]))
    return f"{files} files on {cores()} cores: {len(result.digests)} digests, {papers} papers"


def _answers() -> str:
    from flashcards.answers import resolve_answers
    from flashcards.parse import parse_paths

    digests = list(parse_paths([CORPUS / "daily_paper" / "text"]).digests)
    start = time.perf_counter()
    resolved = resolve_answers(digests)
    elapsed = time.perf_counter() - start
    questions = sum(len(p.questions) for d in resolved for p in d.papers)
    return f"{questions} questions ({elapsed:.2f}s of it inference)"


def _build(out: Path) -> str:
    from flashcards.build import build
    from flashcards.plan import plan_adhoc

    report = build(plan_adhoc([CORPUS], out), now=1_800_000_000)
    size = out.stat().st_size / 1e6
    return f"{report.notes} notes, {report.cards} cards, {size:.1f} MB"


def _import(package: Path) -> str:
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    with tempfile.TemporaryDirectory() as tmp:
        col = Collection(str(Path(tmp) / "collection.anki2"))
        try:
            request = ImportAnkiPackageRequest(
                package_path=str(package), options=ImportAnkiPackageOptions()
            )
            log = col.import_anki_package(request).log
        finally:
            col.close()
    return f"{len(log.new)} notes new in a fresh collection"


def _synthetic(scale: int) -> str:
    """`scale` copies of every corpus paper under fresh identities: a deck of many years."""
    from flashcards.anki.export import build_package
    from flashcards.anki.notes import build_notes
    from flashcards.anki.state import DeckState, stamp_notes
    from flashcards.parse import parse_paths

    digests = list(parse_paths([CORPUS]).digests)
    copies = []
    for copy in range(scale):
        for digest in digests:
            papers = tuple(
                dataclasses.replace(p, arxiv_id=f"{copy:02d}{p.arxiv_id or p.key}")
                for p in digest.papers
            )
            copies.append(
                dataclasses.replace(digest, papers=papers, source=f"{copy}/{digest.source}")
            )
    specs = build_notes(copies, deck="Scale")
    stamped, _ = stamp_notes(specs, DeckState(), 1_800_000_000)
    package = build_package(stamped)
    return f"{package.notes} notes, {package.cards} cards, {len(package.data) / 1e6:.1f} MB"


def _hostile() -> str:
    """One table per shape within the limits (2 MiB, 256 Ki-character lines), parsed in turn."""
    from flashcards.parse import DEFAULT_MAX_LINE, parse_text

    head = "## Papers for 2025-07-14\n\n| Title | Authors | Summary |\n|---|---|---|\n"
    slowest = (0.0, "")
    for unit in HOSTILE_CELLS:
        cell = (unit * (DEFAULT_MAX_LINE // len(unit)))[: DEFAULT_MAX_LINE - 64]
        text = head + "".join(f"| T{i} | A | {cell} |\n" for i in range(7))
        start = time.perf_counter()
        parse_text(text, "hostile.md")
        slowest = max(slowest, (time.perf_counter() - start, unit))
    return f"{len(HOSTILE_CELLS)} tables of 1.75 MiB; slowest {slowest[1]!r} {slowest[0]:.1f} s"


_RUSAGE = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def _run(job: Callable[..., str], args: tuple, queue: multiprocessing.Queue) -> None:
    start = time.perf_counter()
    detail = job(*args)
    seconds = time.perf_counter() - start
    # The largest of this process and its workers, if any (KiB on Linux).
    rss_kib = max(resource.getrusage(who).ru_maxrss for who in _RUSAGE)
    rss_mb = rss_kib / 1024
    queue.put((seconds, rss_mb, detail))


def measure(name: str, job: Callable[..., str], *args: object) -> dict[str, object]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(job, args, queue))
    process.start()
    seconds, rss_mb, detail = queue.get()
    process.join()
    target = TARGETS[name]
    ok = seconds <= target.seconds and rss_mb <= target.max_rss_mb
    return {
        "phase": name,
        "seconds": round(seconds, 2),
        "max_rss_mb": round(rss_mb),
        "target_seconds": target.seconds,
        "target_max_rss_mb": target.max_rss_mb,
        "ok": ok,
        "detail": detail,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=5, help="copies of the corpus (synthetic)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"error: {CORPUS} not found (../shared beside the checkout)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        deck = Path(tmp) / "corpus.apkg"
        rows = [
            measure("parse corpus (all cores)", _parse),
            measure("answers (all quiz text)", _answers),
            measure("build corpus deck", _build, deck),
            measure("anki import of it", _import, deck),
            measure("build synthetic (scale x corpus)", _synthetic, options.scale),
            measure("hostile markdown tables", _hostile),
        ]
    if options.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            mark = "ok  " if row["ok"] else "MISS"
            print(
                f"{mark} {row['phase']:34} {row['seconds']:7.2f}s (≤ {row['target_seconds']:g}s)"
                f" {row['max_rss_mb']:6}MB (≤ {row['target_max_rss_mb']:g}MB)  {row['detail']}"
            )
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
