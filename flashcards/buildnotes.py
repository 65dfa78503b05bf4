"""A build's notes step: every paper's answers resolved, merged across digests, tagged with its
topics and made into notes, many papers in worker processes (`flashcards.workers`), paper by paper
kept in the build cache for the next build's splice (`flashcards.splice`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flashcards import identity, incremental
from flashcards.anki.notes import (
    NoteGroup,
    NoteOptions,
    NoteSpec,
    Occurrence,
    merge_paper,
    paper_notes,
    paper_occurrences,
    sort_notes,
)
from flashcards.anki.state import DeckState, flag_changed_answers
from flashcards.answers import AnswerKey, resolve_answers
from flashcards.buildcache import BuildCache, topics_from_entry
from flashcards.model import Digest
from flashcards.parse import ParseResult
from flashcards.plan import BuildPlan
from flashcards.timing import phase
from flashcards.topics import Taxonomy, assign_parts, topic_parts
from flashcards.workers import fork_iter

#: Fewer papers than this make their notes in this process: starting workers would cost more
#: than they save (a paper takes about a millisecond).
PARALLEL_MIN_PAPERS = 200

#: Fields of a paper's notes left out by a worker process, as each note's number and its
#: fields' places, each with the number of the text it is (`_left_out`).
_LeftOut = tuple[tuple[int, tuple[tuple[int, int], ...]], ...]

#: What a paper gives `make_notes`: its notes; with a cache, the key of its topics there, its
#: topics when they were computed rather than found there, and its notes' cache text
#: (`incremental.group_text`, kept in the cache as it comes: all of them would take memory);
#: from a worker process, the fields it left out of the notes (`_left_out`); when asked for,
#: the preferred id of each note new to the state (0 for the others).
_PaperNotes = tuple[
    NoteGroup, str | None, tuple[str, ...] | None, str | None, _LeftOut, tuple[int, ...]
]


def make_notes(
    plan: BuildPlan,
    digests: Sequence[Digest],
    key: AnswerKey | None,
    taxonomy: Taxonomy,
    namespace: str,
    previous: DeckState,
    cache: BuildCache | None = None,
    only: frozenset[str] | None = None,
    ids: dict[str, int] | None = None,
) -> tuple[list[Digest], list[NoteGroup]]:
    """The digests with their answers resolved, and the notes they make (GUIDs in `namespace`,
    the summary fields of the plan or else the default `previous` records), paper by paper,
    which `cache` keeps (`BuildCache.remember_notes`); a paper `cache` has seen with the same
    inputs is not resolved or tagged again. With `only`, just the papers whose
    key is in it are resolved and make notes (every digest holding one of them must be among
    `digests`). Many papers are merged, tagged and make their notes in worker processes, in
    one pass that gives exactly what this process would. `ids`, if given, is filled in with
    the preferred id of each note that `previous` lacks (`identity.note_id_candidate`, which
    `stamp_notes` would compute one by one after the pass)."""
    with phase("answers"):
        memo = cache.resolved_paper if cache is not None else None
        if only is None:
            resolved = resolve_answers(
                list(digests), key, threshold=plan.unsure_threshold, memo=memo
            )
        else:
            resolved = _resolve_only(digests, only, key, plan.unsure_threshold, memo)

    with phase("notes"):
        papers = paper_occurrences(resolved, only)
    # Many papers: every topic the cache has is read first, for the workers to look up theirs
    # in (a paper's key is known once it is merged); a few are looked up one by one.
    known = None
    if cache is not None and len(papers) >= PARALLEL_MIN_PAPERS:
        with phase("topics"):
            known = cache.known_topics()
    slugs = frozenset((taxonomy.fallback, *(topic.slug for topic in taxonomy.topics)))
    options = NoteOptions.of(
        deck=plan.name,
        kinds=plan.cards,
        subdecks=plan.subdecks,
        extra_tags=plan.tags,
        namespace=namespace,
        shuffle=plan.shuffle,
        fields=plan.fields if plan.fields is not None else previous.default_fields,
    )

    here = os.getpid()

    def make(number: int) -> _PaperNotes:
        group = merge_paper(*papers[number])
        parts = topic_parts(group.paper)
        topics = topic_key = None
        if cache is not None:
            topic_key = cache.topic_key(parts)
            entry = cache.topic_entry(topic_key) if known is None else known.get(topic_key)
            topics = topics_from_entry(entry, slugs)
        computed = None
        if topics is None:
            topics = computed = assign_parts(parts, taxonomy)
        notes = paper_notes(group, topics, options)
        text = None
        if cache is not None:  # also fills in each note's content_hash
            text = incremental.group_text(notes)
        else:
            for spec in notes.specs:  # computed where the note is made, not after
                spec.content_hash  # noqa: B018 (a cached property, filled in)
        left_out = _left_out(notes, papers[number][1]) if os.getpid() != here else ()
        preferred: tuple[int, ...] = ()
        if ids is not None:
            preferred = tuple(
                0 if s.guid in previous.notes else identity.note_id_candidate(s.guid, s.first_date)
                for s in notes.specs
            )
        return notes, topic_key, computed, text, left_out, preferred

    groups = []
    kept = set()
    with phase("notes"):
        for number, (notes, topic_key, computed, text, left_out, preferred) in enumerate(
            fork_iter(make, range(len(papers)), minimum=PARALLEL_MIN_PAPERS)
        ):
            groups.append(_put_back(notes, papers[number][1], left_out))
            if ids is not None:
                ids.update((s.guid, i) for s, i in zip(notes.specs, preferred, strict=True) if i)
            if cache is not None and text is not None:
                cache.remember_notes([(notes.key, text)], spliced=False)
            if cache is not None and topic_key is not None and topic_key not in kept:
                kept.add(topic_key)
                cache.keep_topics(topic_key, computed)
    return resolved, groups


def _paper_texts(found: Sequence[Occurrence]) -> list[str]:
    """The texts of a paper's digests that its notes' fields may be (unescaped): its fields,
    title, prompts and options where it is found, in order."""
    texts: list[str] = []
    for *_, paper in found:
        texts.extend(paper.fields.values())
        texts.append(paper.title)
        for question in paper.questions:
            texts.append(question.prompt)
            texts.extend(question.options)
    return texts


def _left_out(notes: NoteGroup, found: Sequence[Occurrence]) -> _LeftOut:
    """In a worker process: the fields of `notes` that are texts of the paper's digests (the
    very strings: a field without markup is its text), each replaced by "", by place and the
    number of the text (in `_paper_texts`). The notes then cross to the parent process without
    them, which puts its own copies back (`_put_back`): with the digests still held there, a
    large archive would otherwise hold its summaries twice at the build's peak. Their content
    hashes are computed already."""
    numbers: dict[int, int] = {}
    for number, text in enumerate(_paper_texts(found)):
        numbers.setdefault(id(text), number)
    left_out = []
    for index, spec in enumerate(notes.specs):
        # By identity: an id in `numbers` is that of a text alive here, so the field is it.
        places = tuple((i, numbers[id(f)]) for i, f in enumerate(spec.fields) if id(f) in numbers)
        if places:
            fields = list(spec.fields)
            for i, _ in places:
                fields[i] = ""
            object.__setattr__(spec, "fields", tuple(fields))
            left_out.append((index, places))
    return tuple(left_out)


def _put_back(notes: NoteGroup, found: Sequence[Occurrence], left_out: _LeftOut) -> NoteGroup:
    """`notes` from a worker with the fields it left out (`_left_out`) put back: this
    process's own texts of the paper (the forked worker's `_paper_texts` were copies of them,
    in the same order)."""
    if left_out:
        texts = _paper_texts(found)
        for index, places in left_out:
            spec = notes.specs[index]
            fields = list(spec.fields)
            for i, number in places:
                fields[i] = texts[number]
            object.__setattr__(spec, "fields", tuple(fields))
    return notes


def _resolve_only(
    digests: Sequence[Digest],
    only: frozenset[str],
    key: AnswerKey | None,
    threshold: float | None,
    memo: Any,
) -> list[Digest]:
    """`digests` with the answers of the papers whose key is in `only` resolved, as
    `resolve_answers` of all of them would (it works paper key by paper key: the key's letters,
    answers shared between digests and the first occurrence the key is checked against all go
    by paper key); the other papers are left as they are."""
    subset = [d.with_papers(tuple(p for p in d.papers if p.key in only)) for d in digests]
    # Every key entry matched a paper last time, and no paper is gone: unmatched is no error.
    answered = iter(
        resolve_answers(
            [d for d in subset if d.papers],
            key,
            threshold=threshold,
            require_match=False,
            memo=memo,
        )
    )
    out = []
    for digest, part in zip(digests, subset, strict=True):
        if not part.papers:
            out.append(digest)
            continue
        papers = iter(next(answered).papers)
        out.append(
            digest.with_papers(tuple(next(papers) if p.key in only else p for p in digest.papers))
        )
    return out


@dataclass(frozen=True)
class BuildNotes:
    """A build's notes before they are stamped, and what the deck description and the next
    build need of its inputs."""

    specs: list[NoteSpec]  # in new-card order, answer changes flagged
    days: frozenset[date]  # of every digest read
    papers: int  # different papers read
    warnings: tuple[str, ...]  # the parsers'
    # For the next build to splice into: the notes of the papers made here (None: it cannot,
    # as two papers share an order), every input file's digests without their text, and
    # whether the other papers' notes are the last build's (kept in the cache as they are).
    groups: list[NoteGroup] | None
    index: dict[str, list[incremental.DigestEntry]]
    spliced: bool = False
    ids: Mapping[str, int] = dataclasses.field(default_factory=dict)  # `make_notes`' `ids`


def ordered_groups(groups: Iterable[NoteGroup]) -> list[NoteGroup] | None:
    """`groups` in new-card order, or None when two share an order (`sort_notes` would then
    interleave their notes, which a splice of whole groups cannot)."""
    ordered = sorted(groups, key=lambda g: g.order)
    if any(a.order == b.order for a, b in itertools.pairwise(ordered)):
        return None
    return ordered


def _index(
    files: Sequence[tuple[str, str]] | None, digests: Iterable[Digest]
) -> dict[str, list[incremental.DigestEntry]]:
    """The digests of each input file (by its path in `files`), without their text."""
    by_source: dict[str, list[Digest]] = {}
    for digest in digests:
        by_source.setdefault(digest.source, []).append(digest)
    index = {}
    for path, _ in files or ():
        # A digest's source is the path it was parsed from, as given or (parse_file) as a Path.
        found = by_source.get(path) or by_source.get(str(Path(path)))
        if found is not None:
            index[path] = incremental.digest_entries(found)
    return index


def full_notes(
    plan: BuildPlan,
    parsed: ParseResult,
    key: AnswerKey | None,
    taxonomy: Taxonomy,
    namespace: str,
    previous: DeckState,
    cache: BuildCache | None,
    files: Sequence[tuple[str, str]] | None,
) -> tuple[BuildNotes, list[Digest]]:
    """Every paper's notes made from `parsed`, and the resolved digests."""
    ids: dict[str, int] = {}
    digests, groups = make_notes(
        plan, parsed.digests, key, taxonomy, namespace, previous, cache, ids=ids
    )
    specs = sort_notes(groups)
    with phase("state"):
        specs = flag_changed_answers(specs, previous)
    notes = BuildNotes(
        specs=specs,
        days=frozenset(d.date for d in digests),
        papers=len({p.key for d in digests for p in d.papers}),
        warnings=parsed.warnings,
        groups=ordered_groups(groups) if cache is not None else None,
        index=_index(files, digests) if cache is not None else {},
        ids=ids,
    )
    return notes, digests
