"""The package writer's determinism does not depend on how or where the collection is stored."""

from __future__ import annotations

import io
import itertools
import sqlite3
import weakref
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import genanki
import pytest

from flashcards import identity
from flashcards.anki.export import _StampedNote, build_package
from flashcards.anki.notes import build_notes
from flashcards.anki.notetypes import mcq_model, summary_model
from flashcards.anki.state import DeckState, StampedNote, stamp_notes
from flashcards.answers import resolve_answers
from flashcards.parse import parse_paths

SAMPLES = Path(__file__).resolve().parent.parent / "decks" / "samples"


def _genanki_decks(
    notes: list[StampedNote], description: str, only: Collection[str] | None
) -> list[genanki.Deck]:
    """The decks as plain genanki holds them, every note at once (what earlier versions wrote)."""
    models = {"mcq": mcq_model(), "summary": summary_model()}
    decks: dict[str, genanki.Deck] = {}
    for due, stamped in enumerate(notes, start=1):
        spec = stamped.spec
        if only is not None and spec.guid not in only:
            continue
        if spec.deck not in decks:
            decks[spec.deck] = genanki.Deck(
                identity.deck_id(spec.deck), spec.deck, description=description
            )
        note = _StampedNote(
            mtime=stamped.mtime,
            note_id=stamped.note_id,
            model=models[spec.kind],
            fields=list(spec.fields),
            tags=list(spec.tags),
            guid=spec.guid,
            due=due,
        )
        decks[spec.deck].add_note(note)
    return [decks[name] for name in sorted(decks)]


@pytest.mark.parametrize(("subdecks", "delta"), [(None, False), ("month", False), ("date", True)])
def test_collection_is_byte_for_byte_an_in_memory_genanki_database(
    subdecks: str | None, delta: bool
) -> None:
    """The collection is written to a temporary file, each genanki note made just before it is
    written; its bytes must be those of the same notes held by plain genanki decks in an
    in-memory database, serialised (what earlier versions shipped), so that a deck's bytes do
    not depend on the SQLite version or the file system of the machine building it. Subdecks
    give several decks (with their models in order of first use); a delta keeps some notes."""
    digests = resolve_answers(list(parse_paths([SAMPLES]).digests))
    specs = build_notes(digests, deck="Samples", subdecks=subdecks)
    stamped, _ = stamp_notes(specs, DeckState(), 1_750_000_000)
    only = {s.spec.guid for s in stamped[1::3]} if delta else None
    result = build_package(stamped, description="about", only=only)
    with zipfile.ZipFile(io.BytesIO(result.data)) as package:
        shipped = package.read("collection.anki2")

    decks = _genanki_decks(stamped, "about", only)
    assert len(decks) > (1 if subdecks else 0)
    connection = sqlite3.connect(":memory:")
    try:
        package_writer = genanki.Package(decks)
        package_writer.write_to_db(connection.cursor(), identity.MODEL_MOD, itertools.count(1))
        connection.commit()
        in_memory = connection.serialize()
    finally:
        connection.close()
    assert shipped == in_memory
    assert result.notes == sum(len(deck.notes) for deck in decks)
    assert result.cards == sum(len(note.cards) for deck in decks for note in deck.notes)


def test_genanki_notes_are_made_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The export never holds every note twice: each genanki note is made, written and dropped
    before the next (counted with weak references, which CPython clears on the last release)."""
    digests = resolve_answers(list(parse_paths([SAMPLES]).digests))
    stamped, _ = stamp_notes(build_notes(digests, deck="Samples"), DeckState(), 1_750_000_000)
    alive: weakref.WeakSet[genanki.Note] = weakref.WeakSet()
    most = 0
    write = _StampedNote.write_to_db

    def counting(self: _StampedNote, *args: Any) -> None:
        nonlocal most
        alive.add(self)
        most = max(most, len(alive))
        write(self, *args)

    monkeypatch.setattr(_StampedNote, "write_to_db", counting)
    result = build_package(stamped)
    assert result.notes == len(stamped) > 10
    assert most == 1
