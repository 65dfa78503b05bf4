"""Build a deck: digests → parse → answers → topics → notes → state → package.

Two ways in: a deck definition (`decks/*.yaml`, see `flashcards.deckdef`) or ad-hoc inputs
(`flashcards build -i PATH -o OUT.apkg`). Both become a `BuildPlan` (`flashcards.plan`). Everything
is computed in memory first; the package and the state file are then replaced together or not at
all, and a file whose bytes would not change is not rewritten.

Here: the build's order of steps (`prepare`), the reuse of the last build when nothing changed
(`_reuse`), and the writing (`commit`). The notes step is `flashcards.buildnotes`; the splice of
added files into the last build's notes, `flashcards.splice`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashcards import incremental
from flashcards.anki.export import build_package
from flashcards.anki.notes import UNSURE_TAG, NoteSpec, sort_notes
from flashcards.anki.state import DeckState, StampedNote, load_state, stamp_notes, state_bytes
from flashcards.answers import AnswerKey, load_answer_key
from flashcards.atomicfile import directories_locked, replace_files
from flashcards.buildcache import BuildCache, fingerprint, sha256_file
from flashcards.buildnotes import full_notes, make_notes
from flashcards.deckdef import check_beside, find_deck_definitions, load_deck_definitions
from flashcards.description import describe
from flashcards.errors import ConfigError
from flashcards.model import Digest
from flashcards.parse import DEFAULT_MAX_BYTES, ParseResult, Progress, digest_jobs, parse_paths
from flashcards.plan import (
    DEFAULT_DECKS_DIR,
    BuildPlan,
    check_paths,
    check_plan,
    plan_for_definition,
    plan_namespace,
    written_paths,
)
from flashcards.pull import failed_pull_warnings
from flashcards.splice import read_spliced, spliced_notes
from flashcards.timing import phase
from flashcards.topics import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class BuildReport:
    deck: str
    output: Path
    state: Path
    notes: int
    cards: int
    new: int
    changed: int
    unchanged: int
    written: bool  # False when the package on disk already had exactly these bytes
    warnings: tuple[str, ...] = ()
    bytes: int = 0  # size of the package
    unsure: int = 0  # questions whose inferred answer is not confident
    delta: Path | None = None
    delta_notes: int = 0
    delta_cards: int = 0


@dataclass(frozen=True)
class PreparedDeck:
    """A deck built in memory, nothing written: what a build writes and what a check inspects."""

    plan: BuildPlan
    digests: tuple[Digest, ...]  # answers resolved; () unless `prepare(keep_digests=True)`
    taxonomy: Taxonomy
    notes: tuple[StampedNote, ...]
    files: tuple[tuple[Path, bytes], ...]  # state first, then the package (and the delta)
    report: BuildReport  # `written` still unknown
    # The cache to update once the files are written, and the record of this build for it.
    cache: tuple[BuildCache, dict[str, Any]] | None = None


def build(
    plan: BuildPlan, *, now: int | None = None, progress: Progress | None = None
) -> BuildReport:
    """Build `plan`'s package and update its state; `now` (epoch seconds) is for tests."""
    check_paths([plan])
    with directories_locked(written_paths([plan])):
        now = int(time.time()) if now is None else now
        report = commit([prepare(plan, now, progress=progress)])[0]
    return _with_failed_pulls(report, [path for path in plan.inputs if path.is_dir()])


def _with_failed_pulls(report: BuildReport, folders: Iterable[Path]) -> BuildReport:
    """`report` with a warning for each day whose pull into `folders` failed, as `flashcards
    check` gives (`missing-day`). Added after the build, never cached: a pull changes them."""
    warnings = failed_pull_warnings(folders)
    if not warnings:
        return report
    return dataclasses.replace(report, warnings=(*report.warnings, *warnings))


def commit(prepared: Sequence[PreparedDeck]) -> list[BuildReport]:
    """Write every prepared deck's files together: all of them, or (on any error) none."""
    with phase("write"):
        try:
            written = replace_files([file for deck in prepared for file in deck.files])
        except BaseException:
            _discard(prepared)
            raise
        for deck in prepared:
            if deck.cache is not None:
                deck.cache[0].save(deck.cache[1])
    return [
        dataclasses.replace(deck.report, written=deck.report.output in written) for deck in prepared
    ]


