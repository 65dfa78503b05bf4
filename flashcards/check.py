"""`flashcards check`: everything a build verifies, without writing a file, plus the findings a
person should look at before the deck reaches a phone.

It runs the build's own steps (`flashcards.build.prepare`): there is no second validator. What it
adds is collecting: every bad deck definition, digest, answer key and taxonomy is reported, not
only the first, and warnings get stable machine codes for scripts (`--json`).

Warning codes:

- `unsure-answer`: an inferred answer under the unsure threshold, with its question;
- `no-topic`: a paper no taxonomy topic matched (tagged with the fallback only);
- `paper-differs`: the same paper in two digests of the same kind with different text (the latest
  digest's text is what the deck uses);
- `repeated-options`: a question with two options that read the same;
- `missing-day`: a weekday with no digest in a folder of dated digests (rule below), or a day
  whose pull failed (remembered by `flashcards pull` in the folder, until a pull brings it in);
- `refused-link`: a link in a table's Title or Link cell that is not http(s), dropped;
- `no-papers`, `skipped-file`, `truncated-page`, `no-arxiv-link`, `bad-answer-mark`,
  `ignored-text`, `empty-deck`, `digest-warning`: what parsing or building warns about.

Missing days: the digests read from one folder are taken as a daily series (a folder given as
input with everything under it, e.g. an archive kept as `YYYY/MM/DD.md`; else the file's
folder). Every Monday to Friday between the folder's first and last digest date that has no
digest is reported (runs of consecutive missing weekdays as one warning). Weekends are never
reported: the daily sources publish on weekdays, and only a gap inside the range is certainly a
gap, not the series' start or end. Nor is a weekday that `flashcards pull` found empty at its
source (a 404: a holiday), as remembered in the folder of the series' digests
(`flashcards.pull.empty_days`): otherwise it would be warned about on every run, for good.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flashcards.anki.state import DeckState
from flashcards.answers import AnswerKey, load_answer_key
from flashcards.build import PreparedDeck, prepare, read_inputs
from flashcards.deckdef import (
    DeckDefinition,
    check_beside,
    find_deck_definitions,
    load_deck_definition,
    load_deck_definitions,
)
from flashcards.errors import BuildError, ConfigError, FlashcardsError, NotADigestError, ParseError
from flashcards.model import Digest, Paper, option_letter
from flashcards.parse import DEFAULT_MAX_BYTES, Progress
from flashcards.plan import (
    DEFAULT_DECKS_DIR,
    BuildPlan,
    check_paths,
    check_plan,
    plan_adhoc,
    plan_for_definition,
)
from flashcards.pull import FAILED_PULL_WARNING, empty_days, failed_pull_warnings
from flashcards.topics import Taxonomy, assign_topics, load_taxonomy
from flashcards.visible import visible_text


@dataclass(frozen=True)
class Finding:
    """One error or warning: where, a stable machine code, and what a person should know."""

    path: str | None
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class CheckResult:
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
        }


def error_finding(exc: FlashcardsError) -> Finding:
    return Finding(exc.path, exc.line, _error_code(exc), exc.message)


def _error_code(exc: FlashcardsError) -> str:
    if isinstance(exc, NotADigestError):
        return "not-a-digest"
    if isinstance(exc, ParseError):
        return "parse-error"
    if isinstance(exc, ConfigError):
        return "config-error"
    if isinstance(exc, BuildError):
        return "build-error"
    return "error"


# -- entry points ------------------------------------------------------------------------------


def check_all(
    directory: str | Path = DEFAULT_DECKS_DIR,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> CheckResult:
    """Check every deck definition in `directory`, as `flashcards build` would build them."""
    paths = find_deck_definitions(directory)
    if not paths:
        exc = ConfigError(
            "no deck definitions (*.yaml) here; give one, or check digests with -i PATH",
            directory,
        )
        return CheckResult(errors=(error_finding(exc),))
    return check_definitions(paths, max_bytes=max_bytes, progress=progress)


def check_definitions(
    paths: Sequence[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> CheckResult:
    collector = _Collector()
    definitions: list[DeckDefinition] = []
    for path in paths:
        definition = collector.attempt(load_deck_definition, path)
        if definition is not None:
            definitions.append(definition)
    # Checks across definitions (two decks writing one file), as the build makes them.
    if collector.attempt(load_deck_definitions, [d.path for d in definitions]) is None:
        return collector.result()
    collector.attempt(check_beside, definitions)  # and a deck's files that another one writes
    plans = []
    for definition in definitions:
        plan = collector.attempt(plan_for_definition, definition)
        if plan is not None:
            plans.append(dataclasses.replace(plan, max_bytes=max_bytes))
    collector.attempt(check_paths, plans)  # a state or package shared, or one that is an input
    for plan in plans:
        collector.check_plan(plan, progress=progress)
    collector.warnings.extend(failed_pulls(t.folder for d in definitions for t in d.pull))
    return collector.result()


def check_adhoc(
    inputs: Iterable[str | Path],
    *,
    answers: str | Path | None = None,
    taxonomy: str | Path | None = None,
    unsure_threshold: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> CheckResult:
    """Check digests (files or directories) as an ad-hoc build of them would, with no state."""
    collector = _Collector()
    plan = collector.attempt(
        functools.partial(
            plan_adhoc,
            inputs,
            "check.apkg",  # never written: a check writes nothing
            answers=answers,
            taxonomy=taxonomy,
            unsure_threshold=unsure_threshold,
            max_bytes=max_bytes,
        )
    )
    if plan is None:
        return collector.result()
    collector.check_plan(plan, state=DeckState(), progress=progress)
    collector.warnings.extend(failed_pulls(path for path in plan.inputs if path.is_dir()))
    return collector.result()


class _Collector:
    def __init__(self) -> None:
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []

    def attempt(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except FlashcardsError as exc:
            self.errors.append(error_finding(exc))
            return None

    def result(self) -> CheckResult:
        return CheckResult(tuple(_unique(self.errors)), tuple(_unique(self.warnings)))

    def check_plan(
        self, plan: BuildPlan, *, state: DeckState | None = None, progress: Progress | None = None
    ) -> None:
        try:
            check_plan(plan)
        except FlashcardsError as exc:
            self.errors.append(error_finding(exc))
            return
        parsed = read_inputs(plan, collect_errors=True, progress=progress)
        self.errors.extend(error_finding(exc) for exc in parsed.errors)
        key: AnswerKey | None = None
        if plan.answers is not None:
            key = self.attempt(load_answer_key, plan.answers)
        taxonomy: Taxonomy | None = self.attempt(load_taxonomy, plan.taxonomy)
        if parsed.errors or taxonomy is None or (plan.answers is not None and key is None):
            # The rest needs every input; the parse warnings are still worth showing.
            self.warnings.extend(warning_finding(w) for w in parsed.warnings)
            return
        prepared: PreparedDeck | None = self.attempt(
            lambda: prepare(
                plan,
                int(time.time()),
                parsed=parsed,
                key=key,
                taxonomy=taxonomy,
                state=state,
                keep_digests=True,
            )
        )
        if prepared is None:
            self.warnings.extend(warning_finding(w) for w in parsed.warnings)
            return
        self.warnings.extend(warning_finding(w) for w in prepared.report.warnings)
        roots = [path for path in plan.inputs if path.is_dir()]
        self.warnings.extend(deck_warnings(prepared.digests, prepared.taxonomy, roots))


def _unique(findings: list[Finding]) -> list[Finding]:
    # Two decks reading one digest would report its problems twice.
    return list(dict.fromkeys(findings))


# -- warnings ----------------------------------------------------------------------------------


def deck_warnings(
    digests: Sequence[Digest], taxonomy: Taxonomy, roots: Iterable[Path] = ()
) -> list[Finding]:
    """What a person should look at in resolved `digests`, in a stable order (`roots`: see
    `missing_days`)."""
    return [
        *_unsure_answers(digests),
        *_repeated_options(digests),
        *_no_topic(digests, taxonomy),
        *_papers_that_differ(digests),
        *missing_days(digests, roots),
    ]


def _latest_papers(digests: Sequence[Digest]) -> dict[str, tuple[Digest, Paper]]:
    """Each paper once, in its latest digest (the text the deck uses)."""
    latest: dict[str, tuple[Digest, Paper]] = {}
    for digest in sorted(digests, key=lambda d: (d.date, d.source)):
        for paper in digest.papers:
            latest[paper.key] = (digest, paper)
    return dict(sorted(latest.items(), key=lambda item: (item[1][0].source, item[1][1].line or 0)))


def _unsure_answers(digests: Sequence[Digest]) -> Iterable[Finding]:
    for digest, paper in _latest_papers(digests).values():
        for question in paper.questions:
            if not question.unsure or question.answer is None:
                continue
            confidence = f"{question.confidence:.0%}, " if question.confidence is not None else ""
            yield Finding(
                digest.source,
                question.line or paper.line,
                "unsure-answer",
                f"Q{question.number} of {paper.title!r}: unsure answer ({confidence}best guess "
                f"{option_letter(question.answer)}: {question.options[question.answer]!r}): "
                # Unquoted, unlike the title and option: a bidi override in it would reorder
                # the rest of the line on the terminal (`visible_text`, as on cards).
                f"{visible_text(question.prompt)}",
            )


_SPACES = re.compile(r"\s+")


def _same_text(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def _repeated_options(digests: Sequence[Digest]) -> Iterable[Finding]:
    for digest in digests:
        for paper in digest.papers:
            for question in paper.questions:
                seen: dict[str, int] = {}
                for index, option in enumerate(question.options):
                    first = seen.setdefault(_same_text(option), index)
                    if first != index:
                        yield Finding(
                            digest.source,
                            question.line or paper.line,
                            "repeated-options",
                            f"Q{question.number} of {paper.title!r}: options "
                            f"{option_letter(first)} and {option_letter(index)} read the same "
                            f"({option!r})",
                        )


def _no_topic(digests: Sequence[Digest], taxonomy: Taxonomy) -> Iterable[Finding]:
    for digest, paper in _latest_papers(digests).values():
        if assign_topics(paper, taxonomy) == (taxonomy.fallback,):
            yield Finding(
                digest.source,
                paper.line,
                "no-topic",
                f"{paper.title!r} matches no topic of the taxonomy "
                f"(tagged topic::{taxonomy.fallback} only)",
            )


def _kind(digest: Digest) -> str:
    # Table digests hold a one-paragraph summary, quiz digests five fields: the same paper in
    # one of each always reads differently, and that is no mistake.
    return "table" if digest.format == "markdown-table" else "quiz"


def _text_of(paper: Paper) -> tuple[Any, ...]:
    return (
        _same_text(paper.title),
        tuple(sorted((k, _same_text(v)) for k, v in paper.fields.items())),
        tuple(
            (q.number, _same_text(q.prompt), tuple(_same_text(o) for o in q.options))
            for q in paper.questions
        ),
    )


def _papers_that_differ(digests: Sequence[Digest]) -> Iterable[Finding]:
    first_seen: dict[tuple[str, str], tuple[Digest, Paper]] = {}
    for digest in sorted(digests, key=lambda d: (d.date, d.source)):
        for paper in digest.papers:
            slot = (_kind(digest), paper.key)
            earlier = first_seen.setdefault(slot, (digest, paper))
            if earlier[1] is paper or _text_of(earlier[1]) == _text_of(paper):
                continue
            where = earlier[0].source + (f":{earlier[1].line}" if earlier[1].line else "")
            yield Finding(
                digest.source,
                paper.line,
                "paper-differs",
                f"{paper.title!r} is also in {where} with different text; the deck uses the "
                "latest digest's",
            )


def missing_days(digests: Sequence[Digest], roots: Iterable[Path] = ()) -> Iterable[Finding]:
    """Weekdays with no digest inside each folder's range of digest dates (module docstring).

    A digest belongs to the first of `roots` (folders given as inputs) that holds it, so that an
    archive kept as `YYYY/MM/DD.md` is one series; otherwise to the folder it is in. A day that
    a pull into the folder of one of the series' digests found empty is no gap (it ends a run).
    """
    folders = [Path(root) for root in roots]
    by_folder: dict[str, set[date]] = {}
    holders: dict[str, set[Path]] = {}  # the folders the series' digests are in
    for digest in digests:
        if digest.source == "-":
            continue
        path = Path(digest.source)
        root = next((r for r in folders if path.is_relative_to(r)), path.parent)
        by_folder.setdefault(str(root), set()).add(digest.date)
        holders.setdefault(str(root), set()).add(path.parent)
    for folder, dates in sorted(by_folder.items()):
        first, last = min(dates), max(dates)
        known = dates.union(*(empty_days(holder) for holder in holders[folder]))
        day, run = first, []
        while day <= last:
            if day.weekday() < 5 and day not in known:
                run.append(day)
            elif day.weekday() < 5 and run:
                yield _missing(folder, run)
                run = []
            day += timedelta(days=1)


def failed_pulls(folders: Iterable[Path]) -> Iterable[Finding]:
    """The days whose pull into one of `folders` failed and that are still missing (the same
    warnings as a build's, `flashcards.pull.failed_pull_warnings`)."""
    return [warning_finding(warning) for warning in failed_pull_warnings(folders)]


def _missing(folder: str, run: list[date]) -> Finding:
    if len(run) == 1:
        what = f"no digest for {run[0]:%a %Y-%m-%d}"
    else:
        what = f"no digests for {len(run)} weekdays, {run[0]:%a %Y-%m-%d} to {run[-1]:%a %Y-%m-%d}"
    return Finding(folder, None, "missing-day", f"{what} (a gap in this folder's daily digests)")


_WARNING_CODES = (
    # The first whose words a warning's message holds gives its code: a message may also hold
    # the words of a code below it ("the deck has no notes (no papers in its inputs)").
    ("only http(s) links are kept", "refused-link"),
    (FAILED_PULL_WARNING, "missing-day"),
    ("the deck has no notes", "empty-deck"),
    ("(skipped)", "skipped-file"),
    ("no papers", "no-papers"),
    ("truncated", "truncated-page"),
    ("no arXiv link", "no-arxiv-link"),
    ("data-answer", "bad-answer-mark"),
    ("ignored", "ignored-text"),
)
_LOCATED = re.compile(r"^(?P<path>.+?):(?:(?P<line>\d+):)? (?P<message>.*)$", re.S)
#: Digest text a warning quotes (with `repr`: in '…', or "…" when it holds a '), which may hold
#: another code's words; an apostrophe inside a word ("page's") starts no quote.
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?!\w)""", re.S)


def warning_finding(warning: str) -> Finding:
    """A build warning (`path:line: message` or `path: message`) as a finding with a code,
    found by the words of its message: not its path, nor the digest text it quotes."""
    match = _LOCATED.match(warning)
    message = warning if match is None else match.group("message")
    words = _QUOTED.sub("''", message)
    code = next((c for text, c in _WARNING_CODES if text in words), "digest-warning")
    if match is None:
        return Finding(None, None, code, warning)
    line = match.group("line")
    return Finding(match.group("path"), int(line) if line else None, code, message)
