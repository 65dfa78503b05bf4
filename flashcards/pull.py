"""Step 0: bring each day's digests in from their public sources (`flashcards pull`).

The only module that uses the network. For every day of a target's range (`flashcards.sources`)
it requests the day's URL, checks that the body is complete and parses as a digest of the
source's format *and of that day*, and only then renames it into the folder as
`YYYY-MM-DD<suffix>` (`flashcards.atomicfile`: a killed pull leaves at most a hidden temporary
file that no build reads). A 404 means no digest that day. A file already in the folder is
never requested again, nor overwritten, unless `refresh` is set; refreshing sends the ETag and
Last-Modified remembered in the folder's `.flashcards-pull.json`, so an unchanged page costs a
304; the same file lists the days that failed, which the next pulls ask again, and the
weekdays the source confirmed empty (a holiday), which `flashcards check` does not report as
missing. Being polite to the sites: an identifying User-Agent, a few requests at a time,
timeouts, and retries with exponential backoff and jitter (honouring `Retry-After`) on
timeouts, connection errors, 429 and 5xx.

Two pulls may share a folder (a scheduled job and a person; two decks pulling into one folder):
each records only what it changed, and merges that into the folder's state file as it is on
disk, under an exclusive lock held for that read-merge-write alone (`_update_state`). An
interrupted pull (KeyboardInterrupt, or the CLI's SIGTERM) stops at once: the requests in flight
are abandoned (their bodies are only in memory; a file being renamed into place lands first),
and what landed is remembered.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flashcards import __version__
from flashcards.atomicfile import directories_locked, replace_files
from flashcards.errors import ConfigError, FlashcardsError, ParseError
from flashcards.inputfile import open_regular_file
from flashcards.parse import DEFAULT_MAX_BYTES, parse_bytes
from flashcards.sources import PullTarget, day_range

if TYPE_CHECKING:
    import httpx

    from flashcards.progress import Bar

USER_AGENT = f"flashcards/{__version__} (+https://pypi.org/project/flashcards)"

#: Per folder, the validators of each pulled file, so that `--refresh` asks "changed since?",
#: the days that failed, so that the next pull tries them again, and the weekdays the source
#: had no digest for, so that `flashcards check` does not take them for gaps.
STATE_FILE = ".flashcards-pull.json"
#: Larger than any state pulls write (a year of days found empty is about 6 KB): not read.
MAX_STATE_BYTES = 16 << 20

#: A day that failed is tried again by the pulls of the next this many days, then given up.
RETRY_FAILED_DAYS = 30

#: fetched: a new file; updated: --refresh replaced a file whose source changed; unchanged:
#: --refresh found the source as the file is; present: a file already there, not requested;
#: none: the source has no digest that day (404/410); failed: see `error`, after retries.
DayStatus = Literal["fetched", "updated", "unchanged", "present", "none", "failed"]
STATUSES: tuple[DayStatus, ...] = ("fetched", "updated", "unchanged", "present", "none", "failed")


@dataclass(frozen=True)
class HttpSettings:
    """How politely and patiently to fetch. Tests shrink the waits; the defaults suit a daily
    job against a public site."""

    workers: int = 4  # requests in flight at once
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # seconds without a byte from the server
    retries: int = 3  # further attempts after a timeout, connection error, 429 or 5xx
    backoff: float = 2.0  # seconds before the first retry; doubled for each next one
    max_backoff: float = 60.0
    max_retry_after: float = 120.0  # a longer Retry-After is cut to this
    max_bytes: int = DEFAULT_MAX_BYTES  # a larger body is refused, as `parse` would refuse it
    user_agent: str = USER_AGENT
    #: How to wait between attempts; None: a wait that an interrupted pull cuts short.
    sleep: Callable[[float], None] | None = None
    jitter: Callable[[], float] = random.random  # in [0, 1)


@dataclass(frozen=True)
class DayResult:
    day: date
    status: DayStatus
    file: Path
    url: str | None = None  # None when the day was not requested
    error: str | None = None
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "status": self.status,
            "file": str(self.file),
            "url": self.url,
            "error": self.error,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class TargetReport:
    target: PullTarget
    first: date
    last: date  # inclusive; before `first` when the range was empty
    days: tuple[DayResult, ...]
    warnings: tuple[str, ...] = ()

    def count(self, *statuses: DayStatus) -> int:
        return sum(1 for result in self.days if result.status in statuses)

    @property
    def failed_days(self) -> tuple[date, ...]:
        return tuple(result.day for result in self.days if result.status == "failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.target.source.name,
            "url": self.target.template,
            "folder": str(self.target.folder),
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "counts": {status: self.count(status) for status in STATUSES},
            "days": [result.to_dict() for result in self.days],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class PullReport:
    targets: tuple[TargetReport, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> int:
        return sum(report.count("failed") for report in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {"sources": [r.to_dict() for r in self.targets], "failed": self.failed}


def pull(
    targets: Sequence[PullTarget],
    *,
    since: date | None = None,
    until: date | None = None,
    refresh: bool = False,
    today: date | None = None,
    settings: HttpSettings | None = None,
    progress: Bar | None = None,
) -> PullReport:
    """Pull every day of each target's range (see `flashcards.sources.day_range`).

    `progress` wraps the list of days to request (a progress bar, for instance), yielding each
    as its request ends; it is not called when nothing is requested.

    Configuration problems (two targets writing the same files from different URLs, `since`
    after `until`, an unconfirmed range of years) raise `ConfigError` before any request. A day
    that cannot be fetched is reported as failed, never raised, and never leaves a file.
    """
    settings = settings or HttpSettings()
    today = today or datetime.now(UTC).date()
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    _check_since(targets, since, today)
    targets = _distinct(targets)
    for target in targets:
        _check_folder(target.folder)
    ranges = [day_range(t, today=today, since=since, until=until, refresh=refresh) for t in targets]

    # One state per folder, however its path is spelled, shared by the sources pulled into it:
    # read here (validators, days to retry); what this pull changes goes to `changes`.
    folders = {_folder_key(t.folder): t.folder for t in targets}
    states = {key: _load_state(folder, today) for key, folder in folders.items()}
    changes = {key: _Changes() for key in folders}
    gave_up: dict[int, list[tuple[str, date]]] = {}
    schedule: list[list[date]] = []
    for index, (target, span) in enumerate(zip(targets, ranges, strict=True)):
        days = span.days()
        if since is None:
            # The default range starts after the newest file: days that failed before it would
            # never be asked again. They are, for RETRY_FAILED_DAYS.
            retry, gave_up[index], forgotten = _failed_before(target, states, span.first, today)
            changes[_folder_key(target.folder)].forgotten.update(forgotten)
            days = sorted(set(days) | set(retry))
        schedule.append(days)

    results: dict[tuple[int, date], DayResult] = {}
    jobs: list[tuple[PullTarget, date, tuple[int, date]]] = []
    for index, (target, days) in enumerate(zip(targets, schedule, strict=True)):
        for day in days:
            path = target.folder / target.filename(day)
            if not refresh and path.exists():
                results[index, day] = DayResult(day, "present", path)
                changes[_folder_key(target.folder)].settled.add(path.name)
            else:
                jobs.append((target, day, (index, day)))
    finished: dict[tuple[int, date], _Done] = {}

    def record_finished() -> None:
        for (index, day), outcome in finished.items():
            key = _folder_key(targets[index].folder)
            changes[key].record(outcome, states[key], today)
            results[index, day] = outcome.result

    try:
        _run(jobs, states, refresh, settings, finished, progress)
    except BaseException:
        # Interrupted: remember what landed (validators, days no longer failed), nothing of
        # the days cut short; old failures are forgotten by a pull that can say so.
        record_finished()
        for key, change in changes.items():
            change.forgotten.clear()
            _update_state(folders[key], change, today)
        raise
    record_finished()

    reports = []
    for index, (target, span) in enumerate(zip(targets, ranges, strict=True)):
        done = tuple(results[index, day] for day in schedule[index])
        warnings = [
            f"{r.file}: the source no longer has it ({r.url}); the file is kept"
            for r in done
            if r.status == "present" and r.url is not None
        ]
        warnings += [
            f"{target.folder / name}: failed on every pull for {RETRY_FAILED_DAYS} days (since "
            f"{since.isoformat()}); not tried again (pull it with --since {name[:10]} --until "
            f"{name[:10]})"
            for name, since in gave_up.get(index, [])
        ]
        first = min(done[0].day, span.first) if done else span.first
        reports.append(TargetReport(target, first, span.last, done, tuple(warnings)))
    for index, report in enumerate(reports):
        change = changes.pop(_folder_key(report.target.folder), _Changes())  # each folder once
        warning = _update_state(report.target.folder, change, today) if change else None
        if warning:
            # Losing the validators costs a full download at the next refresh, nothing else.
            reports[index] = TargetReport(
                report.target, report.first, report.last, report.days, (*report.warnings, warning)
            )
    return PullReport(tuple(reports))


def _run(
    jobs: Sequence[tuple[PullTarget, date, tuple[int, date]]],
    states: dict[str, _FolderState],
    refresh: bool,
    settings: HttpSettings,
    finished: dict[tuple[int, date], _Done],
    progress: Bar | None = None,
) -> None:
    """Pull each job's day, `settings.workers` at a time over one HTTP client, into `finished`
    as each ends.

    The workers are daemon threads: an interruption (any exception here, KeyboardInterrupt
    first) stops them starting anything, cuts the bodies being read (their sockets shut down),
    waits only for a file being renamed into place, and returns at once without joining them;
    one still waiting for a connection or the first byte ends with its timeout, writing
    nothing, or with the process.
    """
    if not jobs:
        return
    import httpx

    stop = _Stop()
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=None)
    client = httpx.Client(
        headers={"User-Agent": settings.user_agent},
        timeout=timeout,
        follow_redirects=True,
        limits=httpx.Limits(max_connections=settings.workers),
    )
    futures: dict[tuple[int, date], Future[_Done | None]] = {job: Future() for *_, job in jobs}
    queue = deque(jobs)

    def work() -> None:
        while not stop.is_set():
            try:
                target, day, job = queue.popleft()
            except IndexError:
                return
            future = futures[job]
            try:
                done = _pull_day(client, target, day, states, refresh, settings, stop)
                # Failing as the pull stops is being cut short: not a failure to remember.
                cut = done.result.status == "failed" and stop.is_set()
                future.set_result(None if cut else done)
            except BaseException as exc:
                future.set_exception(exc)

    for number in range(min(settings.workers, len(jobs))):
        threading.Thread(target=work, name=f"flashcards-pull-{number}", daemon=True).start()
    pending = list(futures.items())
    try:
        shown = progress(pending) if progress is not None else pending
        for job, future in shown:
            done = future.result()
            assert done is not None  # only a stopped pull's days end without an outcome
            finished[job] = done
    except BaseException:
        stop.cancel()
        for job, future in futures.items():
            # A day that ended before the stop ended as it says; one that saw the stop has
            # no outcome. (`cancel` waited for the file being renamed into place.)
            if job not in finished and future.done() and future.exception() is None:
                outcome = future.result()
                if outcome is not None:
                    finished[job] = outcome
        raise
    client.close()  # an interrupted pull's client is the abandoned workers' to the end


class _Stop:
    """A pull's stop signal, shared by its workers: once set, a worker starts no request, lands
    no file, and its body being read is cut (the socket shut down, which wakes the read)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()  # held while a file is renamed into place, and for _reading
        self._reading: set[Any] = set()  # the network streams of the bodies being read

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)

    def cancel(self) -> None:
        self._event.set()
        with self._lock:  # a file being renamed into place lands whole first
            streams = list(self._reading)
        for stream in streams:
            sock = stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    @contextlib.contextmanager
    def reading(self, stream: Any) -> Any:
        """While the body on `stream` is read, `cancel` may cut it (a transport that shows no
        stream is left to its timeout)."""
        if stream is None:
            yield
            return
        with self._lock:
            self._reading.add(stream)
        try:
            yield
        finally:
            with self._lock:
                self._reading.discard(stream)

    @contextlib.contextmanager
    def landing(self) -> Any:
        """Yields whether the pull still runs; `cancel` waits until the block ends, so that
        a file being renamed into place lands before the pull reports being stopped."""
        with self._lock:
            yield not self._event.is_set()