def _discard(prepared: Iterable[PreparedDeck]) -> None:
    """Keep nothing of these builds in their caches (they are not written)."""
    for deck in prepared:
        if deck.cache is not None:
            deck.cache[0].discard()


def read_inputs(
    plan: BuildPlan,
    *,
    collect_errors: bool = False,
    progress: Progress | None = None,
    cache: BuildCache | None = None,
    files: list[tuple[str, str]] | None = None,
) -> ParseResult:
    """The plan's digests (see `parse_paths` for `collect_errors` and `progress`); files whose
    bytes `cache` has seen are not parsed again, and many new files are parsed on every core.
    `files` (`_hashed_inputs`) spares reading the files to ask `cache` for them."""
    with phase("parse"):
        return parse_paths(
            plan.inputs,
            max_bytes=plan.max_bytes,
            collect_errors=collect_errors,
            progress=progress,
            cache=cache,
            hashes=dict(files) if files is not None else None,
        )


def _hashed_inputs(plan: BuildPlan) -> list[tuple[str, str]] | None:
    """Every input file of `plan` (path, sha256 of its bytes) in reading order; None when one
    cannot be read (the build then says what is wrong) or is stdin."""
    files: list[tuple[str, str]] = []
    for path, _ in digest_jobs(plan.inputs):
        sha = sha256_file(Path(path), plan.max_bytes) if path != "-" else None
        if sha is None:
            return None
        files.append((path, sha))
    return files


def _config_hashes(plan: BuildPlan) -> tuple[str | None, str | None]:
    """The sha256 of the plan's answer key and taxonomy files (None: none, or unreadable)."""
    return sha256_file(plan.answers), sha256_file(plan.taxonomy)


def _fingerprint(plan: BuildPlan, files: list[tuple[str, str]] | None) -> str | None:
    """A hash of every input of `plan` but its state (`files`: `_hashed_inputs`)."""
    if files is None:
        return None
    return fingerprint(
        {
            "plan": repr(plan),
            "files": files,
            "answers": sha256_file(plan.answers),
            "taxonomy": sha256_file(plan.taxonomy),
        }
    )


def _context(plan: BuildPlan) -> str:
    """A hash of everything but the input files (and the state) that a note depends on: the
    deck's settings, answer key and taxonomy, and the code version. The inputs, and the origin
    the description names, are the files themselves."""
    return fingerprint(
        {
            "plan": repr(dataclasses.replace(plan, inputs=(), origin=None)),
            "answers": sha256_file(plan.answers),
            "taxonomy": sha256_file(plan.taxonomy),
        }
    )


def _reuse(plan: BuildPlan, cache: BuildCache, print_: str | None) -> PreparedDeck | None:
    """The last build again, without computing it, when its inputs, state and package are
    exactly those on disk now: stamping the same notes against the state they wrote changes
    nothing, so a build would write the same bytes."""
    last = cache.last_build
    if (
        print_ is None
        or plan.delta is not None  # a delta package would now be empty: build it
        or last.get("fingerprint") != print_
        or last.get("state") != sha256_file(plan.state)
        or last.get("output") != sha256_file(plan.output)
    ):
        return None
    try:
        saved = last["report"]
        notes, cards, unsure, size = (int(saved[k]) for k in ("notes", "cards", "unsure", "bytes"))
        warnings = tuple(str(w) for w in saved["warnings"])
    except (KeyError, TypeError, ValueError):
        return None
    report = BuildReport(
        deck=plan.name,
        output=plan.output,
        state=plan.state,
        notes=notes,
        cards=cards,
        new=0,
        changed=0,
        unchanged=notes,
        written=False,
        warnings=warnings,
        bytes=size,
        unsure=unsure,
    )
    return PreparedDeck(plan, (), load_taxonomy(plan.taxonomy), (), (), report)


def plan_notes(
    plan: BuildPlan, state: DeckState | None = None
) -> tuple[list[NoteSpec], tuple[str, ...]]:
    """The notes `plan` builds (parsed, answered, tagged; no file read but its inputs, answer
    key and taxonomy) and the parsers' warnings. `state` gives the deck's identity namespace and
    default fields; without it (no state is read) they are those of a first build (or of the
    pinned identity)."""
    parsed = read_inputs(plan)
    key = load_answer_key(plan.answers) if plan.answers is not None else None
    state = DeckState() if state is None else state
    namespace = plan_namespace(plan, state)
    _, groups = make_notes(
        plan, parsed.digests, key, load_taxonomy(plan.taxonomy), namespace, state
    )
    return sort_notes(groups), tuple(parsed.warnings)


