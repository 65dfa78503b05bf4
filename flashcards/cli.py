"""The `flashcards` command: argument parsing and output formatting only.

Every command calls library functions that return values; `FlashcardsError` is turned into a
one-line message and an exit code here and nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flashcards.answers import DEFAULT_UNSURE_THRESHOLD
from flashcards.errors import FlashcardsError
from flashcards.parse import DEFAULT_MAX_BYTES, ParseResult, parse_paths

if TYPE_CHECKING:
    from flashcards.pull import TargetReport


def _report_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's errors into `error: path:line: message` and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FlashcardsError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            # A path the library did not foresee failing to stat (a name too long for the file
            # system, ...): still one line naming it, never a traceback. Writes are atomic, so
            # nothing was changed.
            if exc.filename is None or exc.strerror is None:
                raise
            click.echo(f"error: {exc.filename}: {exc.strerror}", err=True)
            sys.exit(FlashcardsError.exit_code)

    return wrapper


_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


class _Interrupted(BaseException):
    """SIGINT or SIGTERM during a build: a BaseException, so that it unwinds like
    KeyboardInterrupt through every `except Exception`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise _Interrupted(signum)


@contextlib.contextmanager
def _ending_on_interrupt(outcome: str) -> Iterator[None]:
    """SIGINT or SIGTERM inside ends the command with one line, `error: interrupted by NAME:
    <outcome>`, and exit code 128 + the signal (not 1, which says the work itself failed)."""
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in _INTERRUPTS}
    try:
        yield
    except _Interrupted as interrupted:
        for signum in _INTERRUPTS:  # a second signal must not cut this message short
            signal.signal(signum, signal.SIG_IGN)
        name = signal.Signals(interrupted.signum).name
        click.echo(f"error: interrupted by {name}: {outcome}", err=True)
        sys.exit(128 + interrupted.signum)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _warn(warnings: tuple[str, ...] | list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _read_paths(paths: tuple[str, ...], max_bytes: int = DEFAULT_MAX_BYTES) -> ParseResult:
    # One byte over the limit is enough to refuse it; never more is read.
    stdin = sys.stdin.buffer.read(max_bytes + 1) if "-" in paths else None
    from flashcards.progress import progress_bar

    return parse_paths(
        paths, stdin=stdin, max_bytes=max_bytes, progress=progress_bar("reading digests")
    )


#: The most `--max-bytes` may allow: a file is read whole into memory.
MAX_BYTES_CAP = 1024 * 1024 * 1024

_MAX_BYTES = click.option(
    "--max-bytes",
    type=click.IntRange(min=1, max=MAX_BYTES_CAP),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    metavar="N",
    help="Refuse digest files larger than N bytes (a guard against wrong or hostile inputs).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flashcards")
def main() -> None:
    """Turn daily AI-paper digests into Anki decks."""


_UNSURE_BELOW = click.option(
    "--unsure-below",
    "unsure_below",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    metavar="P",
    help="Mark inferred answers with a confidence below P (0 to 1) as unsure "
    f"(default {DEFAULT_UNSURE_THRESHOLD}).",
)


@main.command(short_help="Show what the digests in PATHS hold (or --json).")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option(
    "--answers",
    "answers_path",
    metavar="KEY.yaml",
    help="Answer-key YAML file (arXiv id → letters).",
)
@_UNSURE_BELOW
@_MAX_BYTES
@_report_errors
def parse(
    paths: tuple[str, ...],
    as_json: bool,
    answers_path: str | None,
    unsure_below: float | None,
    max_bytes: int,
) -> None:
    """Read digest files (or directories, or - for stdin) and print what was understood."""
    from flashcards.answers import check_key, load_answer_key, resolve_answers

    result = _read_paths(paths, max_bytes)
    _warn(result.warnings)
    key = load_answer_key(answers_path) if answers_path else None
    if as_json:
        digests = resolve_answers(list(result.digests), key, threshold=unsure_below)
        document = {"digests": [d.to_dict() for d in digests]}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    # The summary shows no answers, so none are inferred; a wrong key is still an error.
    if key is not None:
        check_key(key, result.digests)
    for digest in result.digests:
        questions = sum(len(p.questions) for p in digest.papers)
        click.echo(
            f"{digest.source}: {digest.format}, {digest.date.isoformat()}, "
            f"{len(digest.papers)} papers, {questions} questions"
        )
    count = len(result.digests)
    click.echo(f"{count} digest{'' if count == 1 else 's'}")


def _inputs(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The `-i/--input PATH` option (repeatable) of the commands that read digests ad hoc."""
    return click.option("-i", "--input", "inputs", multiple=True, metavar="PATH", help=help_text)


_QUIET = click.option(
    "-q", "--quiet", is_flag=True, help="Print errors only (no warnings, no progress, no summary)."
)


@main.command(short_help="Build the Anki decks (.apkg) of decks/*.yaml, or ad hoc.")
@click.argument("definitions", nargs=-1)
@_inputs("Digest file or directory (ad-hoc build; repeat for more).")
@click.option("-o", "--output", metavar="OUT.apkg", help="Package to write (ad-hoc build).")
@click.option("--deck", metavar="NAME", help='Deck name for an ad-hoc build (default "AI Papers").')
@click.option("--answers", metavar="KEY.yaml", help="Answer-key YAML file (ad-hoc build).")
@click.option(
    "--state",
    metavar="FILE",
    help="State file that keeps note times stable (ad-hoc build; default: OUT.state.json).",
)
@click.option(
    "--taxonomy",
    metavar="FILE",
    help="Topic taxonomy YAML (ad-hoc build; default: the bundled one).",
)
@click.option(
    "--identity",
    metavar="NAMESPACE",
    help="Pin the deck's identity namespace (ad-hoc build), e.g. after losing its state: the "
    'namespace the old state recorded, or "legacy" (see README).',
)
@click.option(
    "--delta",
    metavar="DELTA.apkg",
    help="Also write a package of only the notes new or changed in this build (ad-hoc build; "
    "a deck definition sets delta: in its YAML).",
)
@_UNSURE_BELOW
@_MAX_BYTES
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object describing each deck on stdout (warnings included), nothing else.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Recompute everything and leave the build cache (NAME.cache/ beside the state) alone.",
)
@_QUIET
@_report_errors
def build(
    definitions: tuple[str, ...],
    inputs: tuple[str, ...],
    output: str | None,
    deck: str | None,
    answers: str | None,
    state: str | None,
    taxonomy: str | None,
    identity: str | None,
    delta: str | None,
    unsure_below: float | None,
    max_bytes: int,
    as_json: bool,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Build Anki decks: every decks/*.yaml, the DEFINITIONS given, or -i PATH... -o OUT.apkg.

    Prints, for each deck, its notes and cards and how many notes are new, changed or unchanged
    since the last build, as recorded in the deck's state file (commit it with the deck).
    """
    from flashcards import build as builder
    from flashcards.plan import plan_adhoc
    from flashcards.progress import progress_bar
    from flashcards.report import build_document

    if inputs:
        if definitions:
            raise click.UsageError("give deck definitions or -i inputs, not both")
        if not output:
            raise click.UsageError("an ad-hoc build (-i) needs -o OUT.apkg")
    else:
        adhoc_only = {
            "--output": output,
            "--deck": deck,
            "--answers": answers,
            "--state": state,
            "--taxonomy": taxonomy,
            "--identity": identity,
            "--delta": delta,
            "--unsure-below": unsure_below,
        }
        given = [name for name, value in adhoc_only.items() if value is not None]
        if given:
            raise click.UsageError(
                f"{', '.join(given)}: only for ad-hoc builds (-i PATH); "
                "a deck definition sets these in its YAML file"
            )

    progress = progress_bar("reading digests", quiet=quiet)
    # SIGTERM and SIGINT unwind the build (removing its temporary files) and end it with one
    # line. One that arrives while files are replaced waits until all of them are (atomicfile).
    with _ending_on_interrupt(
        "every deck and state file is either as it was or completely updated, never half"
    ):
        if inputs:
            assert output is not None
            plan = plan_adhoc(
                inputs,
                output,
                deck=deck,
                answers=answers,
                state=state,
                taxonomy=taxonomy,
                unsure_threshold=unsure_below,
                max_bytes=max_bytes,
                identity_setting=identity,
                delta=delta,
                cache=not no_cache,
            )
            reports = [builder.build(plan, progress=progress)]
        elif definitions:
            reports = builder.build_definitions(
                definitions, max_bytes=max_bytes, progress=progress, cache=not no_cache
            )
        else:
            reports = builder.build_all(max_bytes=max_bytes, progress=progress, cache=not no_cache)

    if as_json:
        click.echo(json.dumps(build_document(reports), ensure_ascii=False, indent=2))
        return
    if quiet:
        return
    for report in reports:
        _warn(report.warnings)
        status = "written" if report.written else "unchanged on disk"
        click.echo(
            f"{report.deck} → {report.output} ({status}): {report.notes} notes, "
            f"{report.cards} cards; {report.new} new, {report.changed} changed, "
            f"{report.unchanged} unchanged"
        )
        if report.delta is not None:
            click.echo(
                f"{report.deck} (new and changed only) → {report.delta}: "
                f"{report.delta_notes} notes, {report.delta_cards} cards"
            )


@main.command(short_help="Check deck definitions and digests without building (or --json).")
@click.argument("definitions", nargs=-1)
@_inputs("Digest file or directory to check instead of deck definitions (repeat for more).")
@click.option("--answers", metavar="KEY.yaml", help="Answer-key YAML file (with -i).")
@click.option("--taxonomy", metavar="FILE", help="Topic taxonomy YAML (with -i).")
@_UNSURE_BELOW
@_MAX_BYTES
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object {"errors": [...], "warnings": [...]} on stdout.',
)
@click.option("--strict", is_flag=True, help="Exit with 1 when there are warnings.")
@_QUIET
def check(
    definitions: tuple[str, ...],
    inputs: tuple[str, ...],
    answers: str | None,
    taxonomy: str | None,
    unsure_below: float | None,
    max_bytes: int,
    as_json: bool,
    strict: bool,
    quiet: bool,
) -> None:
    """Verify everything a build would (deck definitions, digests, answer keys, taxonomy) and
    list what a person should look at, without writing any file.

    Checks every decks/*.yaml, the DEFINITIONS given, or the digests given with -i. Exit code 0
    when clean, 1 with --strict when there are warnings, 2 when there are errors.
    """
    from flashcards import check as checker
    from flashcards.progress import progress_bar

    if inputs and definitions:
        raise click.UsageError("give deck definitions or -i inputs, not both")
    if not inputs and (answers or taxonomy or unsure_below is not None):
        raise click.UsageError(
            "--answers, --taxonomy, --unsure-below: only with -i PATH; "
            "a deck definition sets these in its YAML file"
        )
    progress = progress_bar("reading digests", quiet=quiet or as_json)
    if inputs:
        result = checker.check_adhoc(
            inputs,
            answers=answers,
            taxonomy=taxonomy,
            unsure_threshold=unsure_below,
            max_bytes=max_bytes,
            progress=progress,
        )
    elif definitions:
        result = checker.check_definitions(definitions, max_bytes=max_bytes, progress=progress)
    else:
        result = checker.check_all(max_bytes=max_bytes, progress=progress)

    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        for finding in result.errors:
            click.echo(f"error: {finding}", err=True)
        if not quiet:
            for finding in result.warnings:
                click.echo(f"warning: {finding} [{finding.code}]", err=True)
            errors, warnings = len(result.errors), len(result.warnings)
            click.echo(
                f"{errors} error{'' if errors == 1 else 's'}, "
                f"{warnings} warning{'' if warnings == 1 else 's'}"
            )
    if result.errors:
        sys.exit(2)
    if strict and result.warnings:
        sys.exit(1)


@main.command(short_help="Write one HTML page showing every card, front and back.")
@click.argument("definition", required=False)
@_inputs("Digest file or directory (instead of a deck definition; repeat for more).")
@click.option("-o", "--output", metavar="PREVIEW.html", required=True, help="Page to write.")
@click.option("--deck", metavar="NAME", help="Deck name (with -i).")
@click.option("--answers", metavar="KEY.yaml", help="Answer-key YAML file (with -i).")
@click.option("--taxonomy", metavar="FILE", help="Topic taxonomy YAML (with -i).")
@_UNSURE_BELOW
@_MAX_BYTES
@_report_errors
def preview(
    definition: str | None,
    inputs: tuple[str, ...],
    output: str,
    deck: str | None,
    answers: str | None,
    taxonomy: str | None,
    unsure_below: float | None,
    max_bytes: int,
) -> None:
    """Write a preview page of the cards a deck DEFINITION (or -i PATH...) builds: each card's
    front and back as Anki shows them, grouped by digest date, with tags, answer source and a
    day/night switch. Open it in a browser; nothing else is written."""
    from flashcards import preview as previews
    from flashcards.atomicfile import replace_files

    if bool(definition) == bool(inputs):
        raise click.UsageError("give one deck definition or -i PATH..., not both or neither")
    if definition:
        given = [
            name
            for name, value in {
                "--deck": deck,
                "--answers": answers,
                "--taxonomy": taxonomy,
                "--unsure-below": unsure_below,
            }.items()
            if value is not None
        ]
        if given:
            raise click.UsageError(f"{', '.join(given)}: only with -i PATH")
    plan = previews.plan_for_preview(
        definition,
        inputs,
        deck=deck,
        answers=answers,
        taxonomy=taxonomy,
        unsure_threshold=unsure_below,
        max_bytes=max_bytes,
    )
    previews.check_preview_output(plan, output)
    result = previews.preview_plan(plan)
    replace_files([(Path(output), result.html.encode("utf-8"))])
    _warn(result.warnings)
    click.echo(f"{output}: {result.notes} notes, {result.cards} cards")


@main.command(short_help="Show the topic tags a taxonomy gives the papers in PATHS.")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--taxonomy",
    metavar="FILE",
    help="Taxonomy YAML file (default: the one bundled with flashcards).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    metavar="N",
    help="Most topics per paper.",
)
@click.option("--papers", "per_paper", is_flag=True, help="Also list each paper's topics.")
@_report_errors
def topics(paths: tuple[str, ...], taxonomy: str | None, limit: int, per_paper: bool) -> None:
    """Show how a topic taxonomy tags the papers in PATHS (to tune your own taxonomy)."""
    from flashcards.topics import load_taxonomy, topic_report

    result = _read_paths(paths)
    _warn(result.warnings)
    report = topic_report(
        (p for d in result.digests for p in d.papers), load_taxonomy(taxonomy), limit=limit
    )
    if per_paper:
        for paper, slugs in report.assignments:
            click.echo(f"{' '.join(slugs)}\t{paper.title}")
    total = max(report.papers, 1)
    for slug, count in report.counts:
        label = report.taxonomy.label(slug)
        click.echo(f"{slug:24} {count:6} {count / total:6.1%}  {label}")
    fallback = report.fallback_only
    click.echo(
        f"{report.papers} papers; {fallback} ({fallback / total:.1%}) matched no topic "
        f"and are tagged '{report.taxonomy.fallback}'"
    )


