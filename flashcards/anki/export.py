"""Step 4b: write notes to an Anki package (.apkg), byte for byte the same for the same input.

The collection is what genanki writes, with three things changed from its defaults:
- every note gets its own modification time and ID (from `flashcards.anki.state`) instead of one
  build-wide timestamp, so Anki updates exactly the notes whose content changed;
- every card gets a rising `due` (its new-card position), so new cards come in digest order;
- the collection is zipped with sorted entries, a fixed date and deflate, instead of genanki's
  clock-stamped, uncompressed zip (`flashcards.anki.apkgzip`, which can reuse the last build's
  deflated pieces).

Memory stays bounded: the notes are written one at a time to a temporary sqlite file (not an
in-memory database serialised whole), deflated from that file in pieces. The file's bytes are
what `sqlite3.Connection.serialize()` gives for the same database (a test checks it).
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

from flashcards import identity
from flashcards.anki.apkgzip import ChunkStore, write_zip
from flashcards.anki.notetypes import mcq_model, summary_model
from flashcards.anki.state import StampedNote
from flashcards.atomicfile import replace_files
from flashcards.timing import phase

DECK_DESCRIPTION = "Built by flashcards from AI-paper digests."


@dataclass(frozen=True)
class PackageResult:
    data: bytes
    notes: int
    cards: int


def build_package(
    notes: Sequence[StampedNote],
    *,
    description: str = DECK_DESCRIPTION,
    only: Collection[str] | None = None,
    chunks: ChunkStore | None = None,
) -> PackageResult:
    """The .apkg bytes for `notes`, in the given order (which sets their new-card position).

    `only` (GUIDs) keeps just those notes, each with the new-card position it has among all of
    `notes`: a delta package whose cards come in the same order as the full deck's. `chunks`
    keeps the collection's deflated pieces for the next build, which then compresses only what
    changed (`flashcards.anki.apkgzip`); the bytes are the same without it.
    """
    with phase("export"), tempfile.TemporaryDirectory(prefix="flashcards-export-") as tmp:
        collection = Path(tmp) / "collection.anki2"
        count, cards = write_collection(collection, notes, description=description, only=only)
        with phase("zip"), collection.open("rb") as source:
            # Zipped to a file, then read once: the package is never held twice.
            package = Path(tmp) / "package.apkg"
            entries: list[tuple[str, BinaryIO]] = [
                ("collection.anki2", source),
                ("media", io.BytesIO(b"{}")),  # no media files
            ]
            write_zip(package, entries, chunks)  # entries sorted by name, as Anki's own
            data = package.read_bytes()
    return PackageResult(data, count, cards)


#: A template's card rule: its ord, `any` or `all`, the fields (ords) that test looks at.
_CardRule = tuple[int, Callable[[Iterable[object]], bool], list[int]]

_NOTE_ROW = "INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?)"
_CARD_ROW = "INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


def write_collection(
    path: Path,
    notes: Sequence[StampedNote],
    *,
    description: str = DECK_DESCRIPTION,
    only: Collection[str] | None = None,
) -> tuple[int, int]:
    """Write the Anki collection of `notes` (see `build_package` for `only`) to a new sqlite
    file at `path`, decks sorted by name; how many notes and cards it holds.

    The file is byte for byte what genanki writes for the same notes (`genanki.Note` objects with
    our ids, times and `due`, in decks holding them all; tests/test_export.py compares the two),
    but the note and card rows are written here, straight from our notes: genanki makes an
    object per note and per card and checks each note's fields, which took as long as SQLite.
    genanki still writes the schema, the `col` row, the decks and the note types."""
    models = {"mcq": mcq_model(), "summary": summary_model()}
    members: dict[str, list[int]] = {}  # deck name → positions in `notes` of its notes
    for position, stamped in enumerate(notes):
        if only is None or stamped.spec.guid in only:
            members.setdefault(stamped.spec.deck, []).append(position)
    # Which templates make a card: genanki's rule (`Note._front_back_cards`), from the fields
    # each template needs (`Model._req`, worked out once per note type): a summary card needs
    # the Title and its own field non-empty, the question card any of its front's fields.
    rules: dict[str, tuple[genanki.Model, list[_CardRule]]] = {
        kind: (model, [(o, any if how == "any" else all, needs) for o, how, needs in model._req])
        for kind, model in models.items()
    }
    written = [0, 0]  # notes, cards
    connection = sqlite3.connect(path)
    try:
        # A scratch file nobody else opens, deleted after use: no rollback journal, no fsync.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        cursor = connection.cursor()
        # What genanki.Package.write_to_db does, deck by deck. The order of every write decides
        # which page each row lands on, so it is genanki's: the schema and `col` row, then per
        # deck its `col` update (decks, note types in order of first use), then its notes, each
        # note's row followed by its cards' rows.
        cursor.executescript(APKG_SCHEMA)
        cursor.executescript(APKG_COL)
        for name in sorted(members):
            positions = members[name]
            deck = genanki.Deck(identity.deck_id(name), name, description=description)
            for kind in dict.fromkeys(notes[position].spec.kind for position in positions):
                deck.add_model(models[kind])
            deck.write_to_db(cursor, identity.MODEL_MOD, itertools.count(1))  # holds no notes
            for position in positions:
                written[1] += _write_note(cursor, notes[position], position, deck.deck_id, rules)
            written[0] += len(positions)
        connection.commit()
    finally:
        connection.close()
    _clear_file_header(path)
    return written[0], written[1]


def _write_note(
    cursor: sqlite3.Cursor,
    stamped: StampedNote,
    position: int,
    deck_id: int,
    rules: dict[str, tuple[genanki.Model, list[_CardRule]]],
) -> int:
    """Write one note's row and its cards' rows as `genanki.Note.write_to_db` does; how many
    cards it has."""
    spec = stamped.spec
    model, cards = rules[spec.kind]
    fields = spec.fields
    ords = [card_ord for card_ord, test, needs in cards if test([fields[i] for i in needs])]
    if len(ords) != spec.cards or len(fields) != len(model.fields):
        raise AssertionError(f"note {spec.guid}: {len(ords)} cards, expected {spec.cards}")
    if " " in "".join(spec.tags):  # genanki refuses these: tags are space-separated
        raise AssertionError(f"note {spec.guid}: a tag with a space")
    note_id, mtime = stamped.note_id, stamped.mtime
    cursor.execute(
        _NOTE_ROW,
        # id, guid, mid, mod, usn, tags, flds, sfld (the sort field is the first), csum,
        # flags, data
        (note_id, spec.guid, model.model_id, mtime, -1, f" {' '.join(spec.tags)} ",
         "\x1f".join(fields), fields[0], 0, 0, ""),
    )  # fmt: skip
    # Its cards take the ids right after the note's (NOTE_ID_STEP apart) and are new cards in
    # the order of `notes` (`due`, their new-card position).
    cursor.executemany(
        _CARD_ROW,
        # id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue,
        # odid, flags, data
        [
            (note_id + 1 + n, note_id, deck_id, card_ord, mtime, -1, 0, 0, position + 1,
             0, 0, 0, 0, 0, 0, 0, 0, "")
            for n, card_ord in enumerate(ords)
        ],
    )  # fmt: skip
    return len(ords)


def _clear_file_header(path: Path) -> None:
    """Zero what only a database *file* records in its header: the change counter (offset 24),
    the counter its header is valid for (92) and the SQLite version that wrote it (96). An
    in-memory database leaves all three 0, so the collection's bytes stay what `serialize()` gave
    before, and do not depend on the SQLite library of the machine building the deck. (Equal
    counters keep the header's page count valid.)"""
    with path.open("r+b") as handle:
        handle.seek(24)
        handle.write(bytes(4))
        handle.seek(92)
        handle.write(bytes(8))


def write_package(path: str | Path, notes: Sequence[StampedNote]) -> PackageResult:
    """Write the package for `notes` to `path` atomically (untouched if already identical)."""
    result = build_package(notes)
    replace_files([(Path(path), result.data)])
    return result
