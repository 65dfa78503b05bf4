"""Step 0: bring each day's digests in from their public sources (`flashcards pull`).

The only module that uses the network. For every day of a target's range (`flashcards.sources`)
it requests the day's URL, checks that the body is complete and parses as a digest of the
source's format *and of that day*, and only then renames it into the folder as
`YYYY-MM-DD<suffix>` (`flashcards.atomicfile`: a killed pull leaves at most a hidden temporary
file that no build reads). A 404 means no digest that day. A file already in the folder is
never requested again, nor overwritten, unless `refresh` is set; refreshing sends the ETag and
Last-Modified remembered in the folder's `.flashcards-pull.json`, so an unchanged page costs a
304; the same file lists the days that failed, which the next pulls ask again. Being polite to
the sites: an identifying User-Agent, a few requests at a time, timeouts, and retries with
exponential backoff and jitter (honouring `Retry-After`) on timeouts, connection errors, 429 and
5xx.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flashcards import __version__
from flashcards.atomicfile import replace_files
from flashcards.errors import ConfigError, FlashcardsError, ParseError
from flashcards.parse import DEFAULT_MAX_BYTES, parse_bytes
from flashcards.sources import PullTarget, day_range

if TYPE_CHECKING:
    import httpx

    from flashcards.progress import Bar

USER_AGENT = f"flashcards/{__version__} (+https://pypi.org/project/flashcards)"

#: Per folder, the validators of each pulled file, so that `--refresh` asks "changed since?",
#: and the days that failed, so that the next pull tries them again.
STATE_FILE = ".flashcards-pull.json"

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
    targets = _distinct(targets)
    for target in targets:
        _check_folder(target.folder)
    ranges = [day_range(t, today=today, since=since, until=until, refresh=refresh) for t in targets]

    # One state per folder, however its path is spelled, shared by the sources pulled into it.
    states = {_folder_key(t.folder): _load_state(t.folder, today) for t in targets}
    gave_up: dict[int, list[tuple[str, date]]] = {}
    schedule: list[list[date]] = []
    for index, (target, span) in enumerate(zip(targets, ranges, strict=True)):
        days = span.days()
        if since is None:
            # The default range starts after the newest file: days that failed before it would
            # never be asked again. They are, for RETRY_FAILED_DAYS.
            retry, gave_up[index] = _failed_before(target, states, span.first, today)
            days = sorted(set(days) | set(retry))
        schedule.append(days)

    results: dict[tuple[int, date], DayResult] = {}
    jobs: list[tuple[PullTarget, date, tuple[int, date]]] = []
    for index, (target, days) in enumerate(zip(targets, schedule, strict=True)):
        for day in days:
            path = target.folder / target.filename(day)
            if not refresh and path.exists():
                results[index, day] = DayResult(day, "present", path)
            else:
                jobs.append((target, day, (index, day)))
    results.update(_run(jobs, states, refresh, settings, progress))

    reports = []
    for index, (target, span) in enumerate(zip(targets, ranges, strict=True)):
        done = tuple(results[index, day] for day in schedule[index])
        failed = states[_folder_key(target.folder)].failed
        for result in done:
            if result.status == "failed":
                failed.setdefault(result.file.name, today)
            else:
                failed.pop(result.file.name, None)
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
        state = states.pop(_folder_key(report.target.folder), None)
        warning = _save_state(report.target.folder, state) if state is not None else None
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
    progress: Bar | None = None,
) -> dict[tuple[int, date], DayResult]:
    """Each job's day pulled, `settings.workers` at a time over one HTTP client."""
    if not jobs:
        return {}
    import httpx

    stop = threading.Event()
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=None)
    with (
        httpx.Client(
            headers={"User-Agent": settings.user_agent},
            timeout=timeout,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=settings.workers),
        ) as client,
        ThreadPoolExecutor(max_workers=settings.workers) as executor,
    ):
        futures = {
            job: executor.submit(_pull_day, client, target, day, states, refresh, settings, stop)
            for target, day, job in jobs
        }
        pending = list(futures.items())
        try:
            shown = progress(pending) if progress is not None else pending
            return {job: future.result() for job, future in shown}
        except BaseException:
            # Interrupted: finish the requests in flight (each either lands whole or not at
            # all), cut their waits short and start no other.
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)
            raise