def prepare(
    plan: BuildPlan,
    now: int,
    *,
    parsed: ParseResult | None = None,
    key: AnswerKey | None = None,
    taxonomy: Taxonomy | None = None,
    state: DeckState | None = None,
    progress: Progress | None = None,
    keep_digests: bool = False,
) -> PreparedDeck:
    """Everything a build does except writing: parse, answers, topics, notes, state, package.

    `parsed`, `key`, `taxonomy` and `state` may be given when the caller has read them already
    (a check reads them one by one to report every bad file); otherwise they are read from the
    plan. The digests are dropped once the notes are made (a large archive's text would stay in
    memory through the export), unless `keep_digests`.

    With a cache whose last build's inputs were these minus some added files, in the same
    context, only the added files' papers are made anew (`flashcards.incremental`).
    """
    caches: list[BuildCache] = []
    try:
        return _prepare(
            plan,
            now,
            caches,
            parsed=parsed,
            key=key,
            taxonomy=taxonomy,
            state=state,
            progress=progress,
            keep_digests=keep_digests,
        )
    except BaseException:
        for cache in caches:
            cache.discard()  # the new cache file this build was writing, if any, is removed
        raise


def _prepare(
    plan: BuildPlan,
    now: int,
    caches: list[BuildCache],
    *,
    parsed: ParseResult | None,
    key: AnswerKey | None,
    taxonomy: Taxonomy | None,
    state: DeckState | None,
    progress: Progress | None,
    keep_digests: bool,
) -> PreparedDeck:
    """`prepare`, which keeps in `caches` the cache it opens (to discard it if this fails)."""
    check_plan(plan)
    cache: BuildCache | None = None
    print_: str | None = None
    files: list[tuple[str, str]] | None = None
    hashed_config: tuple[str | None, str | None] = (None, None)
    context = ""
    last: incremental.LastBuild | None = None
    if plan.cache is not None and parsed is None and state is None:
        with phase("cache"):
            cache = BuildCache.load(plan.cache)
            caches.append(cache)
            files = _hashed_inputs(plan)
            cache.hashed = dict(files or ())
            hashed_config = _config_hashes(plan)
            print_ = _fingerprint(plan, files)
            reused = _reuse(plan, cache, print_)
            if reused is not None:
                return reused
            cache.load_digests()
            cache.context = sha256_file(plan.taxonomy) or ""
            context = _context(plan)
            if files is not None and not keep_digests:
                last = incremental.last_build(cache, context, sha256_file(plan.state))
    splice = None
    if cache is not None and last is not None and files is not None:
        with phase("parse"):
            splice = read_spliced(plan, cache, last, files)
    if parsed is None and splice is None:
        parsed = read_inputs(plan, progress=progress, cache=cache, files=files)
    if key is None and plan.answers is not None:
        key = load_answer_key(plan.answers)
    if taxonomy is None:
        with phase("topics"):
            taxonomy = load_taxonomy(plan.taxonomy)
    previous = load_state(plan.state) if state is None else state
    namespace = plan_namespace(plan, previous)
    notes = None
    if splice is not None and cache is not None and last is not None:
        notes = spliced_notes(plan, *splice, last, key, taxonomy, namespace, previous, cache)
    del splice
    kept: tuple[Digest, ...] = ()
    if notes is None:
        if parsed is None:  # the splice failed: read every input after all
            parsed = read_inputs(plan, progress=progress, cache=cache, files=files)
        notes, digests = full_notes(plan, parsed, key, taxonomy, namespace, previous, cache, files)
        kept = tuple(digests) if keep_digests else ()
        del digests
    del parsed  # `build` holds no other reference: the parsed text is freed here
    if cache is not None and notes.spliced:  # `make_notes` kept the notes it made; the rest stay
        cache.remember_notes((), spliced=True)
    specs = notes.specs
    warnings = list(notes.warnings) + list(previous.warnings)
    cards = sum(spec.cards for spec in specs)
    description = describe(
        notes.days, notes.papers, notes=len(specs), cards=cards, origin=plan.origin
    )

    with phase("state"):
        stamped, new_state = stamp_notes(specs, previous, now, namespace=namespace, ids=notes.ids)
        state_data = state_bytes(new_state)
    del specs, new_state  # held by `stamped` and written as `state_data`
    state_sha = hashlib.sha256(state_data).hexdigest() if cache is not None else ""
    if cache is not None:
        if files is not None and notes.groups is not None:
            with phase("cache"):
                manifest = incremental.manifest_data(state_sha, context, files, notes.index)
                cache.remember_manifest(manifest)
        cache.finish_entries()  # a new file goes to disk while the package is made
    chunks = cache.chunks() if cache is not None else None  # deflated pieces of the last build
    package = build_package(stamped, description=description, chunks=chunks)  # "export", "zip"
    # The state goes first: if only it landed, the next build still stamps the same times.
    files_out = [(plan.state, state_data), (plan.output, package.data)]
    delta = None
    if plan.delta is not None:
        fresh = {s.spec.guid for s in stamped if s.status != "unchanged"}
        delta = build_package(stamped, description=description, only=fresh)
        files_out.append((plan.delta, delta.data))

    if not stamped:
        warnings.append(f"{plan.output}: the deck has no notes (no papers in its inputs)")
    report = BuildReport(
        deck=plan.name,
        output=plan.output,
        state=plan.state,
        notes=package.notes,
        cards=package.cards,
        new=sum(s.status == "new" for s in stamped),
        changed=sum(s.status == "changed" for s in stamped),
        unchanged=sum(s.status == "unchanged" for s in stamped),
        written=False,
        warnings=tuple(warnings),
        bytes=len(package.data),
        unsure=sum(UNSURE_TAG in s.spec.tags for s in stamped),
        delta=plan.delta,
        delta_notes=delta.notes if delta is not None else 0,
        delta_cards=delta.cards if delta is not None else 0,
    )
    record = None
    if cache is not None and (cache.changed_while_read or _config_hashes(plan) != hashed_config):
        # An input changed while this build read it: the deck is made from what was read, but
        # the cache would record it under the bytes hashed before (a later build of those
        # bytes would reuse this deck). Keep nothing; the next build rebuilds what it needs.
        cache.discard()
        cache = None
    if cache is not None:
        record = {
            "fingerprint": print_,
            "state": state_sha,
            "output": hashlib.sha256(package.data).hexdigest(),
            "report": {
                "notes": report.notes,
                "cards": report.cards,
                "unsure": report.unsure,
                "bytes": report.bytes,
                "warnings": list(report.warnings),
            },
        }
    return PreparedDeck(
        plan,
        kept,
        taxonomy,
        tuple(stamped),
        tuple(files_out),
        report,
        (cache, record) if cache is not None and record is not None else None,
    )


