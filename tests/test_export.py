"""The package writer's determinism does not depend on how or where the collection is stored."""

from __future__ import annotations

import io
import itertools
import sqlite3
import zipfile
from pathlib import Path

import genanki

from flashcards import identity
from flashcards.anki.export import build_package, genanki_decks
from flashcards.anki.notes import build_notes
from flashcards.anki.state import DeckState, stamp_notes
from flashcards.answers import resolve_answers
from flashcards.parse import parse_paths

SAMPLES = Path(__file__).resolve().parent.parent / "decks" / "samples"


def test_collection_is_byte_for_byte_an_in_memory_database() -> None:
    """The collection is written to a temporary file; its bytes must be those of the same
    database built in memory and serialised (what earlier versions shipped), so that a deck's
    bytes do not depend on the SQLite version or the file system of the machine building it."""
    digests = resolve_answers(list(parse_paths([SAMPLES]).digests))
    stamped, _ = stamp_notes(build_notes(digests, deck="Samples"), DeckState(), 1_750_000_000)
    with zipfile.ZipFile(io.BytesIO(build_package(stamped).data)) as package:
        shipped = package.read("collection.anki2")

    decks, _notes, _cards = genanki_decks(stamped)
    connection = sqlite3.connect(":memory:")
    try:
        package_writer = genanki.Package(decks)
        package_writer.write_to_db(connection.cursor(), identity.MODEL_MOD, itertools.count(1))
        connection.commit()
        in_memory = connection.serialize()
    finally:
        connection.close()
    assert shipped == in_memory
