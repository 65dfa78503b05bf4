"""The archive benchmark (benchmarks/archive.py) at a tiny size: it runs, reports every phase of
every build, and the incremental builds equal cold builds byte for byte. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flashcards import timing
from flashcards.parse import parse_paths

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import synthetic  # noqa: E402  (benchmarks/ is not a package)

PHASES = {"cache", "parse", "answers", "topics", "notes", "state", "export", "zip", "write"}


@pytest.mark.slow
def test_archive_benchmark_at_a_tiny_size() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "archive.py"), "--quiz", "2", "--tables", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only: the run takes seconds
    )
    assert run.returncode in (0, 1), run.stderr
    report = json.loads(run.stdout)

    builds = report["builds"]
    assert list(builds) == ["cold", "nothing new", "one new digest", "cold with it"]
    for name, build in builds.items():
        # A cold build runs every phase; the cache spares an incremental build some of them.
        assert set(build["phases"]) <= PHASES, name
        assert set(build["phases"]) == PHASES or name not in ("cold", "cold with it"), name
        assert build["max_rss_mb"] > 0 and build["bytes"] > 0, name
    # A quiz digest: 3 summary notes of 4 cards (a new deck makes no Topic card) + 9 questions.
    assert report["notes"] == 2 * 12 + 13 and report["cards"] == 2 * 21 + 13
    assert report["genanki"]["notes"] == report["notes"]
    assert builds["nothing new"]["unchanged"] == report["notes"]
    assert set(builds["nothing new"]["phases"]) == {"cache", "write"}  # the last build, reused
    assert "parse" in builds["one new digest"]["phases"]
    assert builds["one new digest"]["new"] == 12
    assert builds["nothing new"]["sha256"] == builds["cold"]["sha256"]
    assert builds["one new digest"]["sha256"] == builds["cold with it"]["sha256"]
    assert builds["one new digest"]["sha256"] != builds["cold"]["sha256"]

    targets = {target["target"]: target["ok"] for target in report["targets"]}
    assert len(targets) == 7
    assert targets["nothing new: byte-identical to the cold build"]
    assert targets["one new digest: byte-identical to a cold build of its inputs"]
    assert run.returncode == (0 if all(targets.values()) else 1)


def test_synthetic_archive_has_the_real_shapes(tmp_path: Path) -> None:
    paths = synthetic.write_archive(tmp_path / "a", quiz=2, tables=1, seed=7)
    again = synthetic.write_archive(tmp_path / "b", quiz=2, tables=1, seed=7)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]

    result = parse_paths(paths)
    assert not result.warnings
    papers = [paper for digest in result.digests for paper in digest.papers]
    assert [len(d.papers) for d in result.digests] == [3, 3, 13]
    assert len({paper.arxiv_id for paper in papers}) == len(papers)
    quiz_papers = [p for d in result.digests if d.format == "quiz-text" for p in d.papers]
    for paper in quiz_papers:
        assert set(paper.fields) == {
            "topic",
            "previous_research",
            "problem",
            "methods",
            "results",
            "workflow",
        }
        assert [len(q.options) for q in paper.questions] == [4, 4, 4]
    assert synthetic.archive_size(37_000) == (2000, 1000)


def test_nested_phases_count_only_to_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    # outer in; inner in, out; inner in, out; outer out
    clock = iter([0.0, 1.0, 3.0, 4.0, 5.0, 10.0])
    monkeypatch.setattr(timing, "_clock", lambda: next(clock))
    with timing.recording() as phases, timing.phase("outer"):
        with timing.phase("inner"):
            pass
        with timing.phase("inner"):
            pass
    assert phases == {"inner": 3.0, "outer": 7.0}
    with timing.phase("outer"):  # nobody records: nothing is counted
        pass
    assert phases == {"inner": 3.0, "outer": 7.0}
