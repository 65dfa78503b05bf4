"""Build a deck: digests → parse → answers → topics → notes → state → package.

Two ways in: a deck definition (`decks/*.yaml`, see `flashcards.deckdef`) or ad-hoc inputs
(`flashcards build -i PATH -o OUT.apkg`). Both become a `BuildPlan`. Everything is computed in
memory first; the package and the state file are then replaced together or not at all, and a
file whose bytes would not change is not rewritten.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flashcards.anki.export import build_package
from flashcards.anki.notes import CARD_KINDS, NoteSpec, build_notes
from flashcards.anki.state import load_state, stamp_notes, state_bytes
from flashcards.answers import load_answer_key, resolve_answers
from flashcards.atomicfile import replace_files
from flashcards.deckdef import (
    DeckDefinition,
    find_deck_definitions,
    is_valid_deck_name,
    load_deck_definitions,
)
from flashcards.errors import BuildError, ConfigError
from flashcards.parse import DEFAULT_MAX_BYTES, parse_paths
from flashcards.topics import assign_topics, load_taxonomy

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
    max_bytes: int = DEFAULT_MAX_BYTES  # digest files larger than this are an error


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
) -> BuildPlan:
    output = Path(output)
    if output.suffix.lower() != ".apkg":
        # Anki only imports packages by their suffix; a bare name is usually a mistyped folder.
        raise ConfigError("the output must be an .apkg file, e.g. out/papers.apkg", output)
    return BuildPlan(
        name=deck or DEFAULT_DECK_NAME,
        inputs=tuple(Path(p) for p in inputs),
        output=output,
        state=Path(state) if state is not None else default_state_path(output),
        answers=Path(answers) if answers is not None else None,
        taxonomy=Path(taxonomy) if taxonomy is not None else None,
        unsure_threshold=unsure_threshold,
        max_bytes=max_bytes,
    )


def build(plan: BuildPlan, *, now: int | None = None) -> BuildReport:
    """Build `plan`'s package and update its state; `now` (epoch seconds) is for tests."""
    return _commit([_prepare(plan, int(time.time()) if now is None else now)])[0]


@dataclass(frozen=True)
class _Prepared:
    """A deck built in memory: the files to write and the report (`written` still unknown)."""

    files: tuple[tuple[Path, bytes], ...]
    report: BuildReport


def _commit(prepared: Sequence[_Prepared]) -> list[BuildReport]:
    """Write every prepared deck's files together: all of them, or (on any error) none."""
    written = replace_files([file for deck in prepared for file in deck.files])
    return [
        dataclasses.replace(deck.report, written=deck.report.output in written) for deck in prepared
    ]


def plan_notes(plan: BuildPlan) -> tuple[list[NoteSpec], tuple[str, ...]]:
    """The notes `plan` builds (parsed, answered, tagged; no file read but its inputs, answer
    key and taxonomy) and the parsers' warnings."""
    parsed = parse_paths(plan.inputs, max_bytes=plan.max_bytes)
    key = load_answer_key(plan.answers) if plan.answers is not None else None
    digests = resolve_answers(list(parsed.digests), key, threshold=plan.unsure_threshold)
    taxonomy = load_taxonomy(plan.taxonomy)
    specs = build_notes(
        digests,
        deck=plan.name,
        kinds=plan.cards,
        subdecks=plan.subdecks,
        extra_tags=plan.tags,
        topics_for=lambda paper: assign_topics(paper, taxonomy),
    )
    return specs, tuple(parsed.warnings)


def _prepare(plan: BuildPlan, now: int) -> _Prepared:
    if not is_valid_deck_name(plan.name):  # ad-hoc names (--deck) are not checked elsewhere
        raise BuildError(f"invalid deck name {plan.name!r}", plan.output)
    if plan.output.is_dir():
        raise BuildError(
            "the output is a directory; give a file name such as deck.apkg", plan.output
        )

    specs, parse_warnings = plan_notes(plan)
    stamped, new_state = stamp_notes(specs, load_state(plan.state), now)
    package = build_package(stamped)

    warnings = list(parse_warnings)
    if not specs:
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
    )
    # The state goes first: if only it landed, the next build still stamps the same times.
    return _Prepared(((plan.state, state_bytes(new_state)), (plan.output, package.data)), report)


def build_definitions(
    paths: Sequence[str | Path], *, now: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[BuildReport]:
    """Build several deck definitions, all or nothing: every deck is built in memory before any
    file is written, so a broken input of one deck leaves every deck and state as it was."""
    plans = [
        dataclasses.replace(plan_for_definition(d), max_bytes=max_bytes)
        for d in load_deck_definitions([Path(p) for p in paths])
    ]
    now = int(time.time()) if now is None else now
    return _commit([_prepare(plan, now) for plan in plans])


def build_all(
    directory: str | Path = DEFAULT_DECKS_DIR,
    *,
    now: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[BuildReport]:
    """Build every `*.yaml` deck definition in `directory`."""
    paths = find_deck_definitions(directory)
    if not paths:
        raise ConfigError(
            "no deck definitions (*.yaml) here; give one, or build ad hoc with -i PATH -o OUT.apkg",
            directory,
        )
    return build_definitions(paths, now=now, max_bytes=max_bytes)
