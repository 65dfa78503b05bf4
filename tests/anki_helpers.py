"""Helpers for tests that check decks with the real Anki backend (the `anki` package from PyPI).

    with fresh_collection(tmp_path) as col:
        result = import_package(col, deck_path)
        assert (result.new, result.updated) == (12, 0)
        for card in rendered_cards(col): ...

Nothing here mocks Anki: imports, rendering and reviews go through its own Rust backend.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# anki.collection must be imported before anki.cards (the package has an import cycle).
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest  # isort: skip
from anki.cards import Card
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition
from anki.notes import Note
from anki.scheduler.v3 import CardAnswer

IF_NEWER = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER

_counter = itertools.count()


@dataclass(frozen=True)
class ImportResult:
    new: int
    updated: int
    duplicate: int
    conflicting: int


@dataclass(frozen=True)
class RenderedCard:
    card_id: int
    note_id: int
    guid: str
    notetype: str
    template: str
    deck: str
    question: str
    answer: str


@contextlib.contextmanager
def fresh_collection(tmp_path: Path) -> Iterator[Collection]:
    """A new, empty collection in its own folder under `tmp_path`; closed afterwards."""
    folder = tmp_path / f"anki-collection-{next(_counter)}"
    folder.mkdir()
    col = Collection(str(folder / "collection.anki2"))
    try:
        yield col
    finally:
        col.close()


def import_package(col: Collection, package: Path) -> ImportResult:
    """Import `package` as Anki's import dialog does by default: update notes and note types only
    when the incoming ones are newer."""
    request = ImportAnkiPackageRequest(
        package_path=str(package),
        options=ImportAnkiPackageOptions(update_notes=IF_NEWER, update_notetypes=IF_NEWER),
    )
    log = col.import_anki_package(request).log
    return ImportResult(
        new=len(log.new),
        updated=len(log.updated),
        duplicate=len(log.duplicate),
        conflicting=len(log.conflicting),
    )


def note_by_guid(col: Collection, guid: str) -> Note:
    found = col.db.list("select id from notes where guid = ?", guid)
    assert len(found) == 1, f"{len(found)} notes with GUID {guid}"
    return col.get_note(found[0])


def guids(col: Collection) -> set[str]:
    return set(col.db.list("select guid from notes"))


def rendered_cards(col: Collection) -> list[RenderedCard]:
    """Every card of the collection, rendered by Anki's own template engine, in card-id order."""
    cards = []
    for card_id in sorted(col.find_cards("")):
        card = col.get_card(card_id)
        note = card.note()
        notetype = note.note_type()
        assert notetype is not None
        cards.append(
            RenderedCard(
                card_id=card.id,
                note_id=note.id,
                guid=note.guid,
                notetype=notetype["name"],
                template=card.template()["name"],
                deck=col.decks.name(card.did),
                question=card.question(),
                answer=card.answer(),
            )
        )
    return cards


def review_card(col: Collection, card_id: int, rating: int = CardAnswer.GOOD) -> Card:
    """Answer one card through the v3 scheduler, as a user studying its deck would.

    A new card is first moved to the front of the new-card queue (the scheduler only answers
    the card at the top)."""
    card = col.get_card(card_id)
    if card.type == 0:  # new
        col.sched.reposition_new_cards(
            [card_id], starting_from=0, step_size=1, randomize=False, shift_existing=True
        )
    col.decks.select(card.did)
    top = col.sched.get_queued_cards(fetch_limit=1).cards
    assert top and top[0].card.id == card_id, f"card {card_id} is not at the top of its queue"
    card = col.get_card(card_id)
    card.start_timer()
    col.sched.answer_card(col.sched.build_answer(card=card, states=top[0].states, rating=rating))
    return col.get_card(card_id)


def schedule(card: Card) -> tuple[int, int, int, int, int]:
    """The review state a re-import must keep: (type, queue, due, ivl, reps)."""
    return (card.type, card.queue, card.due, card.ivl, card.reps)


def blank_cards(col: Collection) -> list[str]:
    """Cards that would show nothing to learn: Anki's own empty-card check (a front that renders
    empty), and any card whose main field is empty (the prompt of a question, the field a summary
    card asks about), as "guid/template" strings. Empty means no card of ours is blank."""
    # The field each summary template asks about, from the note type itself.
    from flashcards.anki.notetypes import SUMMARY_CARDS

    summary_field = {template: field for template, field, _key, _question in SUMMARY_CARDS}
    found = [f"empty card {cid}" for note in col.get_empty_cards().notes for cid in note.card_ids]
    for card in rendered_cards(col):
        note = col.get_note(card.note_id)
        main = summary_field.get(card.template, "Prompt")
        if not note[main].strip() or not card.question.strip() or not card.answer.strip():
            found.append(f"{card.guid}/{card.template}")
    return found
