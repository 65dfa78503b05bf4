"""The incremental build: when the inputs are the last build's plus added files, only the added
files' papers are parsed and made anew, spliced into the last build's notes of every other paper
(what the cache keeps for this: `flashcards.incremental`).
"""

from __future__ import annotations

from collections.abc import Sequence

from flashcards import incremental
from flashcards.anki.notes import NoteGroup
from flashcards.anki.state import DeckState, flag_changed_answers
from flashcards.answers import AnswerKey
from flashcards.buildcache import BuildCache
from flashcards.buildnotes import BuildNotes, make_notes, ordered_groups
from flashcards.errors import ParseError
from flashcards.gcpause import collection_paused
from flashcards.model import Digest
from flashcards.parse import ParseResult, parse_files, parse_paths
from flashcards.plan import BuildPlan
from flashcards.timing import phase
from flashcards.topics import Taxonomy


class _NotSpliced(Exception):
    """The inputs are not what the splice found a moment ago: build in full."""


def read_spliced(
    plan: BuildPlan,
    cache: BuildCache,
    last: incremental.LastBuild,
    files: Sequence[tuple[str, str]],
) -> tuple[ParseResult, frozenset[str], dict[str, list[incremental.DigestEntry]]] | None:
    """When `files` are the last build's plus added ones: the digests of the inputs (those of
    files holding no paper of an added file without their papers, `DigestEntry.stub`), the
    keys of the added files' papers, and every file's digests as `BuildNotes.index`. Else None.
    A broken added file raises its ParseError as a full build would."""
    known = set(last.files)
    if [f for f in files if f in known] != list(last.files):
        return None  # a file removed, changed or moved: build in full
    shas = dict(files)
    added = [path for path, sha in files if (path, sha) not in known]
    found_in_added = parse_files(added, max_bytes=plan.max_bytes, cache=cache)
    outcomes = dict(zip(added, found_in_added, strict=True))
    affected = frozenset(
        paper.key
        for found in outcomes.values()
        if not isinstance(found, ParseError)
        for digest in found
        for paper in digest.papers
    )
    index: dict[str, list[incremental.DigestEntry]] = {}

    def parsed_now(path: str) -> list[Digest]:
        # Through the cache, which notes whether the bytes parsed are those hashed before.
        (outcome,) = parse_files([path], max_bytes=plan.max_bytes, cache=cache)
        if isinstance(outcome, ParseError):
            raise outcome
        return outcome

    def read(path: str) -> list[Digest]:
        if path not in shas:
            raise _NotSpliced  # appeared since the inputs were hashed
        outcome = outcomes.get(path)
        entries = last.digests.get(path)
        if outcome is not None:
            if isinstance(outcome, ParseError):
                raise outcome
            found = outcome
        elif entries is None:  # gave no digest last time (not a digest): as a full build would
            found = parsed_now(path)
        elif not any(k in affected for entry in entries for k in entry.keys):
            index[path] = list(entries)
            return [entry.stub() for entry in entries]
        else:  # holds a paper of an added file: read in full
            found = cache.parsed(path, shas[path]) or parsed_now(path)
            if incremental.digest_entries(found) != list(entries):
                raise _NotSpliced
        index[path] = incremental.digest_entries(found)
        return found

    try:
        parsed = parse_paths(plan.inputs, max_bytes=plan.max_bytes, read=read)
    except _NotSpliced:
        return None
    return parsed, affected, index


def spliced_notes(
    plan: BuildPlan,
    parsed: ParseResult,
    affected: frozenset[str],
    index: dict[str, list[incremental.DigestEntry]],
    last: incremental.LastBuild,
    key: AnswerKey | None,
    taxonomy: Taxonomy,
    namespace: str,
    previous: DeckState,
    cache: BuildCache,
) -> BuildNotes | None:
    """The notes of the papers in `affected` made anew, spliced into the last build's notes of
    every other paper; None when those cannot be used (missing, damaged, or not what the state
    records)."""
    _, fresh = make_notes(
        plan, parsed.digests, key, taxonomy, namespace, previous, cache, only=affected
    )
    # Every other paper's notes read back: many objects, no cycle.
    with collection_paused():
        return _splice(plan, parsed, affected, index, last, previous, cache, fresh)


def _splice(
    plan: BuildPlan,
    parsed: ParseResult,
    affected: frozenset[str],
    index: dict[str, list[incremental.DigestEntry]],
    last: incremental.LastBuild,
    previous: DeckState,
    cache: BuildCache,
    fresh: list[NoteGroup],
) -> BuildNotes | None:
    """`spliced_notes` once the notes of the papers in `affected` are made (`fresh`)."""
    with phase("notes"):
        old_keys = last.keys
        groups = {group.key: group for group in fresh}
        stored = set()
        try:
            for paper_key, text in cache.note_groups():
                stored.add(paper_key)
                if paper_key not in affected:
                    groups[paper_key] = incremental.group_from_text(
                        paper_key,
                        text,
                        deck=plan.name,
                        subdecks=plan.subdecks,
                        state=previous.notes,
                    )
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return None
        if stored != old_keys:  # the notes of another build, or some missing
            return None
        ordered = ordered_groups(groups.values())
        if ordered is None:
            return None
        reused = {s.guid for g in ordered if g.key not in affected for s in g.specs}
        specs = [spec for group in ordered for spec in group.specs]
    with phase("state"):
        specs = flag_changed_answers(specs, previous)
        # A reused note is trusted only as the content the state records for it: the state is
        # committed, the cache may have been written by anyone.
        if len({spec.guid for spec in specs}) != len(specs):
            return None
        for spec in specs:
            if spec.guid in reused:
                before = previous.notes.get(spec.guid)
                if before is None or before.hash != spec.content_hash:
                    return None
    return BuildNotes(
        specs=specs,
        days=frozenset(d.date for d in parsed.digests),
        papers=len(old_keys | affected),
        warnings=parsed.warnings,
        groups=fresh,
        index=index,
        spliced=True,
    )
