"""Where a build's time goes, for benchmarks: `with recording() as phases: build(...)` fills
`phases` with the seconds spent in each named step. Nobody records in normal use, and then a
`phase` costs one context-variable lookup; it never changes what a step does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class _Open:
    """A phase still running: when it started, and the seconds of the phases nested in it."""

    start: float
    nested: float = 0.0


@dataclass
class _Recorder:
    seconds: dict[str, float] = field(default_factory=dict)
    stack: list[_Open] = field(default_factory=list)


_clock = time.perf_counter

_RECORDER: ContextVar[_Recorder | None] = ContextVar("flashcards_timing", default=None)


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record the phases run inside the block; the dict fills in as they finish."""
    recorder = _Recorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder.seconds
    finally:
        _RECORDER.reset(token)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the block's time to `name`. A phase nested in another counts only to itself (its
    time is taken off the outer one), so the phases of a build add up to its total."""
    recorder = _RECORDER.get()
    if recorder is None:
        yield
        return
    frame = _Open(_clock())
    recorder.stack.append(frame)
    try:
        yield
    finally:
        recorder.stack.pop()
        elapsed = _clock() - frame.start
        recorder.seconds[name] = recorder.seconds.get(name, 0.0) + elapsed - frame.nested
        if recorder.stack:
            recorder.stack[-1].nested += elapsed