def _failed_before(
    target: PullTarget, states: dict[str, _FolderState], first: date, today: date
) -> tuple[list[date], list[tuple[str, date]], list[str]]:
    """The target's remembered failed days before `first` to try again; those that have
    failed for too long (with the day of their first failure); and the names to forget: those,
    and names that are no day. The window counts from a day's first failure, not from its
    date: a backfill's old day that failed once is tried again like yesterday's."""
    failed = states[_folder_key(target.folder)].failed
    retry: list[date] = []
    too_old: list[tuple[str, date]] = []
    forget: list[str] = []
    for name, since in sorted(failed.items()):
        if not name.endswith(target.source.suffix):
            continue
        try:
            day = date.fromisoformat(name[: -len(target.source.suffix)])
        except ValueError:
            forget.append(name)
            continue
        if (target.folder / name).exists() or day >= first:
            continue
        if (today - since).days > RETRY_FAILED_DAYS:
            forget.append(name)
            too_old.append((name, since))
        else:
            retry.append(day)
    return retry, too_old, forget


def _check_since(targets: Sequence[PullTarget], since: date | None, today: date) -> None:
    """Refuse a first day after today: the range would be empty on every run, so a mistyped
    year would pull nothing and say "up to date". A definition's `since:` is its own error (at
    its line), only when it is used: `since` (the command line's) replaces it."""
    if since is not None:
        if since > today:
            raise ConfigError(
                f"--since {since.isoformat()} is after today ({today.isoformat()}, UTC): "
                "there is nothing to pull yet"
            )
        return
    for target in targets:
        if target.since is not None and target.since > today:
            path, line = target.since_at or (None, None)
            raise ConfigError(
                f"pull: since: {target.since.isoformat()} is after today ({today.isoformat()}, "
                "UTC): this entry would never pull anything",
                path,
                line,
            )