def build_definitions(
    paths: Sequence[str | Path],
    *,
    now: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    cache: bool = True,
) -> list[BuildReport]:
    """Build several deck definitions, all or nothing: every deck is built in memory before any
    file is written, so a broken input of one deck leaves every deck and state as it was.
    `cache=False` ignores the definitions' build caches."""
    definitions = load_deck_definitions([Path(p) for p in paths])
    check_beside(definitions)  # a deck built alone must not write another deck's files
    plans = [
        dataclasses.replace(
            plan_for_definition(d), max_bytes=max_bytes, cache=d.cache if cache else None
        )
        for d in definitions
    ]
    check_paths(plans)
    with directories_locked(written_paths(plans)):
        now = int(time.time()) if now is None else now
        prepared: list[PreparedDeck] = []
        try:
            for plan in plans:
                prepared.append(prepare(plan, now, progress=progress))
        except BaseException:
            _discard(prepared)
            raise
        reports = commit(prepared)
    return [
        _with_failed_pulls(report, [target.folder for target in definition.pull])
        for report, definition in zip(reports, definitions, strict=True)
    ]


def build_all(
    directory: str | Path = DEFAULT_DECKS_DIR,
    *,
    now: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    cache: bool = True,
) -> list[BuildReport]:
    """Build every `*.yaml` deck definition in `directory`."""
    paths = find_deck_definitions(directory)
    if not paths:
        raise ConfigError(
            "no deck definitions (*.yaml) here; give one, or build ad hoc with -i PATH -o OUT.apkg",
            directory,
        )
    return build_definitions(paths, now=now, max_bytes=max_bytes, progress=progress, cache=cache)
