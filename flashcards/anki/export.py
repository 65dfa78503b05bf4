"""Step 4b: write notes to an Anki package (.apkg), byte for byte the same for the same input.

genanki writes the collection; three things are changed from its defaults:
- every note gets its own modification time and ID (from `flashcards.anki.state`) instead of one
  build-wide timestamp, so Anki updates exactly the notes whose content changed;
- every card gets a rising `due` (its new-card position), so new cards come in digest order;
- the collection is built in memory and zipped with sorted entries, a fixed date and deflate,
  instead of genanki's clock-stamped, uncompressed zip.
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import genanki

from flashcards import identity
from flashcards.anki.notetypes import mcq_model, summary_model
from flashcards.anki.state import StampedNote
from flashcards.atomicfile import replace_files

#: Date written on every zip entry (the earliest a zip can hold).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

DECK_DESCRIPTION = "Built by flashcards from AI-paper digests."


@dataclass(frozen=True)
class PackageResult:
    data: bytes
    notes: int
    cards: int


class _StampedNote(genanki.Note):
    """A genanki note written with its own modification time and IDs."""

    def __init__(self, *, mtime: int, note_id: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mtime = mtime
        self.note_id = note_id

    def write_to_db(
        self, cursor: sqlite3.Cursor, timestamp: float, deck_id: int, id_gen: Iterator[int]
    ) -> None:
        # The note takes `note_id`, its cards the ids right after it (NOTE_ID_STEP apart).
        super().write_to_db(cursor, self.mtime, deck_id, itertools.count(self.note_id))


def build_package(notes: Sequence[StampedNote]) -> PackageResult:
    """The .apkg bytes for `notes`, in the given order (which sets their new-card position)."""
    models = {"mcq": mcq_model(), "summary": summary_model()}
    decks: dict[str, genanki.Deck] = {}
    cards = 0
    for due, stamped in enumerate(notes, start=1):
        spec = stamped.spec
        deck = decks.get(spec.deck)
        if deck is None:
            deck = decks[spec.deck] = genanki.Deck(
                identity.deck_id(spec.deck), spec.deck, description=DECK_DESCRIPTION
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
        if len(note.cards) != spec.cards:
            raise AssertionError(
                f"note {spec.guid}: {len(note.cards)} cards, expected {spec.cards}"
            )
        cards += len(note.cards)
        deck.add_note(note)

    connection = sqlite3.connect(":memory:")
    try:
        cursor = connection.cursor()
        package = genanki.Package([decks[name] for name in sorted(decks)])
        package.write_to_db(cursor, identity.MODEL_MOD, itertools.count(1))
        connection.commit()
        collection = connection.serialize()
    finally:
        connection.close()
    return PackageResult(_zip({"collection.anki2": collection, "media": b"{}"}), len(notes), cards)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the platform building it
            info.external_attr = 0o100644 << 16
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def write_package(path: str | Path, notes: Sequence[StampedNote]) -> PackageResult:
    """Write the package for `notes` to `path` atomically (untouched if already identical)."""
    result = build_package(notes)
    replace_files([(Path(path), result.data)])
    return result
