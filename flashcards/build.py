"""Build a deck: digests → parse → answers → topics → notes → state → package.

Two ways in: a deck definition (`decks/*.yaml`, see `flashcards.deckdef`) or ad-hoc inputs
(`flashcards build -i PATH -o OUT.apkg`). Both become a `BuildPlan`. Everything is computed in
memory first; the package and the state file are then replaced together or not at all, and a
file whose bytes would not change is not rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flashcards import identity, incremental
from flashcards.anki.export import build_package
from flashcards.anki.notes import (
    CARD_KINDS,
    UNSURE_TAG,
    NoteGroup,
    NoteOptions,
    NoteSpec,
    Occurrence,
    merge_paper,
    paper_notes,
    paper_occurrences,
    sort_notes,
)
from flashcards.anki.state import (
    DeckState,
    StampedNote,
    flag_changed_answers,
    load_state,
    stamp_notes,
    state_bytes,
)
from flashcards.answers import AnswerKey, load_answer_key, resolve_answers
from flashcards.atomicfile import directories_locked, replace_files
from flashcards.buildcache import (
    BuildCache,
    default_cache_path,
    fingerprint,
    sha256_file,
    topics_from_entry,
)
from flashcards.deckdef import (
    DeckDefinition,
    check_beside,
    find_deck_definitions,
    is_valid_deck_name,
    load_deck_definitions,
)
from flashcards.description import describe
from flashcards.errors import BuildError, ConfigError, ParseError
from flashcards.model import Digest
from flashcards.parse import (
    DEFAULT_MAX_BYTES,
    ParseResult,
    Progress,
    digest_jobs,
    find_digest_files,
    parse_file,
    parse_files,
    parse_paths,
)
from flashcards.timing import phase
from flashcards.topics import Taxonomy, assign_parts, load_taxonomy, topic_parts
from flashcards.workers import fork_iter

DEFAULT_DECK_NAME = "AI Papers"
DEFAULT_DECKS_DIR = Path("decks")


@dataclass(frozen=True)
class BuildPlan:
    name: str  # Anki deck name
    inputs: tuple[Path, ...]  # digest files or directories
    output: Path
    state: Path
    cards: tuple[str, ...] = CARD_KINDS
    subdecks: str | None = None  # None, "month" or "date"
    tags: tuple[str, ...] = ()
    answers: Path | None = None
    taxonomy: Path | None = None
    unsure_threshold: float | None = None
    shuffle: bool = True  # options in a fixed per-note order rather than the digest's
    #: Summary fields that become cards; None: the deck's default, which its state records (a
    #: new deck's default leaves out the topic; a deck first built before that keeps all six).
    fields: tuple[str, ...] | None = None
    max_bytes: int = DEFAULT_MAX_BYTES  # digest files larger than this are an error
    identity: str | None = None  # the deck's identity namespace, to pin it; None → from the state
    definition: Path | None = None  # the deck definition it comes from; None for an ad-hoc build
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict, compare=False)  # messages
    delta: Path | None = None  # also write the notes new or changed in this build here
    origin: str | None = None  # where the deck comes from, for its description in Anki
    cache: Path | None = None  # what the last build computed (see flashcards.buildcache); None: off


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


def default_state_path(output: str | Path) -> Path:
    """Where an ad-hoc build keeps its state: beside the package, `<stem>.state.json` (the same
    naming as a deck definition's state)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.state.json")


def plan_for_definition(definition: DeckDefinition) -> BuildPlan:
    return BuildPlan(
        name=definition.name,
        inputs=tuple(definition.source_files()),
        output=definition.output,
        state=definition.state,
        cards=definition.cards,
        subdecks=definition.subdecks,
        tags=definition.tags,
        answers=definition.answers,
        taxonomy=definition.taxonomy,
        unsure_threshold=definition.unsure_threshold,
        shuffle=definition.shuffle,
        fields=definition.fields,
        identity=definition.identity,
        definition=definition.path,
        lines=definition.lines,
        delta=definition.delta,
        origin=f"the deck definition {definition.path.name}",
        cache=definition.cache,
    )


def plan_adhoc(
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    deck: str | None = None,
    answers: str | Path | None = None,
    state: str | Path | None = None,
    taxonomy: str | Path | None = None,
    unsure_threshold: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    identity_setting: str | None = None,
    delta: str | Path | None = None,
    cache: bool = True,
) -> BuildPlan:
    """An ad-hoc build; `identity_setting` pins the deck's identity namespace (as `--identity`:
    the namespace recorded in a lost state, or "legacy")."""
    output = Path(output)
    if output.suffix.lower() != ".apkg":
        # Anki only imports packages by their suffix; a bare name is usually a mistyped folder.
        raise ConfigError("the output must be an .apkg file, e.g. out/papers.apkg", output)
    state_path = Path(state) if state is not None else default_state_path(output)
    namespace = None
    if identity_setting is not None:
        try:
            namespace = identity.namespace_from_setting(identity_setting)
        except ValueError as exc:
            raise ConfigError(f"--identity: {exc}") from None
    return BuildPlan(
        name=deck or DEFAULT_DECK_NAME,
        inputs=tuple(Path(p) for p in inputs),
        output=output,
        state=state_path,
        answers=Path(answers) if answers is not None else None,
        taxonomy=Path(taxonomy) if taxonomy is not None else None,
        unsure_threshold=unsure_threshold,
        max_bytes=max_bytes,
        identity=namespace,
        delta=_delta_path(delta, output),
        origin=_origin(inputs),
        cache=default_cache_path(state_path) if cache else None,
    )


def _delta_path(delta: str | Path | None, output: Path) -> Path | None:
    if delta is None:
        return None
    delta = Path(delta)
    if delta.suffix.lower() != ".apkg":
        raise ConfigError("the delta package must be an .apkg file, e.g. out/today.apkg", delta)
    if os.path.abspath(delta) == os.path.abspath(output):
        raise ConfigError("the delta package must not be the deck's own output", delta)
    return delta


def _origin(inputs: Iterable[str | Path]) -> str:
    # Names, not full paths: the description must not depend on where the checkout lives.
    names = sorted({Path(p).name or str(p) for p in inputs})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"digests in {shown}"


def build(
    plan: BuildPlan, *, now: int | None = None, progress: Progress | None = None
) -> BuildReport:
    """Build `plan`'s package and update its state; `now` (epoch seconds) is for tests."""
    check_paths([plan])
    with directories_locked(_written_paths([plan])):
        now = int(time.time()) if now is None else now
        return commit([prepare(plan, now, progress=progress)])[0]


def check_paths(plans: Sequence[BuildPlan]) -> None:
    """Refuse a build whose files overlap, before anything is read or written: every package and
    state is written by one deck only (two decks sharing a state would wipe each other's notes
    from it), and none of them is a file the build reads (a digest, answer key or taxonomy)."""
    written: dict[str, tuple[BuildPlan, str]] = {}
    for plan in plans:
        for role, path in _written_by(plan):
            other = written.get(_file_key(path))
            if other is not None:
                raise _overlap(plan, role, f"is also the {_role(*other)}")
            written[_file_key(path)] = (plan, role)
    for plan in plans:
        read = [(path, "an input digest") for path in _input_files(plan.inputs)]
        read += [(path, "the answer key") for path in (plan.answers,) if path is not None]
        read += [(path, "the taxonomy") for path in (plan.taxonomy,) if path is not None]
        for path, what in read:
            target = written.get(_file_key(path))
            if target is not None:
                raise _overlap(target[0], target[1], f"is {what} of {_name(plan)} ({path})")


def _written_by(plan: BuildPlan) -> list[tuple[str, Path]]:
    roles = [("output", plan.output), ("state", plan.state), ("delta", plan.delta)]
    return [(role, path) for role, path in roles if path is not None]


def _written_paths(plans: Sequence[BuildPlan]) -> list[Path]:
    return [path for plan in plans for _role, path in _written_by(plan)]


def _file_key(path: Path) -> str:
    # realpath: a symlink or "decks/../x" names the same file.
    return os.path.normcase(os.path.realpath(path))


def _input_files(inputs: Iterable[Path]) -> list[Path]:
    files = []
    for path in inputs:
        if str(path) == "-":
            continue
        files.extend(find_digest_files(path) if path.is_dir() else [path])
    return files


def _name(plan: BuildPlan) -> str:
    return str(plan.definition) if plan.definition is not None else "this build"


_OPTIONS = {"output": "-o", "state": "--state", "delta": "--delta"}


def _role(plan: BuildPlan, role: str) -> str:
    option = _OPTIONS[role]
    return f"{role} of {plan.definition}" if plan.definition is not None else f"{option} file"


def _overlap(plan: BuildPlan, role: str, what: str) -> ConfigError:
    path = dict(_written_by(plan))[role]
    if plan.definition is None:
        option = _OPTIONS[role]
        return ConfigError(f"{option} {str(path)!r} {what}; nothing was written", path)
    return ConfigError(
        f"{role}: {str(path)!r} {what}; nothing was written",
        plan.definition,
        plan.lines.get(role),
    )


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


def check_plan(plan: BuildPlan) -> None:
    """What is wrong with the plan itself, before any input is read."""
    if not is_valid_deck_name(plan.name):  # ad-hoc names (--deck) are not checked elsewhere
        raise BuildError(f"invalid deck name {plan.name!r}", plan.output)
    if plan.output.is_dir():
        raise BuildError(
            "the output is a directory; give a file name such as deck.apkg", plan.output
        )
    if plan.delta is not None and plan.delta.is_dir():
        raise BuildError(
            "the delta output is a directory; give a file name such as today.apkg", plan.delta
        )


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
    namespace = _namespace(plan, state)
    _, groups = _notes(plan, parsed.digests, key, load_taxonomy(plan.taxonomy), namespace, state)
    return sort_notes(groups), tuple(parsed.warnings)


#: Fewer papers than this make their notes in this process: starting workers would cost more
#: than they save (a paper takes about a millisecond).
PARALLEL_MIN_PAPERS = 200

#: Fields of a paper's notes left out by a worker process, as each note's number and its
#: fields' places, each with the number of the text it is (`_left_out`).
_LeftOut = tuple[tuple[int, tuple[tuple[int, int], ...]], ...]

#: What a paper gives `_notes`: its notes; with a cache, the key of its topics there, its
#: topics when they were computed rather than found there, and its notes' cache text
#: (`incremental.group_text`, kept in the cache as it comes: all of them would take memory);
#: from a worker process, the fields it left out of the notes (`_left_out`); when asked for,
#: the preferred id of each note new to the state (0 for the others).
_PaperNotes = tuple[
    NoteGroup, str | None, tuple[str, ...] | None, str | None, _LeftOut, tuple[int, ...]
]


def _notes(
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
class _Notes:
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
    ids: Mapping[str, int] = dataclasses.field(default_factory=dict)  # `_notes`' `ids`


def _ordered(groups: Iterable[NoteGroup]) -> list[NoteGroup] | None:
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


def _full_notes(
    plan: BuildPlan,
    parsed: ParseResult,
    key: AnswerKey | None,
    taxonomy: Taxonomy,
    namespace: str,
    previous: DeckState,
    cache: BuildCache | None,
    files: Sequence[tuple[str, str]] | None,
) -> tuple[_Notes, list[Digest]]:
    """Every paper's notes made from `parsed`, and the resolved digests."""
    ids: dict[str, int] = {}
    digests, groups = _notes(
        plan, parsed.digests, key, taxonomy, namespace, previous, cache, ids=ids
    )
    specs = sort_notes(groups)
    with phase("state"):
        specs = flag_changed_answers(specs, previous)
    notes = _Notes(
        specs=specs,
        days=frozenset(d.date for d in digests),
        papers=len({p.key for d in digests for p in d.papers}),
        warnings=parsed.warnings,
        groups=_ordered(groups) if cache is not None else None,
        index=_index(files, digests) if cache is not None else {},
        ids=ids,
    )
    return notes, digests


class _NotSpliced(Exception):
    """The inputs are not what the splice found a moment ago: build in full."""


def _read_spliced(
    plan: BuildPlan,
    cache: BuildCache,
    last: incremental.LastBuild,
    files: Sequence[tuple[str, str]],
) -> tuple[ParseResult, frozenset[str], dict[str, list[incremental.DigestEntry]]] | None:
    """When `files` are the last build's plus added ones: the digests of the inputs (those of
    files holding no paper of an added file without their papers, `DigestEntry.stub`), the
    keys of the added files' papers, and every file's digests as `_Notes.index`. Else None.
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
            found = parse_file(path, max_bytes=plan.max_bytes)
        elif not any(k in affected for entry in entries for k in entry.keys):
            index[path] = list(entries)
            return [entry.stub() for entry in entries]
        else:  # holds a paper of an added file: read in full
            found = cache.parsed(path, shas[path]) or parse_file(path, max_bytes=plan.max_bytes)
            if incremental.digest_entries(found) != list(entries):
                raise _NotSpliced
        index[path] = incremental.digest_entries(found)
        return found

    try:
        parsed = parse_paths(plan.inputs, max_bytes=plan.max_bytes, read=read)
    except _NotSpliced:
        return None
    return parsed, affected, index


def _spliced_notes(
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
) -> _Notes | None:
    """The notes of the papers in `affected` made anew, spliced into the last build's notes of
    every other paper; None when those cannot be used (missing, damaged, or not what the state
    records)."""
    _, fresh = _notes(
        plan, parsed.digests, key, taxonomy, namespace, previous, cache, only=affected
    )
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
        ordered = _ordered(groups.values())
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
    return _Notes(
        specs=specs,
        days=frozenset(d.date for d in parsed.digests),
        papers=len(old_keys | affected),
        warnings=parsed.warnings,
        groups=fresh,
        index=index,
        spliced=True,
    )


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
    context = ""
    last: incremental.LastBuild | None = None
    if plan.cache is not None and parsed is None and state is None:
        with phase("cache"):
            cache = BuildCache.load(plan.cache)
            caches.append(cache)
            files = _hashed_inputs(plan)
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
            splice = _read_spliced(plan, cache, last, files)
    if parsed is None and splice is None:
        parsed = read_inputs(plan, progress=progress, cache=cache, files=files)
    if key is None and plan.answers is not None:
        key = load_answer_key(plan.answers)
    if taxonomy is None:
        with phase("topics"):
            taxonomy = load_taxonomy(plan.taxonomy)
    previous = load_state(plan.state) if state is None else state
    namespace = _namespace(plan, previous)
    notes = None
    if splice is not None and cache is not None and last is not None:
        notes = _spliced_notes(plan, *splice, last, key, taxonomy, namespace, previous, cache)
    del splice
    kept: tuple[Digest, ...] = ()
    if notes is None:
        if parsed is None:  # the splice failed: read every input after all
            parsed = read_inputs(plan, progress=progress, cache=cache, files=files)
        notes, digests = _full_notes(plan, parsed, key, taxonomy, namespace, previous, cache, files)
        kept = tuple(digests) if keep_digests else ()
        del digests
    del parsed  # `build` holds no other reference: the parsed text is freed here
    if cache is not None and notes.spliced:  # `_notes` kept the notes it made; the rest stay
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


def _namespace(plan: BuildPlan, previous: DeckState) -> str:
    """The deck's identity namespace: the one its state records, else (first build) the one
    derived from its name and package file name; `plan.identity` pins it."""
    recorded = previous.namespace
    if plan.identity is None:
        if recorded is not None:
            return recorded
        return identity.deck_namespace(plan.name, plan.output.name)
    if recorded is not None and recorded != plan.identity and previous.notes:
        # Switching would give every note a new GUID: duplicates of the whole deck in Anki.
        raise ConfigError(
            f"identity {_describe_namespace(plan.identity)} differs from the one this deck's "
            f"notes were built with, {_describe_namespace(recorded)} (recorded in the state); "
            "remove the identity setting, or set it to the recorded one",
            plan.state,
        )
    return plan.identity


def _describe_namespace(namespace: str) -> str:
    return identity.LEGACY_SETTING if namespace == identity.LEGACY_NAMESPACE else repr(namespace)


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
    with directories_locked(_written_paths(plans)):
        now = int(time.time()) if now is None else now
        prepared: list[PreparedDeck] = []
        try:
            for plan in plans:
                prepared.append(prepare(plan, now, progress=progress))
        except BaseException:
            _discard(prepared)
            raise
        return commit(prepared)


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