def _check_folder(folder: Path) -> None:
    """Refuse a folder that is a file, or lies below one: every day would fail to be written,
    on every pull, which is a configuration error rather than a failed day."""
    for place in (folder, *folder.parents):
        if place.is_dir():
            return
        if place.exists() or place.is_symlink():
            raise ConfigError(f"not a folder, so {folder} cannot hold digests", place)


def _folder_key(folder: Path) -> str:
    return os.path.normcase(os.path.abspath(folder))


def _distinct(targets: Iterable[PullTarget]) -> list[PullTarget]:
    """Each (folder, suffix) once: two decks may pull the same source into one folder, but two
    URLs must not write the same files."""
    seen: dict[tuple[str, str], PullTarget] = {}
    for target in targets:
        key = (_folder_key(target.folder), target.source.suffix)
        other = seen.get(key)
        if other is None:
            seen[key] = target
        elif other.template != target.template:
            raise ConfigError(
                f"{target.folder}: pulled from two URLs into the same files "
                f"({other.template} and {target.template})"
            )
        elif target.since is not None and (other.since is None or target.since < other.since):
            seen[key] = target  # the earliest `since` of the decks sharing the folder
    return list(seen.values())


# -- one day ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """What the server said, after retries."""

    kind: Literal["ok", "not-modified", "none", "failed"]
    attempts: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Done:
    """A requested day's result, and the validators to remember for its file: None to keep
    those remembered (nothing landed), {} to forget them (it landed without any)."""

    result: DayResult
    validators: dict[str, str] | None = None


