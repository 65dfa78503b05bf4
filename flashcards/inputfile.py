"""Opening user files (digests, deck definitions, taxonomies, answer keys) for reading."""

from __future__ import annotations

import os
import stat
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
