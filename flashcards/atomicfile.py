"""All-or-nothing file writes: a build either replaces its outputs completely or leaves them as
they were, and never leaves a temporary file behind.

A file is only ever changed by `os.replace` of a complete, fsynced temporary file beside it, so a
reader (or Anki) never sees half a deck. The one thing no process can clean up after is its own
SIGKILL (or a power cut) while it writes: that leaves a temporary file, named
`.<file name>.tmp-<pid>-<random>` so that it is recognisable, ignored by everything (hidden, and
no digest or deck suffix), and removed by the next write of the same file once its process is
gone. A kill between the renames of one build's files (state first, then deck; two syscalls)
leaves the new state beside the old deck: the next build then writes the same deck again.

A polite signal (SIGINT, SIGTERM) cannot split a write: `replace_files` blocks both while it
writes, renames and (on failure) rolls back, so one arriving then is delivered once every file is
replaced or restored, and the process stops with all of the new files or none of them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from flashcards.errors import BuildError
from flashcards.inputfile import NotARegularFile, open_regular_file


def new_file_mode(path: Path) -> int:
    """The mode the file would get if written in place: its current one, else 0o666 less umask
    (mkstemp creates 0o600 files, which would hide a shared deck from other users)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


_TEMP_PID = re.compile(r"^(\d+)-")


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temporary files that writes of `path` left behind when their process was killed;
    returns them. Temporary files of a process still running are left alone."""
    removed: list[Path] = []
    prefix = _temp_prefix(path)
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for candidate in candidates:
        match = _TEMP_PID.match(candidate.name[len(prefix) :])
        if match is None or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or no way to tell: keep its file
    return True


def _write_temp(path: Path, data: bytes) -> Path:
    """`data` in a new temporary file beside `path` (same directory, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), new_file_mode(path))
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _read_or_none(path: Path) -> bytes | None:
    """The bytes of the regular file at `path`; None if there is none (a device, FIFO or
    directory there is never read: /dev/zero would never end; the rename then replaces a link
    to it, or fails on a directory)."""
    try:
        with open_regular_file(path) as file:
            return file.read()
    except (FileNotFoundError, NotARegularFile):
        return None


_POLITE_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def polite_signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (blocked, not lost) until the block ends; they are then
    delivered as usual: their handler runs, or the default action ends the process.

    Only the main thread receives Python's signals, and only it can defer them; elsewhere (and on
    systems without `pthread_sigmask`) this does nothing."""
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _POLITE_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def directories_locked(paths: Iterable[Path]) -> Iterator[None]:
    """Hold an exclusive lock on the directory of each path (the nearest one that exists) until
    the block ends, so that two builds of one deck run one after the other: the second reads the
    state the first wrote instead of both writing from the same old one (and the last rename of
    each file deciding which build's deck sits beside which build's state).

    `flock` on the directory itself leaves no lock file behind. Where it is not available (not
    POSIX, or a file system without locks) builds are not serialised."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    directories = sorted({_existing_directory(path) for path in paths})
    with contextlib.ExitStack() as stack:
        for directory in directories:  # sorted: two builds never wait for each other in a cycle
            try:
                fd = os.open(directory, os.O_RDONLY)
            except OSError:
                continue
            stack.callback(os.close, fd)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def _existing_directory(path: Path) -> str:
    directory = Path(os.path.abspath(path)).parent
    while not directory.is_dir() and directory != directory.parent:
        directory = directory.parent
    return str(directory)


def replace_files(files: Sequence[tuple[Path, bytes]]) -> list[Path]:
    """Write every (path, data) pair, all or none; returns the paths whose bytes changed.

    Files whose current content is already `data` are not touched (their mtime stays). All new
    contents are first written to temporary files; only then are they renamed into place, in the
    given order. If a rename fails, the files already replaced get their previous bytes back.
    SIGINT and SIGTERM wait until that is done (`polite_signals_deferred`).
    """
    with polite_signals_deferred():
        return _replace_files(files)


def _replace_files(files: Sequence[tuple[Path, bytes]]) -> list[Path]:
    pending: list[tuple[Path, Path, bytes | None]] = []
    current: Path | None = None
    try:
        for path, data in files:
            current = path
            remove_stale_temps(path)
            previous = _read_or_none(path)
            if previous == data:
                continue
            pending.append((path, _write_temp(path, data), previous))
        done: list[tuple[Path, bytes | None]] = []
        try:
            for path, temp, previous in pending:
                current = path
                os.replace(temp, path)
                done.append((path, previous))
        except BaseException:
            for path, previous in reversed(done):
                with contextlib.suppress(OSError):
                    if previous is None:
                        path.unlink()
                    else:
                        os.replace(_write_temp(path, previous), path)
            raise
    except OSError as exc:
        raise BuildError(
            f"cannot write: {exc.strerror or exc}; nothing was changed",
            current,
        ) from exc
    finally:
        for _path, temp, _previous in pending:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
    return [path for path, _temp, _previous in pending]