def _pull_day(
    client: httpx.Client,
    target: PullTarget,
    day: date,
    states: dict[str, _FolderState],
    refresh: bool,
    settings: HttpSettings,
    stop: _Stop,
) -> _Done:
    name = target.filename(day)
    path = target.folder / name
    url = target.url(day)
    existed = path.exists()
    headers = {}
    state = states[_folder_key(target.folder)].files
    remembered = state.get(name)
    if refresh and existed and remembered and remembered.get("url") == url:
        if remembered.get("etag"):
            headers["If-None-Match"] = remembered["etag"]
        if remembered.get("last_modified"):
            headers["If-Modified-Since"] = remembered["last_modified"]

    outcome = _fetch(client, url, headers, settings, stop)
    attempts = outcome.attempts
    if outcome.kind == "none":
        return _Done(DayResult(day, "present" if existed else "none", path, url, None, attempts))
    if outcome.kind == "not-modified":
        return _Done(DayResult(day, "unchanged", path, url, None, attempts))
    if outcome.kind == "failed":
        return _Done(DayResult(day, "failed", path, url, outcome.error, attempts))
    problem = _check_digest(outcome.body, url, target, day)
    if problem is not None:
        return _Done(DayResult(day, "failed", path, url, problem, attempts))
    with stop.landing() as running:
        if not running:
            return _Done(DayResult(day, "failed", path, url, "interrupted", attempts))
        if not refresh and path.exists():
            # Another pull wrote it meanwhile: keep that one.
            return _Done(DayResult(day, "present", path, url, None, attempts))
        try:
            changed = replace_files([(path, outcome.body)])
        except FlashcardsError as exc:
            return _Done(DayResult(day, "failed", path, url, exc.message, attempts))
    validators = {"url": url} if outcome.etag or outcome.last_modified else {}
    if outcome.etag:
        validators["etag"] = outcome.etag
    if outcome.last_modified:
        validators["last_modified"] = outcome.last_modified
    status: DayStatus = "fetched" if not existed else "updated" if changed else "unchanged"
    return _Done(DayResult(day, status, path, url, None, attempts), validators)


