"""Worker processes give exactly one process's results, in order."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import HANG_TIMEOUT, spy_on_worker_pools

from flashcards import workers


def _square_and_pid(number: int) -> tuple[int, int]:
    if number == 77:
        raise ValueError("seventy-seven")
    return number * number, os.getpid()


@pytest.mark.parametrize("count", [2, 3, 130, 1000])
def test_results_come_in_order_from_pieces_covering_every_item(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    pieces = workers._pieces(count, 2)
    assert [start for start, _ in pieces] == [0] + [stop for _, stop in pieces[:-1]]
    assert pieces[-1][1] == count
    sizes = [stop - start for start, stop in pieces]
    assert sizes == sorted(sizes, reverse=True)  # the smallest last
    spawned = spy_on_worker_pools(monkeypatch)
    items = [n for n in range(count + 1) if n != 77][:count]
    results = list(workers.fork_iter(_square_and_pid, items, minimum=2))
    assert spawned == [1]
    assert [square for square, _ in results] == [n * n for n in items]
    assert os.getpid() not in {pid for _, pid in results}


def test_an_error_in_a_worker_is_raised_where_its_item_is(monkeypatch: pytest.MonkeyPatch) -> None:
    spy_on_worker_pools(monkeypatch)
    seen = []
    with pytest.raises(ValueError, match="seventy-seven"):
        for square, _ in workers.fork_iter(_square_and_pid, range(200), minimum=2):
            seen.append(square)
    assert seen == [n * n for n in range(len(seen))] and len(seen) <= 77


def _collecting(number: int) -> bool:
    return gc.isenabled()


@pytest.mark.parametrize("ending", ["done", "error", "closed"])
def test_collection_paused_here_while_workers_run_and_restored(
    monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """This process does not collect garbage while it takes in the results (the workers do),
    and collects again afterwards however the pool ends; a caller's pause is left alone (and
    holds in the workers too)."""
    spawned = spy_on_worker_pools(monkeypatch)
    assert gc.isenabled()
    if ending == "done":
        for collecting in workers.fork_iter(_collecting, range(200), minimum=2):
            assert collecting  # in the worker
            assert not gc.isenabled()  # here
    elif ending == "error":
        with pytest.raises(ValueError, match="seventy-seven"):
            for _ in workers.fork_iter(_square_and_pid, range(200), minimum=2):
                assert not gc.isenabled()
    else:
        results = workers.fork_iter(_collecting, range(200), minimum=2)
        assert next(results) is True
        assert not gc.isenabled()
        results.close()
    assert gc.isenabled()
    gc.disable()
    try:
        assert list(workers.fork_iter(_collecting, range(200), minimum=2)) == [False] * 200
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert spawned == [1, 1]


@pytest.mark.parametrize("ending", ["done", "error", "closed"])
def test_results_left_in_files_are_read_and_none_remain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ending: str
) -> None:
    """Workers leave their results in files of a folder of their own, which is gone however the
    pool ends (with the results of pieces never read)."""
    spy_on_worker_pools(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    items = range(1000)
    if ending == "done":
        results = list(workers.fork_iter(_square_and_pid, range(78, 1078), minimum=2))
        assert [square for square, _ in results] == [n * n for n in range(78, 1078)]
    elif ending == "error":
        with pytest.raises(ValueError, match="seventy-seven"):
            list(workers.fork_iter(_square_and_pid, items, minimum=2))
    else:
        results_iter = workers.fork_iter(_square_and_pid, items, minimum=2)
        assert next(results_iter)[0] == 0
        assert [p.name[:19] for p in tmp_path.iterdir()] == ["flashcards-results-"]
        results_iter.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing", ["folder", "file"])
def test_results_come_through_the_pipe_when_no_file_can_be_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failing: str
) -> None:
    """No folder for the results (or a full disk in a worker): the same results, sent."""
    spy_on_worker_pools(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "folder":
        monkeypatch.setattr(workers.tempfile, "mkdtemp", refuse)
    else:
        monkeypatch.setattr(workers.pickle, "dump", refuse)  # in the forked workers too
    results = list(workers.fork_iter(_square_and_pid, range(78, 578), minimum=2))
    assert [square for square, _ in results] == [n * n for n in range(78, 578)]
    assert os.getpid() not in {pid for _, pid in results}
    assert list(tmp_path.iterdir()) == []


_KILLED_PARENT = """
import os, sys, time
from flashcards import workers
workers.cores = lambda: 2
def wait(item):
    time.sleep(600)  # until killed
    return item
for _ in workers.fork_iter(wait, range(8), minimum=2):
    pass
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_workers_do_not_outlive_a_killed_build(tmp_path: Path) -> None:
    """A SIGKILL cannot be handled: the workers must notice on their own and end, or they live
    on forever, holding what they inherited (the lock on the deck's folder: every later build
    of the deck would wait for it)."""
    children = _kill_a_build_while_its_workers_run(tmp_path)
    assert not children, "workers outlived their build"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_a_killed_build_leaves_no_results_folder(tmp_path: Path) -> None:
    """The build's own clean-up never runs after a SIGKILL: its workers, which outlive it for
    a moment, take the results folder with them, or every killed build leaves one in /tmp."""
    assert not _kill_a_build_while_its_workers_run(tmp_path), "workers outlived their build"
    assert list(tmp_path.iterdir()) == []


def _kill_a_build_while_its_workers_run(tmp: Path) -> set[int]:
    """SIGKILL a build (temporary files in `tmp`) once its workers run; the workers still
    alive after HANG_TIMEOUT (killed then, not left behind by a failing test)."""
    environment = {**os.environ, "TMPDIR": str(tmp)}
    parent = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT], env=environment)
    try:
        children: set[int] = set()
        deadline = time.monotonic() + HANG_TIMEOUT
        while len(children) < 2 and time.monotonic() < deadline:
            children = _children(parent.pid)
            time.sleep(0.05)
        assert len(children) >= 2, "no workers started"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + HANG_TIMEOUT
    while children and time.monotonic() < deadline:
        children = {pid for pid in children if _alive(pid)}
        time.sleep(0.05)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    return children


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(p) for p in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended (its new parent reaps it)
