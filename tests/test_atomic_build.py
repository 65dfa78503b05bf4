"""A build that fails half-way leaves the previous deck and state file byte-identical (issue 5).

Failures tried: a bad input file among good ones, a full disk in the middle of a write, a
terminated process (SIGTERM: unwinds and cleans up) and a killed one (SIGKILL, in a subprocess
stopped at three points of its write). A traced build shows the only way an output file ever
changes: `os.replace` of a complete temporary file beside it.

After a SIGKILL nothing can clean up: the temporary file stays, named `.<name>.tmp-<pid>-…`
(hidden, no digest or deck suffix, so no scan picks it up), and the next build removes it.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import IO, Any

import pytest
from build_samples import deck_state_disagreements
from click.testing import CliRunner
from digest_writers import write_markdown, write_quiz_text
from helpers import NOW, ROOT

from flashcards import atomicfile
from flashcards import build as builder
from flashcards.anki.state import load_state
from flashcards.cli import main
from flashcards.errors import BuildError, FlashcardsError
from flashcards.model import Paper, Question
from flashcards.plan import BuildPlan, plan_adhoc

LINUX_PROC = Path("/proc/self/fd").is_dir()


def _quiz(title_word: str) -> str:
    paper = Paper(
        title=f"Lantern Routing for {title_word} Retrieval",
        fields={"problem": "Searching every shard is slow.", "methods": "A router picks shards."},
        questions=(Question(1, "What does the router pick?", ("Shards", "Tokens", "Users")),),
    )
    return write_quiz_text(date(2025, 7, 14), [(paper, "http://arxiv.org/pdf/2507.00101")])


TABLE = write_markdown(
    [
        (
            date(2025, 7, 15),
            [
                Paper(
                    title="Quiet Tokens in Long Context",
                    arxiv_id="2507.00102",
                    authors=("Ana Lobo",),
                    fields={"summary": "Some tokens barely matter."},
                )
            ],
        )
    ]
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Digests in tmp_path/digests, built once into tmp_path/out; then a digest is edited, so
    that the next build would change both the deck and the state."""
    digests = tmp_path / "digests"
    digests.mkdir()
    (digests / "quiz.txt").write_text(_quiz("Sparse"), encoding="utf-8")
    (digests / "table.md").write_text(TABLE, encoding="utf-8")
    report = builder.build(_plan(tmp_path), now=NOW)
    assert report.written and report.notes > 0
    (digests / "quiz.txt").write_text(_quiz("Dense"), encoding="utf-8")
    return tmp_path


def _plan(project: Path, **kwargs: object) -> BuildPlan:
    return plan_adhoc([project / "digests"], project / "out" / "deck.apkg", **kwargs)  # type: ignore[arg-type]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in `folder`, hidden and temporary ones included, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


# --- a bad input file among good ones --------------------------------------------------------

BAD_INPUTS = {
    "one option": b"2025-07-16 Papers\n\nPaper 1\n\nT\nQ1\n1. Why?\nBecause\n",
    "latin-1": "2025-07-16 Papers\n\nPaper 1\n\nM\u00fcller's Paper\n".encode("latin-1"),
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "impossible date": b"## Papers for 2025-02-30\n",
    "5 MB line": b"2025-07-16 Papers\n\nPaper 1\n\n" + b"x" * (5 * 1024 * 1024) + b"\n",
}


