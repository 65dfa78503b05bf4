"""`flashcards pull` against a real HTTP server on 127.0.0.1 started here, serving pages written
by the format writers (our own text), never the internet.

Each route plays one situation of a public site: a digest a day (404 at weekends), 500 then 200,
429 with Retry-After, a body cut short of its Content-Length, a response slower than the
timeout, a page that is not a digest, one of another day, a redirect, 304 on refresh. After each,
the folder holds exactly the right files, nothing partial or hidden, and pulling again fetches
nothing. Waits between retries are recorded instead of slept.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import click
import pytest
from click.testing import CliRunner
from digest_writers import write_markdown, write_quiz_html
from helpers import HANG_TIMEOUT, without_hanging

from flashcards import progress
from flashcards.cli import main
from flashcards.deckdef import find_pull_targets, load_deck_definition, load_pull_targets
from flashcards.errors import ConfigError
from flashcards.model import Paper, Question
from flashcards.parse import DEFAULT_MAX_BYTES, parse_file, parse_paths
from flashcards.pull import STATE_FILE, HttpSettings, PullReport, TargetReport, pull
from flashcards.sources import (
    MAX_DAYS_WITHOUT_SINCE,
    SOURCES,
    PullTarget,
    check_template,
    day_range,
    expand_template,
)

T = TypeVar("T")

MONDAY = date(2025, 6, 2)
SUNDAY = date(2025, 6, 8)
TODAY = SUNDAY
WEEKDAYS = [MONDAY + timedelta(days=n) for n in range(5)]


def paper_of(day: date, version: int = 1) -> Paper:
    return Paper(
        f"Sparse Experts for the Day {day.isoformat()}",
        arxiv_id=f"2506.{day.day:05d}",
        fields={
            "topic": "Mixture-of-experts language models.",
            "methods": f"A router picks two experts per token (revision {version}).",
            "summary": f"A router picks two experts per token (revision {version}).",
        },
        questions=(
            Question(1, "How many experts take each token?", ("One", "Two", "Four"), answer=1),
        ),
    )


def quiz_page(day: date, version: int = 1) -> bytes:
    paper = paper_of(day, version)
    return write_quiz_html(day, [(paper, f"https://arxiv.org/abs/{paper.arxiv_id}")]).encode()


def table_page(day: date) -> bytes:
    return write_markdown([(day, [paper_of(day)])]).encode()


_DAY_IN_PATH = re.compile(r"(\d{4})-(\d{2})-(\d{2})\.html$|(\d{4})/(\d{2})/(\d{2})\.md$")


class Site:
    """What the server serves, and what it was asked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.hits: Counter[str] = Counter()
        self.version = 1
        self.release = threading.Event()  # lets the slow route answer (at teardown)
        self.in_flight = 0
        self.most_in_flight = 0
        self.base = ""
        # The "gate-*" routes answer once both gate-a and gate-b have been asked (two pulls
        # at once); "stall" sends Monday whole and every other day half, then waits.
        self.gates: set[str] = set()
        self.gates_open = threading.Event()
        self.stalled = 0
        # The "holiday" route: a digest each weekday but these (404, as at weekends).
        self.holidays = {date(2025, 6, 4)}

    def paths(self) -> list[str]:
        return [path for path, _headers in self.requests]

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.requests.append((path, headers))
            self.hits[path] += 1
            hit = self.hits[path]
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._route(handler, path, headers, hit)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _route(
        self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str], hit: int
    ) -> None:
        route = path.split("/")[1]
        match = _DAY_IN_PATH.search(path)
        if match is None:
            return self._send(handler, 404, b"no such page")
        parts = match.group(1, 2, 3) if match.group(1) else match.group(4, 5, 6)
        day = date(*map(int, parts))
        page = quiz_page(day, self.version)
        etag = f'"{day.isoformat()}-v{self.version}"'
        if route == "week":
            if day.weekday() >= 5:
                return self._send(handler, 404, b"not found")
            if headers.get("if-none-match") == etag:
                return self._send(handler, 304, b"", {"ETag": etag})
            modified = format_datetime(datetime(2025, 6, 1, tzinfo=UTC), usegmt=True)
            return self._send(handler, 200, page, {"ETag": etag, "Last-Modified": modified})
        if route == "holiday":
            if day.weekday() >= 5 or day in self.holidays:
                return self._send(handler, 404, b"not found")
            return self._send(handler, 200, page)
        if route == "healing":  # Monday's page is broken at first, fixed later
            if day == MONDAY and hit == 1:
                return self._send(handler, 200, b"<html><body>Building...</body></html>")
            return self._send(handler, 200, page)
        if route == "md":
            return self._send(handler, 200, table_page(day))
        if route == "missing":
            return self._send(handler, 404, b"not found")
        if route == "flaky":
            return self._send(handler, 500 if hit == 1 else 200, page)
        if route == "busy":
            if hit == 1:
                return self._send(handler, 429, b"slow down", {"Retry-After": "7"})
            return self._send(handler, 200, page)
        if route == "busy-date":
            if hit == 1:
                later = datetime.now(UTC) + timedelta(seconds=30)
                retry = format_datetime(later, usegmt=True)
                return self._send(handler, 503, b"busy", {"Retry-After": retry})
            return self._send(handler, 200, page)
        if route == "busy-long":
            return self._send(handler, 429, b"slow down", {"Retry-After": "100000"})
        if route == "truncated":
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page[: len(page) // 2])
            handler.close_connection = True
            return None
        if route == "slow":
            self.release.wait(60)  # far past the client's timeout; set at teardown
            return self._send(handler, 200, page)
        if route == "huge":  # a real page, padded past the size limit
            padding = b"<!--" + b" " * DEFAULT_MAX_BYTES + b"-->"
            return self._send(handler, 200, page.replace(b"</body>", padding + b"</body>"))
        if route == "junk":
            return self._send(handler, 200, b"<html><body><p>Nothing here today.</p></body></html>")
        if route == "plain":
            return self._send(handler, 200, b"Rate limit exceeded, try again later.\n")
        if route == "wrongday":
            return self._send(handler, 200, quiz_page(day - timedelta(days=1)))
        if route == "wrongformat":
            return self._send(handler, 200, table_page(day))
        if route.startswith("gate-"):
            with self.lock:
                self.gates.add(route)
                if self.gates >= {"gate-a", "gate-b"}:
                    self.gates_open.set()
            self.gates_open.wait(HANG_TIMEOUT)  # a hang guard: the other pull's request comes
            if day != MONDAY:
                return self._send(handler, 200, b"<html><body>Building...</body></html>")
            body = page if path.endswith(".html") else table_page(day)
            return self._send(handler, 200, body, {"ETag": f'"{route}-{day.isoformat()}"'})
        if route == "stall":
            if day == MONDAY:
                return self._send(handler, 200, page, {"ETag": '"monday"'})
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page[: len(page) // 2])
            handler.wfile.flush()
            with self.lock:
                self.stalled += 1
            self.release.wait(60)  # far past any hang guard; set at teardown
            handler.close_connection = True
            return None
        if route == "redirect":
            return self._send(handler, 302, b"", {"Location": f"/week/{day.isoformat()}.html"})
        if route == "redirect-ftp":
            return self._send(handler, 302, b"", {"Location": "ftp://127.0.0.1/x.html"})
        return self._send(handler, 404, b"no such route")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if status != 304:
            handler.wfile.write(body)


class _QuietServer(ThreadingHTTPServer):
    """A test server whose handler threads never print: a client that gave up (the timeout
    routes) makes a late write fail, and socketserver would print that traceback into whatever
    stderr a later test is capturing."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.site.respond(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    site = Site()
    server.site = site  # type: ignore[attr-defined]
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; the test server is on this machine."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class Waits(list[float]):
    """Records the waits between attempts instead of sleeping them."""


def settings(waits: Waits, **overrides: float) -> HttpSettings:
    values: dict[str, float] = {"retries": 2, "backoff": 0.001, "read_timeout": 30.0}
    values.update(overrides)
    return HttpSettings(
        retries=int(values["retries"]),
        backoff=values["backoff"],
        read_timeout=values["read_timeout"],
        max_retry_after=values.get("max_retry_after", 120.0),
        sleep=waits.append,
    )


def target(site: Site, route: str, folder: Path, source: str = "daily-paper") -> PullTarget:
    template = f"{site.base}/{route}/" + (
        "{date}.html" if source == "daily-paper" else "{yyyy}/{mm}/{dd}.md"
    )
    return PullTarget(SOURCES[source], template, folder)


def pull_route(
    site: Site,
    route: str,
    folder: Path,
    first: date | None = MONDAY,
    last: date = MONDAY,
    *,
    waits: Waits | None = None,
    source: str = "daily-paper",
    today: date = TODAY,
    **overrides: float | bool,
) -> TargetReport:
    """One pull of `route` into `folder`; `first=None` pulls the default range (after the
    newest file, with the remembered failed days)."""
    refresh = bool(overrides.pop("refresh", False))
    report = pull(
        [target(site, route, folder, source)],
        since=first,
        until=last,
        refresh=refresh,
        today=today,
        settings=settings(waits if waits is not None else Waits(), **overrides),  # type: ignore[arg-type]
    )
    assert isinstance(report, PullReport) and len(report.targets) == 1
    return report.targets[0]


def statuses(report: TargetReport) -> dict[str, str]:
    return {r.day.isoformat(): r.status for r in report.days}


def files_in(folder: Path) -> list[str]:
    """Every entry in the folder; a partial or temporary file would show here."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- the happy path --------------------------------------------------------------------------


def test_pulls_each_day_once_and_a_second_pull_fetches_nothing(site: Site, tmp_path: Path) -> None:
    folder = tmp_path / "quiz"
    report = pull_route(site, "week", folder, MONDAY, SUNDAY)
    assert statuses(report) == {
        **{d.isoformat(): "fetched" for d in WEEKDAYS},
        "2025-06-07": "none",
        "2025-06-08": "none",
    }
    assert files_in(folder) == sorted([f"{d.isoformat()}.html" for d in WEEKDAYS] + [STATE_FILE])
    for day in WEEKDAYS:
        assert (folder / f"{day.isoformat()}.html").read_bytes() == quiz_page(day)
        (digest,) = parse_file(folder / f"{day.isoformat()}.html")
        assert digest.date == day
    assert len(site.requests) == 7
    assert all(h["user-agent"].startswith("flashcards/") for _p, h in site.requests)
    assert site.most_in_flight <= HttpSettings().workers

    again = pull_route(site, "week", folder, MONDAY, SUNDAY)
    assert again.count("fetched") == 0 and again.count("present") == 5
    # Days already there are not requested; only the two days without a digest are asked again.
    assert sorted(site.paths()[7:]) == [  # in any order: 4 requests run at once
        "/week/2025-06-07.html",
        "/week/2025-06-08.html",
    ]

    # Without --since the pull starts the day after the newest digest in the folder.
    default = pull([target(site, "week", folder)], today=TODAY, settings=settings(Waits()))
    (only,) = default.targets
    assert (only.first, only.last) == (date(2025, 6, 7), SUNDAY)
    assert only.count("fetched") == 0
    assert files_in(folder) == sorted([f"{d.isoformat()}.html" for d in WEEKDAYS] + [STATE_FILE])


def test_markdown_tables_are_saved_as_md(site: Site, tmp_path: Path) -> None:
    report = pull_route(site, "md", tmp_path, source="daily-ai-papers")
    assert statuses(report) == {"2025-06-02": "fetched"}
    assert site.paths() == ["/md/2025/06/02.md"]
    assert files_in(tmp_path) == ["2025-06-02.md"]
    assert (tmp_path / "2025-06-02.md").read_bytes() == table_page(MONDAY)


def test_days_after_today_are_not_requested(site: Site, tmp_path: Path) -> None:
    report = pull_route(site, "week", tmp_path, date(2025, 6, 6), date(2025, 6, 20))
    assert report.last == TODAY
    assert [r.day for r in report.days] == [date(2025, 6, d) for d in (6, 7, 8)]


def test_a_redirect_is_followed_and_checked_the_same_way(site: Site, tmp_path: Path) -> None:
    report = pull_route(site, "redirect", tmp_path)
    assert statuses(report) == {"2025-06-02": "fetched"}
    assert site.paths() == ["/redirect/2025-06-02.html", "/week/2025-06-02.html"]
    assert (tmp_path / "2025-06-02.html").read_bytes() == quiz_page(MONDAY)


# -- failures: nothing lands -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "status", "attempts", "message"),
    [
        ("missing", "none", 1, None),
        ("junk", "failed", 1, "not a digest"),
        ("plain", "failed", 1, "not a digest"),
        ("wrongday", "failed", 1, "dated 2025-06-01, not 2025-06-02"),
        ("wrongformat", "failed", 1, "not a quiz-html digest"),
        ("truncated", "failed", 3, "3 attempts"),
        ("busy-long", "failed", 3, "HTTP 429"),
        ("redirect-ftp", "failed", 1, "ftp"),
    ],
)
def test_a_day_that_is_not_a_digest_leaves_no_file(
    site: Site, tmp_path: Path, route: str, status: str, attempts: int, message: str | None
) -> None:
    for _ in range(2):  # and pulling again changes nothing
        report = pull_route(site, route, tmp_path, max_retry_after=5.0)
        (day,) = report.days
        assert (day.status, day.attempts) == (status, attempts)
        if message is None:
            assert day.error is None
            assert files_in(tmp_path) == []
        else:
            assert day.error is not None and message in day.error
            # Only the note to try the day again.
            assert files_in(tmp_path) == [STATE_FILE]
            state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
            assert state["failed"] == {"2025-06-02.html": TODAY.isoformat()}


def test_a_page_over_the_size_limit_is_refused(site: Site, tmp_path: Path) -> None:
    """Read no further than the limit `parse` would refuse the file at (and never kept)."""
    report = pull_route(site, "huge", tmp_path)
    (day,) = report.days
    assert (day.status, day.attempts) == ("failed", 1)
    assert day.error == f"larger than the {DEFAULT_MAX_BYTES} byte limit"
    assert files_in(tmp_path) == [STATE_FILE]


def test_5xx_is_retried(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    report = pull_route(site, "flaky", tmp_path, waits=waits)
    (day,) = report.days
    assert (day.status, day.attempts) == ("fetched", 2)
    assert len(waits) == 1 and 0 < waits[0] <= 0.001
    assert files_in(tmp_path) == ["2025-06-02.html"]


def test_backoff_doubles_with_jitter_between_half_and_all() -> None:
    from flashcards.pull import _backoff

    low = HttpSettings(backoff=2.0, max_backoff=60.0, jitter=lambda: 0.0)
    high = HttpSettings(backoff=2.0, max_backoff=60.0, jitter=lambda: 0.999999)
    assert [_backoff(n, low) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert [round(_backoff(n, high), 3) for n in range(3)] == [2.0, 4.0, 8.0]


def test_429_waits_as_long_as_retry_after_says(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    report = pull_route(site, "busy", tmp_path, waits=waits)
    assert statuses(report) == {"2025-06-02": "fetched"}
    assert waits == [7.0]


def test_retry_after_as_an_http_date(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    report = pull_route(site, "busy-date", tmp_path, waits=waits)
    assert statuses(report) == {"2025-06-02": "fetched"}
    (wait,) = waits
    assert 20 < wait <= 30


def test_a_long_retry_after_is_capped(site: Site, tmp_path: Path) -> None:
    waits = Waits()
    pull_route(site, "busy-long", tmp_path, waits=waits, max_retry_after=5.0)
    assert waits == [5.0, 5.0]


def test_a_response_slower_than_the_timeout_fails(site: Site, tmp_path: Path) -> None:
    report = pull_route(site, "slow", tmp_path, retries=0, read_timeout=0.5)
    (day,) = report.days
    assert day.status == "failed" and day.error is not None and "timed out" in day.error
    assert files_in(tmp_path) == [STATE_FILE]


# -- what is already there -------------------------------------------------------------------


def test_an_existing_file_is_never_overwritten_or_requested(site: Site, tmp_path: Path) -> None:
    mine = tmp_path / "2025-06-02.html"
    mine.write_bytes(b"my own edit")
    report = pull_route(site, "week", tmp_path)
    assert statuses(report) == {"2025-06-02": "present"}
    assert site.requests == []
    assert mine.read_bytes() == b"my own edit"


def test_refresh_asks_if_changed_and_replaces_only_changed_pages(
    site: Site, tmp_path: Path
) -> None:
    pull_route(site, "week", tmp_path)
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["files"]["2025-06-02.html"]["etag"] == '"2025-06-02-v1"'

    unchanged = pull_route(site, "week", tmp_path, refresh=True)
    assert statuses(unchanged) == {"2025-06-02": "unchanged"}
    _path, headers = site.requests[-1]
    assert headers["if-none-match"] == '"2025-06-02-v1"'
    assert "if-modified-since" in headers

    site.version = 2
    updated = pull_route(site, "week", tmp_path, refresh=True)
    assert statuses(updated) == {"2025-06-02": "updated"}
    assert (tmp_path / "2025-06-02.html").read_bytes() == quiz_page(MONDAY, version=2)

    # A damaged state file only costs a full download; it is then written anew.
    (tmp_path / STATE_FILE).write_text("{not json", encoding="utf-8")
    again = pull_route(site, "week", tmp_path, refresh=True)
    assert statuses(again) == {"2025-06-02": "unchanged"}
    assert "if-none-match" not in site.requests[-1][1]
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["files"]["2025-06-02.html"]["etag"] == '"2025-06-02-v2"'
    assert files_in(tmp_path) == sorted(["2025-06-02.html", STATE_FILE])


@pytest.mark.parametrize(
    "damage",
    [
        "[" * 100_000 + "]" * 100_000,  # nested past Python's recursion limit
        '{"files": [], "failed": {}}',
        '{"files": {"2025-06-02.html": 5, "x": {"url": 7}}, "failed": [[1], 2]}',
        "\ufeff\x00 not json",
    ],
    ids=["deep", "wrong-types", "wrong-entries", "bom-nul"],
)
def test_any_damaged_state_file_is_an_empty_one(site: Site, tmp_path: Path, damage: str) -> None:
    """The state only saves downloads and retries: whatever is in it, a pull goes on (no
    traceback) and writes it anew."""
    (tmp_path / STATE_FILE).write_text(damage, encoding="utf-8")
    report = pull_route(site, "week", tmp_path)
    assert statuses(report) == {"2025-06-02": "fetched"}
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["files"]["2025-06-02.html"]["etag"] == '"2025-06-02-v1"'


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_state_that_is_no_file_or_too_large_is_an_empty_one(tmp_path: Path, kind: str) -> None:
    """Read whole, a FIFO in the state's place blocks `check` (which reads it for the days a
    pull failed or found empty) and every pull until a writer comes; a huge file fills memory.
    In a process of its own, memory limited: a blocked open() cannot be abandoned."""
    (tmp_path / "2025-06-02.md").write_bytes(table_page(MONDAY))
    state = tmp_path / STATE_FILE
    if kind == "fifo":
        os.mkfifo(state)
    else:
        with state.open("wb") as handle:  # sparse: no disk used
            handle.truncate(4 << 30)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    result = subprocess.run(
        [sys.executable, "-m", "flashcards", "check", "-i", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        check=False,
        preexec_fn=limited,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_pull_replaces_a_huge_state_without_reading_it_whole(site: Site, tmp_path: Path) -> None:
    """A state file too large to be one a pull wrote is read as empty, and the pull that then
    records what it fetched must not read it whole either (to compare it with what it writes):
    that filled memory and ended in a traceback. In a process of its own, memory limited."""
    state = tmp_path / STATE_FILE
    with state.open("wb") as handle:  # sparse: no disk used
        handle.truncate(4 << 30)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    result = subprocess.run(
        [sys.executable, "-m", "flashcards", "pull", "--source", "daily-paper", "-d",
         str(tmp_path), "--url", f"{site.base}/week/{{date}}.html",
         "--since", "2025-06-02", "--until", "2025-06-02"],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        check=False,
        preexec_fn=limited,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    remembered = json.loads(state.read_text(encoding="utf-8"))
    assert remembered["files"]["2025-06-02.html"]["etag"] == '"2025-06-02-v1"'


def test_refresh_keeps_a_file_the_source_no_longer_has(site: Site, tmp_path: Path) -> None:
    kept = tmp_path / "2025-06-02.html"
    kept.write_bytes(quiz_page(MONDAY))
    report = pull_route(site, "missing", tmp_path, refresh=True)
    assert statuses(report) == {"2025-06-02": "present"}
    assert report.warnings and "no longer has it" in report.warnings[0]
    assert kept.read_bytes() == quiz_page(MONDAY)


def test_a_killed_pulls_temporary_file_is_never_read_and_is_removed(
    site: Site, tmp_path: Path
) -> None:
    # What a pull killed while writing leaves: a hidden temp file with its (dead) pid.
    stale = tmp_path / ".2025-06-02.html.tmp-999999999-abcd1234"
    stale.write_bytes(quiz_page(MONDAY)[:100])
    result = parse_paths([tmp_path])
    assert result.digests == () and result.warnings == ()
    pull_route(site, "week", tmp_path)
    assert files_in(tmp_path) == sorted(["2025-06-02.html", STATE_FILE])


# -- ranges, templates, definitions (no network) ---------------------------------------------


def plain_target(folder: Path, since: date | None = None) -> PullTarget:
    source = SOURCES["daily-paper"]
    return PullTarget(source, source.url, folder, since)


def test_the_default_range(tmp_path: Path) -> None:
    def span(t: PullTarget, **kwargs: object) -> tuple[date, date]:
        result = day_range(t, today=TODAY, **kwargs)  # type: ignore[arg-type]
        return result.first, result.last

    empty = plain_target(tmp_path)
    assert span(empty) == (TODAY, TODAY)
    assert span(plain_target(tmp_path, since=MONDAY)) == (MONDAY, TODAY)
    (tmp_path / "2025-06-04.html").write_text("x")
    (tmp_path / "2025-06-05.md").write_text("x")  # another source's file: not this one's newest
    (tmp_path / "notes-2025-06-07.html").write_text("x")
    assert span(empty) == (date(2025, 6, 5), TODAY)
    assert span(empty, refresh=True) == (date(2025, 6, 4), TODAY)
    assert span(plain_target(tmp_path, since=MONDAY)) == (date(2025, 6, 5), TODAY)
    assert span(plain_target(tmp_path, since=date(2025, 6, 6))) == (date(2025, 6, 6), TODAY)
    assert span(empty, since=MONDAY, until=date(2025, 6, 3)) == (MONDAY, date(2025, 6, 3))
    assert span(empty, until=date(2030, 1, 1)) == (date(2025, 6, 5), TODAY)


def test_a_range_of_years_needs_an_explicit_since(tmp_path: Path) -> None:
    typo = plain_target(tmp_path, since=date(2015, 6, 1))
    with pytest.raises(ConfigError, match="--since 2015-06-01"):
        day_range(typo, today=TODAY)
    explicit = day_range(typo, today=TODAY, since=date(2015, 6, 1))
    assert len(explicit.days()) > MAX_DAYS_WITHOUT_SINCE


def test_since_after_until_and_clashing_urls_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="after --until"):
        pull([plain_target(tmp_path)], since=SUNDAY, until=MONDAY, today=TODAY)
    other = PullTarget(SOURCES["daily-paper"], "https://mirror.example/{date}.html", tmp_path)
    with pytest.raises(ConfigError, match="two URLs"):
        pull([plain_target(tmp_path), other], since=MONDAY, until=MONDAY, today=TODAY)


@pytest.mark.parametrize("where", ["the folder", "a parent"])
def test_a_folder_that_is_a_file_is_an_error_before_any_request(
    site: Site, tmp_path: Path, where: str
) -> None:
    """Not "a day failed, try again later" (exit 1) for every day: no later pull can succeed."""
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    folder = tmp_path / "notes.txt" if where == "the folder" else tmp_path / "notes.txt" / "quiz"
    code, out, err = invoke(
        "--source", "daily-paper", "--url", f"{site.base}/week/{{date}}.html", "-d", str(folder),
        "--since", "2025-06-02", "--until", "2025-06-03",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert (
        err == f"error: {tmp_path / 'notes.txt'}: not a folder, so {folder} cannot hold digests\n"
    )
    assert site.requests == []
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_templates() -> None:
    for good in (
        "https://example.org/{date}.html",
        "http://127.0.0.1:8000/a/{yyyy}/{mm}/{dd}.md",
        *(source.url for source in SOURCES.values()),
    ):
        assert check_template(good) == good
    assert expand_template("https://x/{yyyy}/{mm}/{dd}/{date}", date(2025, 3, 4)) == (
        "https://x/2025/03/04/2025-03-04"
    )
    for bad, message in (
        ("ftp://example.org/{date}.html", "not an http"),
        ("javascript:alert(1)//{date}", "not an http"),
        ("https://example.org/{day}.html", "unknown placeholder {day}"),
        ("https://example.org/{date:%Y}.html", "unknown placeholder"),
        ("https://example.org/{date.year}.html", "unknown placeholder"),
        ("https://example.org/latest.html", "does not name the day"),
        ("https://example.org/{yyyy}/{mm}.md", "does not name the day"),
        ("https://example.org/{date.html", "URL template"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_template(bad)


def write_definition(folder: Path, text: str, name: str = "d.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples").mkdir(exist_ok=True)
    (folder / "samples" / "2025-06-02.html").write_bytes(quiz_page(MONDAY))
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_pull_key_of_a_deck_definition(tmp_path: Path) -> None:
    path = write_definition(
        tmp_path / "decks",
        "name: D\nsources: [samples]\npull:\n"
        "  - {source: daily-paper, into: ../digests/quiz, since: 2025-03-01}\n"
        "  - source: daily-ai-papers\n"
        "    into: ../digests/tables\n"
        "    url: 'https://mirror.example/{yyyy}/{mm}/{dd}.md'\n",
    )
    quiz, tables = load_deck_definition(path).pull
    assert (quiz.source.name, quiz.folder, quiz.since) == (
        "daily-paper",
        tmp_path / "digests" / "quiz",
        date(2025, 3, 1),
    )
    assert quiz.template == SOURCES["daily-paper"].url
    assert (tables.folder, tables.template) == (
        tmp_path / "digests" / "tables",
        "https://mirror.example/{yyyy}/{mm}/{dd}.md",
    )
    # Pulling does not need the deck's sources to exist yet (the first pull brings them).
    bare = write_definition(
        tmp_path / "decks",
        "name: D\nsources: [quiz/*.html]\npull: [{source: daily-paper, into: quiz}]\n",
        "e.yaml",
    )
    (target_,) = load_pull_targets(bare)
    assert target_.folder == tmp_path / "decks" / "quiz"


@pytest.mark.parametrize(
    ("pull_text", "line", "message"),
    [
        ("pull: daily-paper\n", 3, "pull: expected a list"),
        ("pull: [daily-paper]\n", 3, "expected a mapping with source and into"),
        ("pull:\n  - {source: daily-papers, into: q}\n", 4, "unknown source 'daily-papers'"),
        ("pull:\n  - {into: q}\n", 4, "pull: source: missing"),
        ("pull:\n  - {source: daily-paper}\n", 4, "pull: into: missing"),
        (
            "pull:\n  - source: daily-paper\n    into: q\n    since: June\n",
            6,
            "since: expected a date",
        ),
        (
            "pull:\n  - source: daily-paper\n    into: q\n    sinse: 2025-01-01\n",
            6,
            "sinse: unknown key",
        ),
        (
            "pull:\n  - source: daily-paper\n    into: q\n    url: 'ftp://x/{date}'\n",
            6,
            "not an http",
        ),
        ("pull:\n  - source: daily-paper\n    into: q\n    url: 'https://x/{day}'\n", 6, "{day}"),
        ("pull:\n  - source: daily-paper\n    into: samples/2025-06-02.html\n", 5, "not a folder"),
    ],
)
def test_pull_key_errors_name_the_line(
    tmp_path: Path, pull_text: str, line: int, message: str
) -> None:
    path = write_definition(tmp_path, "name: D\nsources: [samples]\n" + pull_text)
    for load in (load_deck_definition, load_pull_targets):
        with pytest.raises(ConfigError) as caught:
            load(path)
        assert (caught.value.path, caught.value.line) == (str(path), line)
        assert message in caught.value.message


def test_no_pull_key_anywhere_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_definition(tmp_path / "decks", "name: D\nsources: [samples]\n")
    with pytest.raises(ConfigError, match="--source NAME -d DIR"):
        find_pull_targets()
    with pytest.raises(ConfigError, match="no pull: key"):
        find_pull_targets(["decks/d.yaml"])


# -- the command -----------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["pull", *args])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_ad_hoc_summary_and_json(site: Site, tmp_path: Path) -> None:
    folder = tmp_path / "quiz"
    common = ["--source", "daily-paper", "--url", f"{site.base}/week/{{date}}.html"]
    common += ["-d", str(folder), "--since", "2025-06-02", "--until", "2025-06-08"]
    code, out, err = invoke(*common)
    assert (code, err) == (0, "")
    assert out == (
        f"daily-paper → {folder} (2025-06-02 to 2025-06-08): fetched 5, already present 0, "
        "none that day 2, failed 0\n"
    )
    code, out, err = invoke(*common, "--json")
    assert (code, err) == (0, "")
    (entry,) = json.loads(out)["sources"]
    assert entry["source"] == "daily-paper" and entry["folder"] == str(folder)
    assert entry["url"] == f"{site.base}/week/{{date}}.html"
    assert entry["counts"]["present"] == 5 and entry["counts"]["none"] == 2
    assert [d["status"] for d in entry["days"]] == ["present"] * 5 + ["none"] * 2


def test_cli_exit_1_when_a_day_failed(site: Site, tmp_path: Path) -> None:
    code, out, err = invoke(
        "--source", "daily-paper", "--url", f"{site.base}/junk/{{date}}.html", "-d", str(tmp_path),
        "--since", "2025-06-02", "--until", "2025-06-02", "--json",
    )  # fmt: skip
    assert code == 1
    assert json.loads(out)["failed"] == 1
    assert "error:" in err and "not a digest" in err and "2025-06-02.html" in err
    assert files_in(tmp_path) == [STATE_FILE]


def test_cli_refresh_summary_counts_unchanged_apart_from_already_present(
    site: Site, tmp_path: Path
) -> None:
    """A --refresh that found every page as it was says "unchanged", not "already present"
    (which means "not asked"); --json tells them apart as it did."""
    common = ["--source", "daily-paper", "--url", f"{site.base}/week/{{date}}.html"]
    common += ["-d", str(tmp_path), "--since", "2025-06-02", "--until", "2025-06-08"]
    assert invoke(*common)[0] == 0
    code, out, err = invoke(*common, "--refresh")
    assert (code, err) == (0, "")
    assert out == (
        f"daily-paper → {tmp_path} (2025-06-02 to 2025-06-08): fetched 0, updated 0, "
        "unchanged 5, already present 0, none that day 2, failed 0\n"
    )
    site.version = 2
    code, out, err = invoke(*common, "--refresh", "--until", "2025-06-03", "--json")
    assert (code, err) == (0, "")
    (entry,) = json.loads(out)["sources"]
    assert entry["counts"] == {
        "fetched": 0, "updated": 2, "unchanged": 0, "present": 0, "none": 0, "failed": 0
    }  # fmt: skip
    code, out, err = invoke(*common, "--refresh", "--until", "2025-06-03")
    assert (code, err) == (0, "")
    assert "fetched 0, updated 0, unchanged 2, already present 0," in out


@pytest.mark.parametrize(
    ("since", "until", "why"),
    [
        ("2062-06-02", None, "--since 2062-06-02 is after today ("),
        ("2062-06-02", "2062-06-05", "--since 2062-06-02 is after today ("),
        ("2025-06-05", "2025-06-03", "--since 2025-06-05 is after --until 2025-06-03"),
    ],
    ids=["future", "future-range", "after-until"],
)
def test_cli_since_in_the_future_or_after_until_is_a_usage_error(
    site: Site, tmp_path: Path, since: str, until: str | None, why: str
) -> None:
    """A mistyped year must not "pull" nothing and exit 0: one line saying why, exit 2, no
    request, nothing written."""
    folder = tmp_path / "quiz"
    args = ["--source", "daily-paper", "--url", f"{site.base}/week/{{date}}.html"]
    args += ["-d", str(folder), "--since", since, *(["--until", until] if until else [])]
    code, out, err = invoke(*args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("error: ") and why in err, err
    assert site.requests == [] and not folder.exists()


def test_a_definitions_since_in_the_future_is_a_config_error_at_its_line(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`since: 2062-…` for 2026 pulls nothing, ever: an error naming the definition's line, as
    for any other bad key; an explicit --since (which replaces it) still pulls."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "d.yaml").write_text(
        "name: D\nsources: [../digests]\npull:\n"
        "  - source: daily-paper\n    into: ../digests\n    since: 2062-06-02\n"
        f"    url: '{site.base}/week/{{date}}.html'\n",
        encoding="utf-8",
    )
    code, out, err = invoke()
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {Path('decks', 'd.yaml')}:6: pull: since: 2062-06-02 is after")
    assert err.count("\n") == 1 and site.requests == []
    assert not (tmp_path / "digests").exists()
    code, out, err = invoke("--since", "2025-06-02", "--until", "2025-06-02")
    assert (code, err) == (0, "") and "fetched 1" in out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_interrupted_exits_128_plus_the_signal_leaving_whole_files(
    site: Site, tmp_path: Path, signum: int
) -> None:
    """Ctrl-C or SIGTERM while days wait for the server's first byte: the requests in flight
    are dropped (their files land whole or not at all), no other starts, one line and 130 or
    143, not the 1 that says a day failed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "flashcards", "pull", "--source", "daily-paper", "-d",
         str(tmp_path), "--url", f"{site.base}/slow/{{date}}.html",
         "--since", "2025-06-02", "--until", "2025-06-08"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + HANG_TIMEOUT  # a hang guard, not a timing
    while site.in_flight < 1:
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"no request arrived: {child.communicate()[1].decode()}")
        time.sleep(0.02)
    child.send_signal(signum)
    site.release.set()  # the requests in flight may now answer
    _out, err = child.communicate(timeout=HANG_TIMEOUT)
    assert child.returncode == 128 + signum, err.decode()
    assert err.decode() == (
        f"error: interrupted by {signal.Signals(signum).name}: the days fetched so far are in "
        "place, no file is half-written; pull again to fetch the rest\n"
    )
    requested = {path for path, _headers in site.requests}
    assert len(requested) < 7  # the days not yet asked were not asked after the signal
    for name in files_in(tmp_path):  # whatever landed is a whole digest of its day
        assert re.fullmatch(r"2025-06-0\d\.html", name), name
        assert parse_file(tmp_path / name)[0].date.isoformat() == name[:10]


def test_cli_quiet_prints_errors_only(site: Site, tmp_path: Path) -> None:
    common = ["--source", "daily-paper", "-d", str(tmp_path), "--since", "2025-06-02"]
    common += ["--until", "2025-06-03", "--quiet"]
    code, out, err = invoke(*common, "--url", f"{site.base}/week/{{date}}.html")
    assert (code, out, err) == (0, "", "")
    assert files_in(tmp_path) == sorted(["2025-06-02.html", "2025-06-03.html", STATE_FILE])
    code, out, err = invoke(*common, "--url", f"{site.base}/junk/{{date}}.html", "--refresh")
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and "not a digest" in err and "warning" not in err


def test_the_requests_go_through_the_progress_wrapper(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def wrap(items: Sequence[T]) -> Iterator[T]:
        seen.append(len(items))
        yield from items

    report = pull(
        [target(site, "week", tmp_path)],
        since=MONDAY,
        until=SUNDAY,
        today=TODAY,
        settings=settings(Waits()),
        progress=wrap,
    )
    assert seen == [7]  # one bar over the seven requests
    assert report.targets[0].count("fetched") == 5
    seen.clear()
    pull([target(site, "week", tmp_path)], since=MONDAY, until=MONDAY, today=TODAY, progress=wrap)
    assert seen == []  # nothing requested, no bar

    # The command asks for a bar (which shows only on a terminal), unless --quiet.
    asked: list[bool] = []

    def bar(label: str, *, unit: str = "file", quiet: bool = False) -> object:
        asked.append(quiet)
        return None if quiet else wrap

    monkeypatch.setattr(progress, "progress_bar", bar)
    common = ["--source", "daily-paper", "--url", f"{site.base}/week/{{date}}.html"]
    common += ["-d", str(tmp_path / "cli"), "--since", "2025-06-02", "--until", "2025-06-03"]
    assert invoke(*common)[0] == 0
    assert invoke(*common, "--refresh", "-q")[0] == 0
    assert asked == [False, True] and seen == [2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nope", "-d", "x"], "unknown source 'nope'"),
        (["-d", "x"], "needs --source"),
        (["--source", "daily-paper", "-d", "x", "--url", "https://x/{day}"], "{day}"),
        (["--source", "daily-paper", "-d", "x", "--since", "2025-06-08", "--until", "2025-06-01"],
         "after --until"),
        (["decks/d.yaml", "--source", "daily-paper", "-d", "x"], "not both"),
        (["--source", "daily-paper", "-d", "x", "--since", "2025-6-1x"], "2025-6-1x"),
    ],
)  # fmt: skip
def test_cli_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(*args)
    assert code == 2 and out == ""
    assert message in err
    assert not (tmp_path / "x").exists()


def test_daily_recipe_pull_then_build(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flashcards pull && flashcards build` from the deck definitions, in a fresh checkout."""
    monkeypatch.chdir(tmp_path)
    decks = tmp_path / "decks"
    decks.mkdir()
    (decks / "papers.yaml").write_text(
        "name: Papers\nsources: [../digests/quiz/*.html]\n"
        "pull:\n  - source: daily-paper\n    into: ../digests/quiz\n    since: 2025-06-02\n"
        f"    url: '{site.base}/week/{{date}}.html'\n",
        encoding="utf-8",
    )
    code, out, err = invoke("--until", "2025-06-04")
    assert (code, err) == (0, "")
    assert "fetched 3" in out
    runner = CliRunner()
    built = runner.invoke(main, ["build"])
    assert built.exit_code == 0, built.output
    # 3 days of one paper: a question and its Methods card (a new deck makes no Topic card).
    assert "Papers → dist/papers.apkg (written): 6 notes, 6 cards" in built.stdout
    # The next morning: only the new day is requested.
    before = len(site.requests)
    code, out, err = invoke("--until", "2025-06-05")
    assert (code, err) == (0, "")
    assert site.paths()[before:] == ["/week/2025-06-05.html"]
    assert "(2025-06-05 to 2025-06-05): fetched 1" in out


def test_real_pages_and_tables_are_accepted(corpus: Path, tmp_path: Path) -> None:
    """The real digests, served as the sites lay them out, all pass the checks and land byte for
    byte; a refresh costs a 304 each (the server honours If-Modified-Since)."""
    import functools
    from http.server import SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(corpus)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    first, last = date(2025, 3, 17), date(2025, 4, 6)
    quiz, tables = tmp_path / "quiz", tmp_path / "tables"
    targets = [
        PullTarget(SOURCES["daily-paper"], base + "/daily_paper/html/{date}.html", quiz),
        PullTarget(
            SOURCES["daily-ai-papers"],
            base + "/daily-ai-papers/archive/{yyyy}/{mm}/{dd}.md",
            tables,
        ),
    ]
    try:
        report = pull(targets, since=first, until=last, today=TODAY, settings=settings(Waits()))
        refreshed = pull(
            targets, since=first, until=last, refresh=True, today=TODAY, settings=settings(Waits())
        )
    finally:
        server.shutdown()
        server.server_close()
    expected = {
        quiz: sorted(
            p.name
            for p in (corpus / "daily_paper" / "html").glob("2025-0[34]-*.html")
            if first.isoformat() <= p.stem <= last.isoformat()
        ),
        tables: sorted(
            f"2025-{p.parent.name}-{p.name}"
            for p in (corpus / "daily-ai-papers" / "archive" / "2025").glob("0[34]/*.md")
            if first.isoformat() <= f"2025-{p.parent.name}-{p.stem}" <= last.isoformat()
        ),
    }
    for result, again in zip(report.targets, refreshed.targets, strict=True):
        names = expected[result.target.folder]
        assert len(names) >= 5
        assert result.count("failed") == 0, [r.error for r in result.days if r.error]
        assert result.count("fetched") == len(names)
        assert again.count("unchanged") == len(names) and again.count("failed") == 0
        assert files_in(result.target.folder) == sorted([*names, STATE_FILE])
    for name in expected[quiz]:
        assert (quiz / name).read_bytes() == (corpus / "daily_paper" / "html" / name).read_bytes()
    for name in expected[tables]:
        original = corpus / "daily-ai-papers" / "archive" / "2025" / name[5:7] / name[8:]
        assert (tables / name).read_bytes() == original.read_bytes()


def test_cli_source_filter_and_url_override_for_definitions(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "both.yaml").write_text(
        "name: Both\nsources: [../digests]\npull:\n"
        "  - {source: daily-paper, into: ../digests, since: 2025-06-02}\n"
        "  - {source: daily-ai-papers, into: ../digests, since: 2025-06-02}\n",
        encoding="utf-8",
    )
    mirror = f"{site.base}/md/{{yyyy}}/{{mm}}/{{dd}}.md"
    args = ["--source", "daily-ai-papers", "--url", mirror, "--until", "2025-06-03"]
    code, out, err = invoke(*args)
    assert (code, err) == (0, "")
    assert out == (
        "daily-ai-papers → digests (2025-06-02 to 2025-06-03): fetched 2, "
        "already present 0, none that day 0, failed 0\n"
    )
    assert sorted(site.paths()) == ["/md/2025/06/02.md", "/md/2025/06/03.md"]
    code, out, err = invoke(*args)
    assert (code, err) == (0, "")
    assert out == "daily-ai-papers → digests: nothing to pull (up to date until 2025-06-03)\n"
    assert len(site.requests) == 2
    code, _out, err = invoke("--url", mirror)
    assert code == 2 and "--url needs --source" in err


def test_a_failed_day_is_tried_again_by_the_next_pulls(site: Site, tmp_path: Path) -> None:
    """Monday fails, Tuesday lands: the next morning's pull starts after Tuesday, yet asks for
    Monday again, until it lands or a month has passed."""
    first = pull_route(site, "healing", tmp_path, MONDAY, date(2025, 6, 3))
    assert statuses(first) == {"2025-06-02": "failed", "2025-06-03": "fetched"}

    def next_morning(today: date) -> TargetReport:
        report = pull([target(site, "healing", tmp_path)], today=today, settings=settings(Waits()))
        return report.targets[0]

    later = next_morning(date(2025, 6, 4))
    assert statuses(later) == {"2025-06-02": "fetched", "2025-06-04": "fetched"}
    assert (later.first, later.last) == (MONDAY, date(2025, 6, 4))
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["failed"] == {}
    assert next_morning(date(2025, 6, 4)).days == ()


def test_check_warns_about_a_pulled_day_that_failed(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monday failed and is not in the folder (before its first digest, so no gap shows it):
    `flashcards check` says so, for the deck definition and for the folder, until a pull
    brings it in."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "d.yaml").write_text(
        "name: D\nsources: [../digests]\npull:\n"
        "  - {source: daily-paper, into: ../digests, "
        f"url: '{site.base}/healing/{{date}}.html'}}\n",
        encoding="utf-8",
    )
    code, _out, _err = invoke("--since", "2025-06-02", "--until", "2025-06-04")
    assert code == 1

    def missing(*args: str) -> list[tuple[object, object]]:
        result = CliRunner().invoke(main, ["check", *args, "--json"])
        assert result.exit_code == 0, result.output
        warnings = json.loads(result.stdout)["warnings"]
        return [
            (Path(w["path"]).resolve(), w["line"]) for w in warnings if w["code"] == "missing-day"
        ]

    monday = ((tmp_path / "digests" / "2025-06-02.html").resolve(), None)
    assert missing("decks/d.yaml") == [monday]
    assert missing("-i", "digests") == [monday]
    code, _out, _err = invoke("--since", "2025-06-02", "--until", "2025-06-02")
    assert code == 0
    assert missing("decks/d.yaml") == missing("-i", "digests") == []


def _check_json(*args: str) -> tuple[int, list[dict[str, object]]]:
    """`flashcards check ARGS --json`: its exit code and its missing-day warnings."""
    result = CliRunner().invoke(main, ["check", *args, "--json"])
    assert result.exit_code in (0, 1), result.output
    warnings = json.loads(result.stdout)["warnings"]
    return result.exit_code, [w for w in warnings if w["code"] == "missing-day"]


def test_a_weekday_the_source_had_no_digest_for_is_no_missing_day(
    site: Site, tmp_path: Path
) -> None:
    """A holiday: the source answered 404 on Wednesday. The pull remembers that the day is
    confirmed empty, so `check --strict` passes instead of warning about that gap on every run
    for good; a gap no pull was asked about still warns."""
    quiz = tmp_path / "quiz"
    adhoc = ["--source", "daily-paper", "--url", f"{site.base}/holiday/{{date}}.html"]
    adhoc += ["-d", str(quiz)]
    code, out, err = invoke(*adhoc, "--since", "2025-06-02", "--until", "2025-06-08")
    assert (code, err) == (0, ""), out
    assert "none that day 3" in out  # Wednesday and the weekend
    # Only the weekday is kept: `check` never reports a weekend, and each has two.
    state = json.loads((quiz / STATE_FILE).read_text(encoding="utf-8"))
    assert state["none"] == ["2025-06-04.html"]
    assert _check_json("-i", str(quiz), "--strict") == (0, [])

    # Tuesday's file goes (a person deleted it): no pull said Tuesday was empty.
    (quiz / "2025-06-03.html").unlink()
    code, missing = _check_json("-i", str(quiz), "--strict")
    assert code == 1
    assert [(w["path"], w["message"]) for w in missing] == [
        (str(quiz), "no digest for Tue 2025-06-03 (a gap in this folder's daily digests)")
    ]

    # Wednesday's digest is published late and pulled: the day is no longer remembered empty.
    site.holidays.clear()
    code, _out, err = invoke(*adhoc, "--since", "2025-06-03", "--until", "2025-06-04")
    assert (code, err) == (0, "")
    state = json.loads((quiz / STATE_FILE).read_text(encoding="utf-8"))
    assert state["none"] == []
    assert _check_json("-i", str(quiz), "--strict") == (0, [])


def test_a_deck_definitions_check_skips_the_days_its_pull_found_empty(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through deck definitions: `flashcards pull && flashcards check --strict`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "d.yaml").write_text(
        "name: D\nsources: [../digests]\npull:\n"
        "  - {source: daily-paper, into: ../digests, "
        f"url: '{site.base}/holiday/{{date}}.html'}}\n",
        encoding="utf-8",
    )
    assert invoke("--since", "2025-06-02", "--until", "2025-06-06")[0] == 0
    assert _check_json("--strict") == (0, [])


def test_only_days_found_empty_after_the_folders_first_digest_are_kept(
    site: Site, tmp_path: Path
) -> None:
    """`check` looks only between a folder's first and last digest: a 404 before the first
    one (the source had not started, or a wrong URL) is not kept, so weeks of them cost
    nothing; one after the last digest is (the next digest puts it inside the range)."""
    site.holidays = {MONDAY, date(2025, 6, 4), date(2025, 6, 6)}
    pull_route(site, "holiday", tmp_path, MONDAY, date(2025, 6, 6))
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["none"] == ["2025-06-04.html", "2025-06-06.html"]

    empty = tmp_path / "empty"  # a source that answers 404 every day: no digest, nothing kept
    pull_route(site, "missing", empty, MONDAY, SUNDAY)
    assert not empty.exists()
    empty.mkdir()
    pull_route(site, "missing", empty, MONDAY, SUNDAY)
    assert files_in(empty) == []


def test_days_found_empty_merge_with_the_state_on_disk(site: Site, tmp_path: Path) -> None:
    """Recorded like failed days: merged into the state file as it is when written, so a pull
    of another source into the folder keeps them, and the validators stay beside them."""
    pull_route(site, "holiday", tmp_path, MONDAY, date(2025, 6, 6))
    pull_route(site, "md", tmp_path, MONDAY, MONDAY, source="daily-ai-papers")
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["none"] == ["2025-06-04.html"]
    assert state["failed"] == {}


@pytest.mark.parametrize(
    "remembered",
    [
        {"files": {}, "failed": {}},  # written before days found empty were kept
        {"files": {}, "failed": {}, "none": "2025-06-04.html"},
        {"files": {}, "failed": {}, "none": [4, None, ["x"], "not-a-day.html"]},
    ],
    ids=["old", "not-a-list", "wrong-entries"],
)
def test_a_state_without_usable_empty_days_is_read_as_none_known(
    site: Site, tmp_path: Path, remembered: dict[str, object]
) -> None:
    """An older or damaged state: no error, the gap is a missing day again, and the next pull
    that asks about the day writes the state anew."""
    for day in (MONDAY, date(2025, 6, 6)):
        (tmp_path / f"{day.isoformat()}.html").write_bytes(quiz_page(day))
    (tmp_path / STATE_FILE).write_text(json.dumps(remembered), encoding="utf-8")
    code, missing = _check_json("-i", str(tmp_path), "--strict")
    assert code == 1 and len(missing) == 1
    assert "no digests for 3 weekdays" in str(missing[0]["message"])

    pull_route(site, "holiday", tmp_path, date(2025, 6, 3), date(2025, 6, 5))
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["none"] == ["2025-06-04.html"]
    assert _check_json("-i", str(tmp_path), "--strict") == (0, [])


def test_a_day_failing_for_a_month_is_given_up_with_a_warning(site: Site, tmp_path: Path) -> None:
    pull_route(site, "junk", tmp_path, MONDAY, MONDAY)
    (tmp_path / "2025-06-03.html").write_bytes(quiz_page(date(2025, 6, 3)))
    report = pull(
        [target(site, "junk", tmp_path)],
        until=date(2025, 6, 3),
        today=TODAY + timedelta(days=31),  # a month after it first failed
        settings=settings(Waits()),
    )
    (only,) = report.targets
    assert only.days == ()
    assert "failed on every pull for 30 days (since 2025-06-08)" in only.warnings[0]
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["failed"] == {}


def test_an_old_day_of_a_backfill_that_failed_once_is_tried_again(
    site: Site, tmp_path: Path
) -> None:
    """The month of retries counts from a day's first failure, not from its date: a backlog
    pulled two months late gets the same second chance as yesterday's digest."""
    late = MONDAY + timedelta(days=60)
    first = pull_route(site, "healing", tmp_path, MONDAY, date(2025, 6, 3), today=late)
    assert statuses(first) == {"2025-06-02": "failed", "2025-06-03": "fetched"}
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["failed"] == {"2025-06-02.html": late.isoformat()}

    again = pull_route(
        site, "healing", tmp_path, None, date(2025, 6, 3), today=late + timedelta(days=1)
    )
    assert statuses(again) == {"2025-06-02": "fetched"}
    assert again.warnings == ()


def test_failed_days_remembered_as_a_list_are_still_tried_again(site: Site, tmp_path: Path) -> None:
    """A state file of an earlier version lists failed days by name only: they are tried
    again, their month counting from the first pull that reads them."""
    (tmp_path / "2025-06-03.html").write_bytes(quiz_page(date(2025, 6, 3)))
    (tmp_path / STATE_FILE).write_text(
        json.dumps({"files": {}, "failed": ["2025-06-02.html"]}), encoding="utf-8"
    )
    report = pull_route(
        site, "week", tmp_path, None, date(2025, 6, 3), today=MONDAY + timedelta(days=90)
    )
    assert statuses(report) == {"2025-06-02": "fetched"}
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["failed"] == {}


def test_build_json_reports_the_pulled_day_that_failed_as_check_does(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script reading `build --json` sees the same missing pulled day as `check --json`, for
    the deck definition and for an ad-hoc build of the folder; gone once a pull brings it in."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "d.yaml").write_text(
        "name: D\nsources: [../digests]\npull:\n"
        "  - {source: daily-paper, into: ../digests, "
        f"url: '{site.base}/healing/{{date}}.html'}}\n",
        encoding="utf-8",
    )
    assert invoke("--since", "2025-06-02", "--until", "2025-06-04")[0] == 1

    def missing(command: str, *args: str) -> list[dict[str, object]]:
        result = CliRunner().invoke(main, [command, *args, "--json"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        warnings = document["warnings"] if command == "check" else document["decks"][0]["warnings"]
        return [w for w in warnings if w["code"] == "missing-day"]

    monday = str(Path("digests", "2025-06-02.html").resolve())
    checked = missing("check", "decks/d.yaml")
    assert [Path(str(w["path"])).resolve() for w in checked] == [Path(monday)]
    for built in (
        missing("build", "decks/d.yaml"),
        missing("build", "-i", "digests", "-o", "adhoc.apkg"),
    ):
        where = [(Path(str(w["path"])).resolve(), w["line"]) for w in built]
        assert where == [(Path(monday), None)]
        assert [w["message"] for w in built] == [w["message"] for w in checked]
    assert invoke("--since", "2025-06-02", "--until", "2025-06-02")[0] == 0
    assert missing("build", "decks/d.yaml") == []


# -- two pulls at once, and interrupted pulls ------------------------------------------------


def _pull_process(site: Site, route: str, folder: Path, source: str) -> subprocess.Popen[bytes]:
    suffix = "{date}.html" if source == "daily-paper" else "{yyyy}/{mm}/{dd}.md"
    return subprocess.Popen(
        [sys.executable, "-m", "flashcards", "pull", "--source", source, "-d", str(folder),
         "--url", f"{site.base}/{route}/{suffix}", "--since", "2025-06-02", "--until",
         "2025-06-03"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def test_two_pulls_into_one_folder_at_once_lose_nothing_of_each_other(
    site: Site, tmp_path: Path
) -> None:
    """Two decks' pulls share a folder (quiz pages and tables) and run at the same time: each
    read the folder's state before the other wrote it (the server answers neither until both
    asked). Both pulls' validators and failed days are remembered, not only the last's."""
    pulls = [
        _pull_process(site, "gate-a", tmp_path, "daily-paper"),
        _pull_process(site, "gate-b", tmp_path, "daily-ai-papers"),
    ]
    for child in pulls:
        _out, err = child.communicate(timeout=HANG_TIMEOUT)
        assert child.returncode == 1, err.decode()  # Tuesday failed, for both
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert {name: entry["etag"] for name, entry in state["files"].items()} == {
        "2025-06-02.html": '"gate-a-2025-06-02"',
        "2025-06-02.md": '"gate-b-2025-06-02"',
    }
    assert sorted(state["failed"]) == ["2025-06-03.html", "2025-06-03.md"]
    assert files_in(tmp_path) == sorted(["2025-06-02.html", "2025-06-02.md", STATE_FILE])


#: For a pull that must end about a second after a signal: only a real hang takes longer (the
#: requests in flight would wait for the 30 s read timeout).
SIGNAL_GUARD = 20.0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_cancels_the_requests_in_flight_keeping_what_landed(
    site: Site, tmp_path: Path, signum: int
) -> None:
    """Monday has landed; the other days stall halfway through their bodies. Ctrl-C (or
    SIGTERM) ends the pull at once, not after the read timeout: 130 or 143 and one line,
    Monday kept and remembered, nothing half-written, no stalled day recorded as failed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "flashcards", "pull", "--source", "daily-paper", "-d",
         str(tmp_path), "--url", f"{site.base}/stall/{{date}}.html",
         "--since", "2025-06-02", "--until", "2025-06-06"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + HANG_TIMEOUT  # a hang guard, not a timing
    while site.stalled < 3 or not (tmp_path / "2025-06-02.html").exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the pull did not get going: {child.communicate()[1].decode()}")
        time.sleep(0.02)
    child.send_signal(signum)
    try:
        _out, err = child.communicate(timeout=SIGNAL_GUARD)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail("the pull waited for the stalled requests instead of ending")
    assert child.returncode == 128 + signum, err.decode()
    assert err.decode().count("\n") == 1
    assert err.decode().startswith(f"error: interrupted by {signal.Signals(signum).name}: ")
    assert files_in(tmp_path) == sorted(["2025-06-02.html", STATE_FILE])
    assert parse_file(tmp_path / "2025-06-02.html")[0].date == MONDAY
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["failed"] == {}  # an interrupted day did not fail: the next pull asks it
    assert state["files"] == {
        "2025-06-02.html": {"url": f"{site.base}/stall/2025-06-02.html", "etag": '"monday"'}
    }


class _Stopped(Exception):
    pass


def test_an_interrupted_pull_cuts_the_bodies_being_read(site: Site, tmp_path: Path) -> None:
    """The library's side of Ctrl-C: an exception while days are pulled (here from the
    progress wrapper, where KeyboardInterrupt arrives too) ends `pull` at once, its workers
    included (the stalled bodies' sockets are shut down), not after the read timeout."""

    def interrupting(items: Sequence[T]) -> Iterator[T]:
        yield items[0]  # Monday, which lands
        deadline = time.monotonic() + HANG_TIMEOUT  # a hang guard, not a timing
        while site.stalled < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        raise _Stopped

    def interrupted_pull() -> None:
        with pytest.raises(_Stopped):
            pull(
                [target(site, "stall", tmp_path)],
                since=MONDAY,
                until=date(2025, 6, 6),
                today=TODAY,
                settings=settings(Waits()),  # a 30 s read timeout
                progress=interrupting,
            )

    without_hanging(interrupted_pull, timeout=SIGNAL_GUARD)
    deadline = time.monotonic() + SIGNAL_GUARD
    while any(t.name.startswith("flashcards-pull-") for t in threading.enumerate()):
        if time.monotonic() > deadline:
            pytest.fail("the pull's workers still wait for the stalled bodies")
        time.sleep(0.02)
    assert files_in(tmp_path) == sorted(["2025-06-02.html", STATE_FILE])
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert (sorted(state["files"]), state["failed"]) == (["2025-06-02.html"], {})


@pytest.mark.slow
def test_a_pull_killed_holding_the_folders_lock_blocks_no_one(site: Site, tmp_path: Path) -> None:
    """The state file's lock is the folder's own `flock`: no lock file is left behind, and the
    kernel drops the lock with a SIGKILLed holder, so the next pull goes ahead."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path\n"
         "from flashcards.atomicfile import directories_locked\n"
         f"with directories_locked([Path(sys.argv[1]) / {STATE_FILE!r}]):\n"
         "    print('locked', flush=True); time.sleep(600)\n",
         str(tmp_path)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    holder.kill()
    holder.wait(timeout=HANG_TIMEOUT)
    report = without_hanging(lambda: pull_route(site, "week", tmp_path, MONDAY, MONDAY))
    assert statuses(report) == {"2025-06-02": "fetched"}
    assert files_in(tmp_path) == sorted(["2025-06-02.html", STATE_FILE])


def test_the_help_says_which_days_refresh_asks_and_that_failed_days_come_back() -> None:
    """What a new user needs from `pull --help`: --refresh does not re-ask every file (only
    from the newest day on, or from --since), and a failed day needs no action of theirs."""
    command = main.get_command(click.Context(main), "pull")
    assert command is not None and command.help is not None
    refresh = next(p for p in command.params if p.name == "refresh")
    assert isinstance(refresh, click.Option) and refresh.help is not None
    assert "newest" in refresh.help and "--since" in refresh.help
    assert "next pulls" in " ".join(command.help.split())
