"""A guard against hangs that never measures speed: only a real hang exceeds its timeout.

The call runs in a daemon thread; if it has not returned after `timeout` seconds the test fails
(the thread is left behind and dies with the test process). Speed itself is measured by scripts
(benchmarks/run.py), never asserted, since a loaded CI machine may be many times slower.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

#: Generous: every guarded input finishes in well under a second on an idle machine.
HANG_TIMEOUT = 60.0


def finishes(call: Callable[[], T], timeout: float = HANG_TIMEOUT) -> T:
    """What `call()` returns (or raises), failing the test if it runs for `timeout` seconds."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"still running after {timeout:.0f} s: a hang")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