@pytest.mark.parametrize("bad", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_a_bad_input_file_changes_nothing(project: Path, bad: bytes) -> None:
    out = project / "out"
    before = _snapshot(out)
    (project / "digests" / "zz-bad.txt").write_bytes(bad)  # parsed last, after the good ones
    with pytest.raises(FlashcardsError):
        builder.build(_plan(project), now=NOW + 1)
    assert _snapshot(out) == before
    result = CliRunner().invoke(
        main, ["build", "-i", str(project / "digests"), "-o", str(out / "deck.apkg")]
    )
    assert result.exit_code == 2 and "zz-bad.txt" in result.stderr
    assert _snapshot(out) == before


def test_one_broken_deck_leaves_every_deck_as_it_was(tmp_path: Path) -> None:
    """`flashcards build` of several decks is all or nothing too: every deck is built in memory
    before any file is written."""
    for name, text in (("a", _quiz("Sparse")), ("b", TABLE)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "digest.txt").write_text(text, encoding="utf-8")
        (tmp_path / f"{name}.yaml").write_text(
            f"name: Deck {name}\nsources: [{name}/*.txt]\noutput: dist/{name}.apkg\n",
            encoding="utf-8",
        )
    definitions = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    assert all(r.written for r in builder.build_definitions(definitions, now=NOW))
    before = _snapshot(tmp_path / "dist"), _snapshot(tmp_path)

    (tmp_path / "a" / "digest.txt").write_text(_quiz("Dense"), encoding="utf-8")  # a changes
    (tmp_path / "b" / "zz-bad.txt").write_bytes(BAD_INPUTS["one option"])  # b breaks
    with pytest.raises(FlashcardsError):
        builder.build_definitions(definitions, now=NOW + 1)
    assert (_snapshot(tmp_path / "dist"), _snapshot(tmp_path)) == before


# --- a full disk in the middle of a write ------------------------------------------------------


class _FullDisk:
    """A file object that accepts half of what it is given, then fails like a full disk."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


@pytest.mark.parametrize("failing", [1, 2], ids=["state", "deck"])
def test_disk_full_half_way_through_a_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    out = project / "out"
    before = _snapshot(out)
    real_fdopen = os.fdopen
    opened: list[int] = []

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        opened.append(fd)
        handle = real_fdopen(fd, *args, **kwargs)
        return _FullDisk(handle) if len(opened) == failing else handle

    monkeypatch.setattr(atomicfile.os, "fdopen", fdopen)
    with pytest.raises(BuildError) as info:
        builder.build(_plan(project), now=NOW + 1)
    name = "deck.state.json" if failing == 1 else "deck.apkg"
    assert str(info.value) == (
        f"{out / name}: cannot write: No space left on device; nothing was changed"
    )
    assert _snapshot(out) == before


# --- killed and terminated processes -----------------------------------------------------------

# Runs a build in a child process that stops at one point of its write (and says so by creating
# the marker file) until the test kills it. The points:
#   state-written   the state's temporary file is complete, the deck's not yet begun
#   deck-half       the deck's temporary file is half written
#   before-rename   both temporary files are complete; nothing renamed yet
CHILD = r"""
import os, sys, time
from pathlib import Path
from flashcards import atomicfile, build, plan

marker, point, project, command = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
real_fsync, real_fdopen = os.fsync, os.fdopen

def target(fd):
    return os.readlink(f"/proc/self/fd/{fd}")

def stop():
    # Until the test kills the process, or lets it go on by creating the file "release".
    marker.write_text("stopped")
    for _ in range(2400):
        if marker.with_name("release").exists():
            return
        time.sleep(0.05)

def fsync(fd):
    real_fsync(fd)
    name = target(fd)
    if (point == "state-written" and "deck.state.json.tmp-" in name) or (
        point == "before-rename" and "deck.apkg.tmp-" in name
    ):
        stop()

class Half:
    def __init__(self, handle):
        self.handle = handle
    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        stop()
    def __getattr__(self, name):
        return getattr(self.handle, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.handle.close()

def fdopen(fd, *args, **kwargs):
    handle = real_fdopen(fd, *args, **kwargs)
    return Half(handle) if point == "deck-half" and "deck.apkg.tmp-" in target(fd) else handle

atomicfile.os.fsync = fsync
atomicfile.os.fdopen = fdopen
if command == "cli":
    from flashcards.cli import main
    main(["build", "-i", str(project / "digests"), "-o", str(project / "out" / "deck.apkg")])
else:
    build.build(plan.plan_adhoc([project / "digests"], project / "out" / "deck.apkg"))
"""


def _stopped_child(project: Path, point: str, command: str = "library") -> subprocess.Popen:
    marker = project / "stopped"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), point, str(project), command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            _, err = child.communicate()
            pytest.fail(f"the build never reached {point}: {err.decode()[-2000:]}")
        time.sleep(0.02)
    return child


@pytest.mark.skipif(not LINUX_PROC, reason="the child finds its files through /proc/self/fd")
@pytest.mark.parametrize("point", ["state-written", "deck-half", "before-rename"])
def test_sigkill_while_writing_leaves_deck_and_state(project: Path, point: str) -> None:
    out = project / "out"
    before = _snapshot(out)
    child = _stopped_child(project, point)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    after = _snapshot(out)
    leftovers = _temps(out)
    # The deck and the state are exactly as they were; what the killed build had written is
    # only in its clearly named temporary files.
    assert {k: v for k, v in after.items() if k not in leftovers} == before
    expected = [".deck.state.json.tmp-"] + ([] if point == "state-written" else [".deck.apkg.tmp-"])
    assert sorted(name.split(f"{child.pid}-")[0] for name in leftovers) == sorted(expected)

    # The next build ignores them, writes the right deck, and removes them.
    report = builder.build(_plan(project), now=NOW + 2)
    assert report.written and _temps(out) == []
    clean = project / "clean"
    (clean / "out").mkdir(parents=True)
    for name in ("deck.apkg", "deck.state.json"):
        (clean / "out" / name).write_bytes(before[name])
    (clean / "digests").symlink_to(project / "digests")
    builder.build(_plan(clean), now=NOW + 2)
    assert _snapshot(out) == _snapshot(clean / "out")


@pytest.mark.skipif(not LINUX_PROC, reason="the child finds its files through /proc/self/fd")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("point", ["state-written", "before-rename"])
def test_polite_signal_while_writing_waits_until_every_file_is_replaced(
    project: Path, point: str, signum: int
) -> None:
    """A signal that arrives while the files are written is held back until the deck and the
    state are both replaced: never the new state beside the old deck, no temporary file."""
    out = project / "out"
    before = _snapshot(out)
    child = _stopped_child(project, point, command="cli")
    child.send_signal(signum)
    (project / "release").write_text("go on")
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert err.decode() == (
        f"error: interrupted by {name}: every deck and state file is either as it was or "
        "completely updated, never half\n"
    )
    after = _snapshot(out)
    assert _temps(out) == []
    assert after["deck.apkg"] != before["deck.apkg"]
    assert after["deck.state.json"] != before["deck.state.json"]
    assert deck_state_disagreements(out / "deck.apkg", out / "deck.state.json") == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_at_random_moments_never_split_deck_and_state(project: Path, signum: int) -> None:
    """Real builds in subprocesses, each given a signal after a random delay (seeded): whatever
    the moment, the deck and the state agree afterwards and no temporary file is left."""
    rng = random.Random(9 + signum)
    out = project / "out"
    for attempt in range(12):
        # Every build changes both files: an edited paper (new time) and a new one (new GUID).
        (project / "digests" / "quiz.txt").write_text(_quiz(f"Try{attempt}"), encoding="utf-8")
        extra = Paper(title=f"Extra Paper {attempt}", fields={"summary": "Text."})
        (project / "digests" / f"extra{attempt}.md").write_text(
            write_markdown([(date(2025, 7, 16), [extra])]), encoding="utf-8"
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "flashcards", "build", "-i", "digests", "-o", "out/deck.apkg"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.0, 1.2))
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
        # Finished first (0), stopped by the signal (128 + signum: one line, no traceback), or
        # hit before Python set up any handler (killed by it, or KeyboardInterrupt).
        assert child.returncode in (0, 128 + signum, -signum, 1), err.decode()
        if child.returncode == 128 + signum:
            assert err.decode().count("\n") == 1 and err.startswith(b"error: interrupted by ")
        assert _temps(out) == []
        assert deck_state_disagreements(out / "deck.apkg", out / "deck.state.json") == []


@pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="needs Linux's /proc/locks")
def test_a_second_build_waits_and_starts_from_the_first_ones_state(project: Path) -> None:
    """While one build holds its deck's folder, another waits for it (seen in /proc/locks, not
    timed), then reads the state the first one left: never both from the same old state."""
    out = project / "out"
    # What "the first build" will leave while the second one waits: a state pinning another
    # namespace, which only a build that reads the state after the wait can follow.
    first = project / "first"
    (first / "out").mkdir(parents=True)
    (first / "digests").symlink_to(project / "digests")
    builder.build(_plan(first, identity_setting="pinned"), now=NOW + 5)
    with atomicfile.directories_locked([out / "deck.state.json"]):
        child = subprocess.Popen(
            [sys.executable, "-m", "flashcards", "build", "-i", "digests", "-o", "out/deck.apkg"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not any(
            line.split()[1] == "->" and line.split()[5] == str(child.pid)
            for line in Path("/proc/locks").read_text().splitlines()
        ):
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"the second build did not wait: {child.communicate()[1].decode()}")
            time.sleep(0.02)
        for name in ("deck.state.json", "deck.apkg"):
            os.replace(first / "out" / name, out / name)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()
    assert load_state(out / "deck.state.json").namespace == "pinned"
    assert deck_state_disagreements(out / "deck.apkg", out / "deck.state.json") == []


def test_temporary_files_of_live_processes_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "deck.apkg"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    stale = tmp_path / f".deck.apkg.tmp-{dead.stdout.strip()}-abc123"
    live = tmp_path / f".deck.apkg.tmp-{os.getppid()}-def456"  # our parent: alive
    other = tmp_path / f".other.apkg.tmp-{dead.stdout.strip()}-ghi789"  # another file's
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    assert atomicfile.remove_stale_temps(target) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


# --- the only way an output file changes ---------------------------------------------------------

# Records, with Python's audit hooks, every file opened for writing, renamed, removed or
# truncated during a build (in a child process: audit hooks cannot be removed again).
TRACE = r"""
import json, os, sys
from pathlib import Path
from flashcards import build, plan

project = Path(sys.argv[1])
events = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def path_of(value):
    if isinstance(value, (str, bytes, os.PathLike)):
        return os.path.abspath(os.fsdecode(value))
    return None

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        writing = (mode is not None and any(c in mode for c in "wax+")) or (flags & WRITE_FLAGS)
        if writing and path_of(path):
            events.append(["open", path_of(path)])
    elif event == "os.rename":
        events.append(["rename", path_of(args[0]), path_of(args[1])])
    elif event in ("os.remove", "os.truncate", "os.link", "os.symlink", "shutil.copyfile"):
        events.append([event, path_of(args[0])])

sys.addaudithook(hook)
build.build(plan.plan_adhoc([project / "digests"], project / "out" / "deck.apkg"))
print(json.dumps(events))
"""


def test_outputs_change_only_by_renaming_a_complete_temporary_file(project: Path) -> None:
    out = (project / "out").resolve()
    before = _snapshot(out)
    done = subprocess.run(
        [sys.executable, "-c", TRACE, str(project)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    events = [e for e in json.loads(done.stdout) if any(str(out) in str(p) for p in e[1:])]
    # The cache is written after the deck: build.json the same way; entries.sqlite and
    # chunks.sqlite by SQLite, each in one journaled transaction (no Python file event;
    # tests/test_buildcache.py shows that a failed build leaves it as it was).
    cache = out / "deck.cache"
    finals = {str(out / "deck.apkg"), str(out / "deck.state.json"), str(cache / "build.json")}

    def is_temp(path: str) -> bool:
        name = Path(path).name
        return Path(path).parent in (out, cache) and name.startswith(".") and ".tmp-" in name

    opened = [e[1] for e in events if e[0] == "open"]
    renamed = [(e[1], e[2]) for e in events if e[0] == "rename"]
    assert opened and all(is_temp(p) for p in opened), opened  # never a final file
    assert sorted(dst for _, dst in renamed) == sorted(finals)  # both changed, by rename...
    assert all(is_temp(src) and src in opened for src, _ in renamed)  # ...of a temp written here
    for kind, *paths in events:
        assert kind in ("open", "rename", "os.remove"), kind
        if kind == "os.remove":
            assert is_temp(paths[0])
    after = _snapshot(out)
    assert set(after) == {"deck.apkg", "deck.state.json"}
    assert after != before