def _check_digest(body: bytes, url: str, target: PullTarget, day: date) -> str | None:
    """Why `body` is not the digest of `day` in the target's format, or None if it is."""
    try:
        digests = parse_bytes(body, url)
    except ParseError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        return f"not a digest: {exc.message}{where}"
    expected = target.source.format
    formats = sorted({d.format for d in digests})
    if formats != [expected]:
        return f"not a {expected} digest (got {', '.join(formats) or 'none'})"
    dates = sorted({d.date for d in digests})
    if dates != [day]:
        shown = ", ".join(d.isoformat() for d in dates)
        return f"the digest is dated {shown}, not {day.isoformat()}"
    return None


def _fetch(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    settings: HttpSettings,
    stop: _Stop,
) -> _Outcome:
    import httpx

    error = ""
    wait = 0.0
    for attempt in range(settings.retries + 1):
        if attempt:
            if settings.sleep is None:
                stop.wait(wait)
            else:
                settings.sleep(wait)
        if stop.is_set():
            return _Outcome("failed", attempt, error="interrupted")
        wait = _backoff(attempt, settings)
        try:
            with client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status in (404, 410):
                    return _Outcome("none", attempt + 1)
                if status == 304 and headers:
                    return _Outcome("not-modified", attempt + 1)
                if status == 429 or status >= 500:
                    error = f"HTTP {status}"
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                    if retry_after is not None:
                        wait = max(wait, min(retry_after, settings.max_retry_after))
                    continue
                if status != 200:
                    return _Outcome("failed", attempt + 1, error=f"HTTP {status}")
                with stop.reading(response.extensions.get("network_stream")):
                    if stop.is_set():  # stopped as the headers came: do not wait for the body
                        return _Outcome("failed", attempt + 1, error="interrupted")
                    body = _read_body(response, settings.max_bytes)
                if body is None:
                    return _Outcome(
                        "failed",
                        attempt + 1,
                        error=f"larger than the {settings.max_bytes} byte limit",
                    )
                return _Outcome(
                    "ok",
                    attempt + 1,
                    body,
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
        except (httpx.UnsupportedProtocol, httpx.TooManyRedirects, httpx.InvalidURL) as exc:
            return _Outcome("failed", attempt + 1, error=str(exc))
        except httpx.TimeoutException:
            error = "timed out"
        except httpx.TransportError as exc:
            # Includes a body cut short of its Content-Length (RemoteProtocolError).
            error = f"connection failed: {exc or type(exc).__name__}"
        except _IncompleteBody as exc:
            error = str(exc)
    attempts = settings.retries + 1
    return _Outcome("failed", attempts, error=f"{error} ({attempts} attempts)")


class _IncompleteBody(Exception):
    pass


def _read_body(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The whole body, or None when it exceeds `max_bytes`; a body shorter than its
    Content-Length raises (httpx already does; this holds whatever the transport)."""
    chunks = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    expected = response.headers.get("Content-Length")
    if expected and expected.isdigit() and response.num_bytes_downloaded != int(expected):
        raise _IncompleteBody(
            f"incomplete body ({response.num_bytes_downloaded} of {expected} bytes)"
        )
    return b"".join(chunks)


def _backoff(attempt: int, settings: HttpSettings) -> float:
    """Exponential backoff with "equal jitter": between half and all of the doubled delay, so
    that clients retrying together spread out."""
    delay = min(settings.max_backoff, settings.backoff * 2.0**attempt)
    return delay / 2 + settings.jitter() * delay / 2


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# -- the folder's validators -----------------------------------------------------------------


@dataclass
class _FolderState:
    """What pulls remember in a folder's STATE_FILE."""

    files: dict[str, dict[str, str]] = field(default_factory=dict)  # name → url, etag, ...
    # The days to try again, by file name, with the day (UTC) each first failed.
    failed: dict[str, date] = field(default_factory=dict)
    # The weekdays after the folder's first digest that the source had no digest for (404/410)
    # and no file has come for, by name.
    none: set[str] = field(default_factory=set)

    def document(self) -> dict[str, Any]:
        return {
            "about": "flashcards pull: validators of each file (for --refresh), days to retry "
            "(each with the day it first failed), weekdays the source had no digest for",
            "files": {name: self.files[name] for name in sorted(self.files)},
            "failed": {name: self.failed[name].isoformat() for name in sorted(self.failed)},
            "none": sorted(self.none),
        }


def failed_files(folder: Path) -> list[Path]:
    """The files of the days whose pull into `folder` failed and that the next pulls try again
    (still missing from the folder), by name."""
    names = sorted(_load_state(folder).failed)
    return [folder / name for name in names if not (folder / name).exists()]


#: What `failed_pull_warnings` says of each such file (`flashcards check` codes it missing-day).
FAILED_PULL_WARNING = "this day's pull failed; the next `flashcards pull` tries it again"


def failed_pull_warnings(folders: Iterable[Path]) -> list[str]:
    """`path: message` for each file of `failed_files` of `folders` (each folder once, however
    spelled): what `build` and `check` report, since a gap between digests may not show such a
    day (the newest one, or one before the first digest). Reads one small file per folder."""
    seen: set[Path] = set()
    warnings: list[str] = []
    for folder in folders:
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        warnings += [f"{path}: {FAILED_PULL_WARNING}" for path in failed_files(folder)]
    return warnings


def empty_days(folder: Path) -> set[date]:
    """The weekdays a pull into `folder` found no digest for at its source (404/410: a
    holiday) and that still have no file there: not gaps, for `flashcards check`. Reads one
    small file; a missing or damaged one knows of none."""
    names = _load_state(folder).none
    return {_day_of(name) for name in names if not (folder / name).exists()}


def _load_state(folder: Path, today: date | None = None) -> _FolderState:
    """The remembered state; a missing or damaged file is an empty one (it only saves downloads
    and retries). A failed day with no valid first-failure day (a list written by an earlier
    version, or a damaged entry) counts as first failed `today`."""
    today = today or datetime.now(UTC).date()
    try:
        # Not read when it is a FIFO (the read would wait for a writer) or huge.
        with open_regular_file(folder / STATE_FILE) as handle:
            text = handle.read(MAX_STATE_BYTES + 1)
        if len(text) > MAX_STATE_BYTES:
            return _FolderState()
        data = json.loads(text)
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deep
        return _FolderState()
    if not isinstance(data, dict):
        return _FolderState()
    files = data.get("files")
    failed = data.get("failed")
    none = data.get("none")  # absent from the files of earlier versions
    return _FolderState(
        {
            str(name): {k: v for k, v in entry.items() if isinstance(v, str)}
            for name, entry in files.items()
            if isinstance(entry, dict)
        }
        if isinstance(files, dict)
        else {},
        _failed_days(failed, today),
        _empty_day_names(none),
    )


def _empty_day_names(none: Any) -> set[str]:
    """The names of `none` that are a day's file name; anything else is dropped."""
    if not isinstance(none, list):
        return set()
    names = set()
    for name in none:
        if isinstance(name, str) and _DAY_NAME.match(name):
            with contextlib.suppress(ValueError):
                _day_of(name)
                names.add(name)
    return names


_DAY_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}\.")


def _day_of(name: str) -> date:
    """The day of a file name YYYY-MM-DD.suffix (ValueError if it names none)."""
    return date.fromisoformat(name[:10])


def _first_day(folder: Path) -> date | None:
    """The day of the oldest YYYY-MM-DD.* file in `folder` (any source's), or None."""
    first: date | None = None
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return None
    for name in names:
        if not _DAY_NAME.match(name):
            continue
        try:
            day = _day_of(name)
        except ValueError:
            continue
        if first is None or day < first:
            first = day
    return first


def _failed_days(failed: Any, today: date) -> dict[str, date]:
    if isinstance(failed, list):  # names only
        failed = dict.fromkeys(name for name in failed if isinstance(name, str))
    if not isinstance(failed, dict):
        return {}
    days: dict[str, date] = {}
    for name, since in failed.items():
        if not isinstance(name, str):
            continue
        try:
            days[name] = min(date.fromisoformat(since), today)
        except (TypeError, ValueError):
            days[name] = today
    return days


@dataclass
class _Changes:
    """What one pull changes in a folder's state, to merge into the state file as it is when
    written (another pull may have written it since this one read it)."""

    files: dict[str, dict[str, str]] = field(default_factory=dict)  # {}: forget the validators
    failed: dict[str, date] = field(default_factory=dict)  # name → first failed
    settled: set[str] = field(default_factory=set)  # no longer failed (it landed, or is none)
    forgotten: set[str] = field(default_factory=set)  # failed too long, or not a day's name
    none: set[str] = field(default_factory=set)  # weekdays the source had no digest for

    def __bool__(self) -> bool:
        return bool(self.files or self.failed or self.settled or self.forgotten or self.none)

    def record(self, done: _Done, read: _FolderState, today: date) -> None:
        """A requested day's outcome; `read`: the state as this pull read it."""
        name = done.result.file.name
        if done.validators is not None:
            self.files[name] = done.validators
        if done.result.status == "failed":
            self.failed[name] = read.failed.get(name, today)
        else:
            self.settled.add(name)
        # Only weekdays: `check` never reports a weekend, and every week has two 404s.
        if done.result.status == "none" and done.result.day.weekday() < 5:
            self.none.add(name)

    def apply(self, state: _FolderState, folder: Path) -> None:
        for name, validators in self.files.items():
            if validators:
                state.files[name] = validators
            else:
                state.files.pop(name, None)
        for name in self.settled | self.forgotten:
            state.failed.pop(name, None)
        for name, since in self.failed.items():
            if not (folder / name).exists():  # another pull may have brought it in since
                state.failed.setdefault(name, since)
        # Kept: the days `check` could take for gaps, those after the folder's first digest
        # with no file yet (one published late, or copied in, drops out); a day before it is
        # outside every range `check` looks at, and a pull that brings older digests in asks
        # it again. So the list holds the holidays still without a digest, and stays short
        # even while a source answers 404 for weeks.
        first = _first_day(folder)
        state.none = {
            name
            for name in state.none | self.none
            if first is not None and _day_of(name) > first and not (folder / name).exists()
        }


def _update_state(folder: Path, changes: _Changes, today: date) -> str | None:
    """Merge `changes` into the folder's state file, under an exclusive lock on the folder held
    only for this read-merge-write: a pull sharing the folder never loses what this one
    recorded, nor this one what it did. `flock` on the folder itself leaves no lock file (so
    none can be left behind) and dies with its process, so a killed pull blocks no one.
    Returns a warning if the file could not be written."""
    path = folder / STATE_FILE
    # Days found empty are only kept beside a digest (`_Changes.apply`): no folder, none kept.
    found_empty = bool(changes.none) and folder.is_dir()
    if not changes or not (changes.files or changes.failed or found_empty or path.exists()):
        return None  # nothing to remember, and nothing remembered to change
    try:
        folder.mkdir(parents=True, exist_ok=True)  # the folder is what gets locked
        with directories_locked([path]):
            state = _load_state(folder, today)
            changes.apply(state, folder)
            if not state.files and not state.failed and not state.none and not path.exists():
                return None
            text = json.dumps(state.document(), indent=1, ensure_ascii=False) + "\n"
            if path.is_file() and path.stat().st_size > MAX_STATE_BYTES:
                # Read as empty above; `replace_files` would read it whole to compare.
                path.unlink()
            replace_files([(path, text.encode("utf-8"))])  # unchanged bytes are not rewritten
    except OSError as exc:
        return f"{path}: {exc.strerror or exc} (the next pull may download or retry more)"
    except FlashcardsError as exc:
        return f"{path}: {exc.message} (the next pull may download or retry more)"
    return None
