"""Step 4b: write notes to an Anki package (.apkg), byte for byte the same for the same input.

genanki writes the collection; three things are changed from its defaults:
- every note gets its own modification time and ID (from `flashcards.anki.state`) instead of one
  build-wide timestamp, so Anki updates exactly the notes whose content changed;
- every card gets a rising `due` (its new-card position), so new cards come in digest order;
- the collection is zipped with sorted entries, a fixed date and deflate, instead of genanki's
  clock-stamped, uncompressed zip.

Memory stays bounded: the collection goes to a temporary sqlite file (not an in-memory database
serialised whole) and is deflated from that file in chunks. The file's bytes are what
`sqlite3.Connection.serialize()` gives for the same database (a test checks it).
"""

from __future__ import annotations

import functools
import itertools
import shutil
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import genanki

from flashcards import identity
from flashcards.anki.notetypes import mcq_model, summary_model
from flashcards.anki.state import StampedNote
from flashcards.atomicfile import replace_files
from flashcards.timing import phase

#: Date written on every zip entry (the earliest a zip can hold).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

DECK_DESCRIPTION = "Built by flashcards from AI-paper digests."

#: Deflate level of the package's entries, chosen by measurement on a 37,000-note archive
#: (benchmarks/archive.py; 78 MB collection): level 6 packs it to 13.65 MB in 1.6 s of CPU,
#: level 9 to 13.59 MB in 2.9 s. The 0.4% is not worth nearly doubling the zip time.
ZIP_LEVEL = 6

#: Bytes read from the collection file at a time while deflating it.
_CHUNK = 1 << 20


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


def build_package(
    notes: Sequence[StampedNote],
    *,
    description: str = DECK_DESCRIPTION,
    only: Collection[str] | None = None,
) -> PackageResult:
    """The .apkg bytes for `notes`, in the given order (which sets their new-card position).

    `only` (GUIDs) keeps just those notes, each with the new-card position it has among all of
    `notes`: a delta package whose cards come in the same order as the full deck's.
    """
    with phase("export"), tempfile.TemporaryDirectory(prefix="flashcards-export-") as tmp:
        collection = Path(tmp) / "collection.anki2"
        count, cards = write_collection(collection, notes, description=description, only=only)
        with phase("zip"):
            # Zipped to a file, then read once: an in-memory zip is copied whole by getvalue().
            package = Path(tmp) / "package.apkg"
            _zip(collection, package)
            data = package.read_bytes()
    return PackageResult(data, count, cards)


class _StreamedDeck(genanki.Deck):
    """A genanki deck whose notes are made one at a time while it is written, not held: the
    collection gets the same rows, in the same order, as from a deck holding them all."""

    def __init__(
        self,
        deck_id: int,
        name: str,
        *,
        description: str,
        models: Iterable[genanki.Model],
        notes: Callable[[], Iterator[genanki.Note]],
    ) -> None:
        super().__init__(deck_id, name, description=description)
        for model in models:  # in order of first use, as genanki adds them from its notes
            self.add_model(model)
        self._make_notes = notes

    def write_to_db(self, cursor: sqlite3.Cursor, timestamp: float, id_gen: Iterator[int]) -> None:
        super().write_to_db(cursor, timestamp, id_gen)  # no notes held: the deck and models
        for note in self._make_notes():
            note.write_to_db(cursor, timestamp, self.deck_id, id_gen)


def write_collection(
    path: Path,
    notes: Sequence[StampedNote],
    *,
    description: str = DECK_DESCRIPTION,
    only: Collection[str] | None = None,
) -> tuple[int, int]:
    """Write the Anki collection of `notes` (see `build_package` for `only`) to a new sqlite
    file at `path`, decks sorted by name; how many notes and cards it holds.

    Each genanki note is made just before it is written and dropped after: a large deck's notes
    are never all held twice (as our notes and as genanki's)."""
    models = {"mcq": mcq_model(), "summary": summary_model()}
    members: dict[str, list[int]] = {}  # deck name → positions in `notes` of its notes
    for position, stamped in enumerate(notes):
        if only is None or stamped.spec.guid in only:
            members.setdefault(stamped.spec.deck, []).append(position)
    written = [0, 0]  # notes, cards

    def make_notes(positions: list[int]) -> Iterator[genanki.Note]:
        for position in positions:
            stamped = notes[position]
            spec = stamped.spec
            note = _StampedNote(
                mtime=stamped.mtime,
                note_id=stamped.note_id,
                model=models[spec.kind],
                fields=list(spec.fields),
                tags=list(spec.tags),
                guid=spec.guid,
                due=position + 1,
            )
            if len(note.cards) != spec.cards:
                raise AssertionError(
                    f"note {spec.guid}: {len(note.cards)} cards, expected {spec.cards}"
                )
            written[0] += 1
            written[1] += spec.cards
            yield note

    decks = []
    for name in sorted(members):
        positions = members[name]
        kinds = dict.fromkeys(notes[position].spec.kind for position in positions)
        decks.append(
            _StreamedDeck(
                identity.deck_id(name),
                name,
                description=description,
                models=[models[kind] for kind in kinds],
                notes=functools.partial(make_notes, positions),
            )
        )
    connection = sqlite3.connect(path)
    try:
        # A scratch file nobody else opens, deleted after use: no rollback journal, no fsync.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        cursor = connection.cursor()
        genanki.Package(decks).write_to_db(cursor, identity.MODEL_MOD, itertools.count(1))
        connection.commit()
    finally:
        connection.close()
    _clear_file_header(path)
    return written[0], written[1]


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


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the platform building it
    info.external_attr = 0o100644 << 16
    # The size decides whether the entry needs zip64 fields, as `writestr` would decide it.
    info.file_size = size
    if sys.version_info >= (3, 13):
        info.compress_level = ZIP_LEVEL
    else:  # the same attribute before it became public
        info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
    return info


def _zip(collection: Path, package: Path) -> None:
    """Write the package: `collection`, deflated in chunks, and an empty media list."""
    with zipfile.ZipFile(package, "w") as archive:
        with (
            collection.open("rb") as source,
            archive.open(_zip_info("collection.anki2", collection.stat().st_size), "w") as entry,
        ):
            shutil.copyfileobj(source, entry, _CHUNK)
        with archive.open(_zip_info("media", 2), "w") as entry:
            entry.write(b"{}")


def write_package(path: str | Path, notes: Sequence[StampedNote]) -> PackageResult:
    """Write the package for `notes` to `path` atomically (untouched if already identical)."""
    result = build_package(notes)
    replace_files([(Path(path), result.data)])
    return result