@main.command(short_help="Write an answer key for a person to check (unsure ones as ?).")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o", "--output", required=True, metavar="KEY.yaml", help="Answer-key YAML file to write."
)
@click.option(
    "--answers",
    "answers_path",
    metavar="KEY.yaml",
    help="An existing key whose answers take precedence (default: the -o file, if it exists).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Ignore the answers already in the -o file and write every answer anew.",
)
@_UNSURE_BELOW
@click.option(
    "--guess-unsure",
    is_flag=True,
    help="Write unsure answers as their unchecked best guess (~B) instead of ?: remove the ~ "
    "once checked (until then cards still call them inferred and unsure).",
)
@_report_errors
def answers(
    paths: tuple[str, ...],
    output: str,
    answers_path: str | None,
    fresh: bool,
    unsure_below: float | None,
    guess_unsure: bool,
) -> None:
    """Write an answer key for the questions in PATHS, for a person to check and commit.

    If KEY.yaml exists, its letters are kept (they take precedence over inference, and entries
    for papers not in PATHS are carried over as they are), unless --fresh is given.
    """
    from flashcards.answers import (
        check_key_output,
        check_replaceable_key,
        count_answers,
        load_answer_key,
        resolve_answers,
        unmatched_entries,
        write_answer_key,
    )

    result = _read_paths(paths)
    _warn(result.warnings)
    check_key_output(output, result.digests)
    if answers_path is None and not fresh and Path(output).is_file():
        answers_path = output
    else:
        check_replaceable_key(output, read_from=answers_path)
    key = load_answer_key(answers_path) if answers_path else None
    digests = resolve_answers(
        list(result.digests), key, threshold=unsure_below, require_match=False
    )
    write_answer_key(digests, output, guess_unsure=guess_unsure, kept=key)
    counts = count_answers(digests)
    kept = len(unmatched_entries(key, digests)) if key else 0
    click.echo(
        f"wrote {output}: {counts.questions} answers ({counts.key} from the key, "
        f"{counts.marked} marked in the digests, {counts.inferred} inferred, "
        f"{counts.unsure} of them unsure, written as "
        f"{'~ and their best guess' if guess_unsure else '?'}: check those)"
        + (f"; kept {kept} entries of {answers_path} for papers not read" if kept else "")
    )


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@main.command(short_help="Download the new digests of decks/*.yaml's pull: sources, or ad hoc.")
@click.argument("definitions", nargs=-1)
@click.option(
    "--source",
    "source_name",
    metavar="NAME",
    help="daily-paper (quiz HTML pages) or daily-ai-papers (markdown tables); with -d, pull it "
    "ad hoc, else only the deck definitions' entries of this source.",
)
@click.option(
    "--url",
    "template",
    metavar="TEMPLATE",
    help="URL to use instead of the source's, with {date} or {yyyy}/{mm}/{dd} (a mirror).",
)
@click.option("-d", "--dir", "folder", metavar="DIR", help="Folder to pull into (ad hoc).")
@click.option(
    "--since",
    type=_DAY,
    metavar="YYYY-MM-DD",
    help="First day (default: the day after the newest digest in the folder, else the "
    "definition's since:, else today).",
)
@click.option("--until", type=_DAY, metavar="YYYY-MM-DD", help="Last day (default: today, UTC).")
@click.option(
    "--refresh",
    is_flag=True,
    help="Request days already present too (from the newest one on, or from --since), "
    "replacing files whose source changed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
@_QUIET
@_report_errors
def pull(
    definitions: tuple[str, ...],
    source_name: str | None,
    template: str | None,
    folder: str | None,
    since: Any,
    until: Any,
    refresh: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Download each day's digests into their folders: the pull: entries of every decks/*.yaml,
    of the DEFINITIONS given, or --source NAME -d DIR.

    A day whose file is already there is not requested again (unless --refresh); a day the
    source has no digest for is counted as "none that day". Exit code 1 when a day failed after
    retries (nothing is written for it; the next pulls try it again, for 30 days), 2 for a usage
    or configuration error, 130 or 143 when stopped by Ctrl-C or SIGTERM (what landed stays).
    """
    import dataclasses

    from flashcards import pull as puller
    from flashcards.deckdef import find_pull_targets
    from flashcards.progress import progress_bar
    from flashcards.sources import PullTarget, check_template, source_named

    if folder is not None:
        if definitions:
            raise click.UsageError("give deck definitions or --source NAME -d DIR, not both")
        if source_name is None:
            raise click.UsageError("-d DIR needs --source NAME (which source to pull)")
        source = source_named(source_name)
        targets = [PullTarget(source, check_template(template or source.url), Path(folder))]
    else:
        if template is not None and source_name is None:
            raise click.UsageError("--url needs --source NAME (whose URL it replaces)")
        targets = find_pull_targets(definitions)
        if source_name is not None:
            source_named(source_name)  # an unknown name is an error, not an empty pull
            targets = [t for t in targets if t.source.name == source_name]
            if not targets:
                raise click.UsageError(f"no deck definition pulls {source_name}")
        if template is not None:
            check_template(template)
            targets = [dataclasses.replace(t, template=template) for t in targets]

    # Like a build: SIGINT and SIGTERM end the pull with one line and 130 or 143, not exit code
    # 1 (which says "a day failed, try again later"), at once: the requests in flight are
    # dropped (a body is only written once whole), a file being renamed into place lands.
    with _ending_on_interrupt(
        "the days fetched so far are in place, no file is half-written; pull again to fetch "
        "the rest"
    ):
        report = puller.pull(
            targets,
            since=since.date() if since else None,
            until=until.date() if until else None,
            refresh=refresh,
            progress=progress_bar("pulling", unit="day", quiet=quiet or as_json),
        )

    for target in report.targets:
        if not quiet:
            _warn(target.warnings)
        for day in target.days:
            if day.status == "failed":
                click.echo(f"error: {day.file}: {day.url}: {day.error}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif not quiet:
        for target in report.targets:
            click.echo(_pull_summary(target, refresh=refresh))
    if report.failed:
        sys.exit(1)


def _pull_summary(report: TargetReport, *, refresh: bool = False) -> str:
    """One line: source → folder (range): what happened to its days. With `refresh`, the days
    asked again say whether they changed ("updated", "unchanged"); "already present" is only
    for days not asked (or kept when the source no longer has them)."""
    where = f"{report.target.source.name} → {report.target.folder}"
    if not report.days:
        return f"{where}: nothing to pull (up to date until {report.last.isoformat()})"
    counts = [f"fetched {report.count('fetched')}"]
    for status in ("updated", "unchanged"):
        if refresh or report.count(status):
            counts.append(f"{status} {report.count(status)}")
    counts.append(f"already present {report.count('present')}")
    counts.append(f"none that day {report.count('none')}")
    failed = report.failed_days
    counts.append(
        f"failed {len(failed)}"
        + (f" ({', '.join(d.isoformat() for d in failed)})" if failed else "")
    )
    span = f"{report.first.isoformat()} to {report.last.isoformat()}"
    return f"{where} ({span}): {', '.join(counts)}"
