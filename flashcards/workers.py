"""Per-item work on every core: forked worker processes that give exactly one process's results.

A fork starts at once with this process's modules and data (spawn would import everything again
and pickle every input), and it inherits the hash seed, so a worker computes what this process
would. Only the results travel back, in order.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import multiprocessing
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_WORKERS = 4

#: What forked workers compute, and the folder they leave their results in (None: they send
#: them): set just before the pool starts (they inherit it).
_JOB: tuple[Callable[[Any], Any], Sequence[Any], str | None] | None = None


def cores() -> int:
    """The cores this process may run on; 1 where fork is unavailable (no workers then)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return min(count, MAX_WORKERS)


@dataclass(frozen=True)
class _Spooled:
    """A piece's results left by its worker in a file, for this process to read."""

    path: str

    def load(self) -> list[Any]:
        with open(self.path, "rb") as handle:
            data = handle.read()
        os.remove(self.path)
        results: list[Any] = pickle.loads(data)  # our worker's, in a folder only we can write
        return results


def _run(start: int, stop: int) -> list[Any] | _Spooled:
    """In a worker: a piece's results, left in a file in the job's folder when there is one.

    Sent through the pool's pipe, a large result held its worker until this process had read
    all of it, a pipe-full (64 KiB) at a time, each read waiting for the interpreter lock its
    other thread held: on a large archive the workers spent more time so than pickling. A file
    is written at once, and read at once when its turn comes."""
    if _JOB is None:
        raise RuntimeError("no job in this worker")
    function, items, folder = _JOB
    results = [function(items[number]) for number in range(start, stop)]
    if folder is None:
        return results
    path = os.path.join(folder, str(start))
    try:
        with open(path, "wb") as handle:
            pickle.dump(results, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:  # a full disk, say: through the pipe after all
        with contextlib.suppress(OSError):
            os.remove(path)
        return results
    return _Spooled(path)


#: The size of each piece of work: `1 / (workers * SHARE)` of what is left (the first one
#: 1/16 of all of it on two cores: results held while the earlier pieces come stay few), down
#: to `1 / (workers * SMALLEST)` of all of it.
SHARE = 8
SMALLEST = 64


def _pieces(count: int, workers: int) -> list[tuple[int, int]]:
    """`range(count)` cut into pieces of decreasing size (guided self-scheduling): large ones
    first, few messages; small ones last, so that the workers finish together rather than one
    of them idling through the other's last large piece."""
    smallest = max(1, count // (workers * SMALLEST))
    pieces = []
    start = 0
    while start < count:
        size = max(smallest, (count - start) // (workers * SHARE))
        pieces.append((start, min(count, start + size)))
        start += size
    return pieces


def fork_iter(
    function: Callable[[Item], Result], items: Sequence[Item], *, minimum: int
) -> Generator[Result, None, None]:
    """`[function(item) for item in items]` one at a time, in order, as they come, computed in
    worker processes (one per core) when there are at least `minimum` items; `function` and
    `items` reach them by the fork, not pickled. Closing it early stops the workers. Consume or
    close it before another `fork_iter`."""
    global _JOB
    workers = cores() if len(items) >= minimum else 1
    if workers < 2:
        yield from map(function, items)
        return
    try:
        folder: str | None = tempfile.mkdtemp(prefix="flashcards-results-")
    except OSError:
        folder = None  # the results come through the pipe
    _JOB = (function, items, folder)
    # Every object made so far out of the garbage collector's sight while the pool runs: the
    # workers' collections then leave the pages they share with this process alone (touching
    # an object's header copies its page). This process does not collect at all meanwhile:
    # the results it unpickles and keeps are many objects, and not cyclic, yet each collection
    # of the oldest generation would traverse all those kept so far again (that took as much
    # time as unpickling them). The workers collect as usual (parsing HTML makes cycles).
    gc.freeze()
    collecting = gc.isenabled()
    gc.disable()
    try:
        context = multiprocessing.get_context("fork")
        pool = concurrent.futures.ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(), collecting),
        )
        try:
            pieces = [pool.submit(_run, *piece) for piece in _pieces(len(items), workers)]
            pieces.reverse()
            while pieces:
                # Each result let go of once handed over (as `Executor.map` does): a finished
                # piece's future would otherwise hold all of them until the end.
                got = pieces.pop().result()
                results = got.load() if isinstance(got, _Spooled) else got
                results.reverse()
                while results:
                    yield results.pop()
        finally:
            pool.shutdown(cancel_futures=True)
    finally:
        if folder is not None:  # with the results of pieces never read
            shutil.rmtree(folder, ignore_errors=True)
        if collecting:
            gc.enable()
        gc.unfreeze()
        _JOB = None


#: How often a worker looks whether the process that started it is still there (seconds).
PARENT_CHECK_INTERVAL = 0.2


def _start_worker(parent: int, collecting: bool) -> None:
    """In a new worker: end with the process that started it, and collect garbage as it did."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if collecting:
        gc.enable()


def _watch_parent(parent: int) -> None:
    """End this worker once `parent` is gone. A build killed by SIGKILL (or a power-cut-like
    crash) cannot stop its workers, and an idle worker never learns of it: it holds both ends of
    the pool's pipes, so its read never ends. It would live on forever, holding what it inherited
    (the lock on the deck's folder: every later build of that deck would wait for it). The
    results folder goes with it: the build's own clean-up never ran."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    if _JOB is not None and _JOB[2] is not None:
        shutil.rmtree(_JOB[2], ignore_errors=True)
    os._exit(1)
