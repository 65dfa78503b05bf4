"""Opening user files (digests, deck definitions, taxonomies, answer keys) for reading, and
naming them so that two paths to one file are seen to be one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO


class NotARegularFile(ValueError):
    """The path is a directory, FIFO, socket or device: what it is, in a sentence."""


def open_regular_file(path: str | Path) -> BinaryIO:
    """`path` opened for reading in binary mode, if it is a regular file (symlinks followed).

    Anything else raises NotARegularFile before it is opened: opening a FIFO blocks until a
    writer comes, and reading a device may never end. The file is opened non-blocking and checked
    again, so a FIFO swapped in between cannot block either. OSError if it cannot be opened.
    """
    _check_mode(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        _check_mode(os.fstat(fd).st_mode)
        return open(fd, "rb")  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


def _check_mode(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        what = "a directory"
    elif stat.S_ISFIFO(mode):
        what = "a FIFO (named pipe)"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    else:
        what = "a special file"
    raise NotARegularFile(f"{what}, not a regular file; refusing to read it")


def file_key(path: str | Path) -> str:
    """What names one file, for finding two roles that share it (`plan.check_paths`,
    `deckdef.check_beside`, the answer key's and the preview's outputs): realpath, as a
    symlink or "decks/../x" names the same file."""
    return os.path.normcase(os.path.realpath(path))


def file_keys(paths: Iterable[Path]) -> list[str]:
    """`file_key` of each of `paths`, the same strings, for an archive's thousands of files:
    `realpath` looks at every folder on a file's way (a `lstat` each), so each folder's is
    worked out once, and a file in it then costs one `lstat` (to see it is no link, which
    `realpath` follows; a missing file is no link to it either)."""
    folders: dict[Path, str] = {}
    keys = []
    for path in paths:
        name = path.name
        if name in ("", ".."):
            keys.append(file_key(path))
            continue
        folder = folders.get(path.parent)
        if folder is None:
            folder = folders[path.parent] = os.path.realpath(path.parent)
        joined = os.path.join(folder, name)
        try:
            link = stat.S_ISLNK(os.lstat(joined).st_mode)
        except OSError:
            link = False
        keys.append(file_key(path) if link else os.path.normcase(joined))
    return keys
