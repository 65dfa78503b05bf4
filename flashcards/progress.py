"""A progress bar on stderr for work that takes more than a moment, for people only.

tqdm draws it; it appears only when stderr is a terminal and the work has lasted half a
second, so pipes, CI logs and `--json` output never see any of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from tqdm import tqdm

T = TypeVar("T")


class Bar(Protocol):
    """Wraps a list of work items and yields them back as they are done (the files to parse,
    the days to pull); fits `flashcards.parse.Progress` too."""

    def __call__(self, items: Sequence[T], /) -> Iterable[T]: ...


#: Seconds of work before the bar appears: a quick build shows none.
DELAY = 0.5


def progress_bar(label: str, *, unit: str = "file", quiet: bool = False) -> Bar | None:
    """A wrapper that shows a progress bar over the items it is given, or None when no bar is
    wanted (`quiet`) or stderr is not a terminal."""
    stream = sys.stderr
    if quiet or not stream.isatty():
        return None

    def wrap(items: Sequence[T]) -> Iterable[T]:
        bar: Iterable[T] = tqdm(items, desc=label, unit=unit, file=stream, delay=DELAY, leave=False)
        return bar

    return wrap