def _failed_before(
    target: PullTarget, states: dict[str, _FolderState], first: date, today: date
) -> tuple[list[date], list[tuple[str, date]]]:
    """The target's remembered failed days before `first` to try again, and those that have
    failed for too long (with the day of their first failure; forgotten from now on). The
    window counts from a day's first failure, not from its date: a backfill's old day that
    failed once is tried again like yesterday's."""
    failed = states[_folder_key(target.folder)].failed
    retry: list[date] = []
    too_old: list[tuple[str, date]] = []
    for name, since in sorted(failed.items()):
        if not name.endswith(target.source.suffix):
            continue
        try:
            day = date.fromisoformat(name[: -len(target.source.suffix)])
        except ValueError:
            del failed[name]
            continue
        if (target.folder / name).exists() or day >= first:
            continue
        if (today - since).days > RETRY_FAILED_DAYS:
            del failed[name]
            too_old.append((name, since))
        else:
            retry.append(day)
    return retry, too_old


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


def _pull_day(
    client: httpx.Client,
    target: PullTarget,
    day: date,
    states: dict[str, _FolderState],
    refresh: bool,
    settings: HttpSettings,
    stop: threading.Event,
) -> DayResult:
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
    result = DayResult(day, "failed", path, url, outcome.error, outcome.attempts)
    if outcome.kind == "none":
        return DayResult(day, "present" if existed else "none", path, url, None, outcome.attempts)
    if outcome.kind == "not-modified":
        return DayResult(day, "unchanged", path, url, None, outcome.attempts)
    if outcome.kind == "failed":
        return result
    problem = _check_digest(outcome.body, url, target, day)
    if problem is not None:
        return DayResult(day, "failed", path, url, problem, outcome.attempts)
    if not refresh and path.exists():
        # Another pull wrote it meanwhile: keep that one.
        return DayResult(day, "present", path, url, None, outcome.attempts)
    try:
        changed = replace_files([(path, outcome.body)])
    except FlashcardsError as exc:
        return DayResult(day, "failed", path, url, exc.message, outcome.attempts)
    if outcome.etag or outcome.last_modified:
        entry = {"url": url}
        if outcome.etag:
            entry["etag"] = outcome.etag
        if outcome.last_modified:
            entry["last_modified"] = outcome.last_modified
        state[name] = entry  # one key per file: no two threads write the same key
    status: DayStatus = "fetched" if not existed else "updated" if changed else "unchanged"
    return DayResult(day, status, path, url, None, outcome.attempts)


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
    stop: threading.Event,
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
    """What a pull remembers in a folder's STATE_FILE; changed while the pull runs (each file
    name by one thread only), written once at its end."""

    files: dict[str, dict[str, str]] = field(default_factory=dict)  # name → url, etag, ...
    # The days to try again, by file name, with the day (UTC) each first failed.
    failed: dict[str, date] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "about": "flashcards pull: validators of each file (for --refresh), days to retry "
            "(each with the day it first failed)",
            "files": {name: self.files[name] for name in sorted(self.files)},
            "failed": {name: self.failed[name].isoformat() for name in sorted(self.failed)},
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


def _load_state(folder: Path, today: date | None = None) -> _FolderState:
    """The remembered state; a missing or damaged file is an empty one (it only saves downloads
    and retries). A failed day with no valid first-failure day (a list written by an earlier
    version, or a damaged entry) counts as first failed `today`."""
    today = today or datetime.now(UTC).date()
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deep
        return _FolderState()
    if not isinstance(data, dict):
        return _FolderState()
    files = data.get("files")
    failed = data.get("failed")
    return _FolderState(
        {
            str(name): {k: v for k, v in entry.items() if isinstance(v, str)}
            for name, entry in files.items()
            if isinstance(entry, dict)
        }
        if isinstance(files, dict)
        else {},
        _failed_days(failed, today),
    )


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


def _save_state(folder: Path, state: _FolderState) -> str | None:
    """Write the state (unless there is nothing to remember); returns a warning if that
    failed."""
    path = folder / STATE_FILE
    if not state.files and not state.failed and not path.exists():
        return None
    text = json.dumps(state.document(), indent=1, ensure_ascii=False) + "\n"
    try:  # unchanged bytes are not rewritten
        replace_files([(path, text.encode("utf-8"))])
    except FlashcardsError as exc:
        return f"{path}: {exc.message} (the next pull may download or retry more)"
    return None
