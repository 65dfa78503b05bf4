"""Where digests come from: the public sources `flashcards pull` knows, their URL templates, and
the days a pull covers.

This module never touches the network (that is `flashcards.pull`), so deck definitions can
validate their `pull:` key with it without importing an HTTP client.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flashcards.errors import ConfigError
from flashcards.model import Format

#: The placeholders a URL template may use, and what each becomes for a day.
PLACEHOLDERS = ("date", "yyyy", "mm", "dd")

#: A range longer than this needs an explicit `--since`: a typo in a year must not pull years.
MAX_DAYS_WITHOUT_SINCE = 400


@dataclass(frozen=True)
class Source:
    name: str
    url: str  # URL template, see PLACEHOLDERS
    suffix: str  # the saved file is DIR/YYYY-MM-DD<suffix>
    format: Format  # what a download must parse as


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "daily-paper",
            "https://xinzhang-ops.github.io/daily_paper/dailies/pages/{date}.html",
            ".html",
            "quiz-html",
        ),
        Source(
            "daily-ai-papers",
            "https://raw.githubusercontent.com/gabrielchua/daily-ai-papers/main/archive/"
            "{yyyy}/{mm}/{dd}.md",
            ".md",
            "markdown-table",
        ),
    )
}


@dataclass(frozen=True)
class PullTarget:
    """One source pulled into one folder: what `pull:` entries and `--source -d` become."""

    source: Source
    template: str  # the source's URL template, or the one given instead
    folder: Path
    since: date | None = None  # the first day to pull when the folder has no newer digest
    #: Where `since` is written (deck definition, line), for an error about it.
    since_at: tuple[str, int | None] | None = field(default=None, compare=False)

    def filename(self, day: date) -> str:
        return f"{day.isoformat()}{self.source.suffix}"

    def url(self, day: date) -> str:
        return expand_template(self.template, day)


def source_named(name: str) -> Source:
    """The built-in source called `name`; an unknown name raises ConfigError listing them."""
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigError(
            f"unknown source {name!r} (expected one of: {', '.join(SOURCES)})"
        ) from None


def check_template(template: str) -> str:
    """`template` if it is an http(s) URL whose only placeholders are PLACEHOLDERS and that names
    the day (`{date}`, or all of `{yyyy}`, `{mm}` and `{dd}`); else ConfigError."""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"URL template {template!r} is not an http(s) URL")
    try:
        fields = [
            (name, spec, conversion)
            for _text, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as exc:
        raise ConfigError(f"URL template {template!r}: {exc}") from None
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            shown = (
                f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            )
            raise ConfigError(
                f"URL template {template!r}: unknown placeholder {shown} (allowed: {allowed})"
            )
    names = {name for name, _spec, _conversion in fields}
    if "date" not in names and not {"yyyy", "mm", "dd"} <= names:
        raise ConfigError(
            f"URL template {template!r} does not name the day: use {{date}}, "
            "or {yyyy}, {mm} and {dd}"
        )
    return template


def expand_template(template: str, day: date) -> str:
    return template.format(
        date=day.isoformat(), yyyy=f"{day.year:04d}", mm=f"{day.month:02d}", dd=f"{day.day:02d}"
    )


_DATED_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def newest_day(folder: Path, suffix: str) -> date | None:
    """The latest YYYY-MM-DD<suffix> file in `folder` (not recursive), or None."""
    newest: date | None = None
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    for entry in entries:
        if entry.suffix != suffix or not entry.is_file():
            continue
        match = _DATED_NAME.match(entry.stem)
        if match is None:
            continue
        try:
            day = date(*(int(part) for part in match.groups()))
        except ValueError:
            continue
        if newest is None or day > newest:
            newest = day
    return newest


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date  # inclusive; before `first` when there is nothing to pull

    def days(self) -> list[date]:
        count = (self.last - self.first).days + 1
        return [self.first + timedelta(days=n) for n in range(max(count, 0))]


def day_range(
    target: PullTarget,
    *,
    today: date,
    since: date | None = None,
    until: date | None = None,
    refresh: bool = False,
) -> DayRange:
    """The days a pull of `target` covers.

    `since`/`until` (the command line's) win. Otherwise it starts the day after the newest digest
    already in the folder (on that day with `refresh`, which may have been published again), or
    on the target's own `since` when that is later or the folder has none, or today when there is
    neither. It ends on `until`, else today; days after today are never pulled. A range of more
    than MAX_DAYS_WITHOUT_SINCE days that the command line did not ask for is an error.
    """
    last = min(until or today, today)
    if since is not None:
        return DayRange(since, last)
    newest = newest_day(target.folder, target.source.suffix)
    first = today
    if newest is not None:
        first = newest if refresh else newest + timedelta(days=1)
    if target.since is not None and (newest is None or target.since > first):
        first = target.since
    span = (last - first).days + 1
    if span > MAX_DAYS_WITHOUT_SINCE:
        raise ConfigError(
            f"pulling {target.source.name} into {target.folder} would request {span} days "
            f"({first.isoformat()} to {last.isoformat()}); give --since {first.isoformat()} "
            f"to confirm a range longer than {MAX_DAYS_WITHOUT_SINCE} days"
        )
    return DayRange(first, last)
