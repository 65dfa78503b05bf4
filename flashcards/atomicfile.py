"""All-or-nothing file writes: a build either replaces its outputs completely or leaves them as
they were, and never leaves a temporary file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from flashcards.errors import BuildError


def _new_file_mode(path: Path) -> int:
    """The mode the file would get if written in place: its current one, else 0o666 less umask
    (mkstemp creates 0o600 files, which would hide a shared deck from other users)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _write_temp(path: Path, data: bytes) -> Path:
    """`data` in a new temporary file beside `path` (same directory, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _new_file_mode(path))
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def replace_files(files: Sequence[tuple[Path, bytes]]) -> list[Path]:
    """Write every (path, data) pair, all or none; returns the paths whose bytes changed.

    Files whose current content is already `data` are not touched (their mtime stays). All new
    contents are first written to temporary files; only then are they renamed into place, in the
    given order. If a rename fails, the files already replaced get their previous bytes back.
    """
    pending: list[tuple[Path, Path, bytes | None]] = []
    current: Path | None = None
    try:
        for path, data in files:
            current = path
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
