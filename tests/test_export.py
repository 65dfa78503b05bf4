"""The collection writer: byte for byte what genanki writes for the same notes.

The writer puts the note and card rows in the database itself; genanki, which wrote them before
(a `genanki.Note` per note), is kept here as the reference: the same notes held by plain
genanki decks, written to an in-memory database and serialised (what earlier versions shipped).
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import zipfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import genanki
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flashcards import identity
from flashcards.anki.export import build_package, write_collection
from flashcards.anki.notes import NoteSpec, build_notes
from flashcards.anki.notetypes import MCQ_FIELDS, SUMMARY_FIELDS, mcq_model, summary_model
from flashcards.anki.state import DeckState, StampedNote, stamp_notes
from flashcards.answers import resolve_answers
from flashcards.parse import parse_paths

SAMPLES = Path(__file__).resolve().parent.parent / "decks" / "samples"


class _StampedNote(genanki.Note):
    """A genanki note written with its own modification time and IDs (as the export did)."""

    def __init__(self, *, mtime: int, note_id: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mtime = mtime
        self.note_id = note_id

    def write_to_db(
        self, cursor: sqlite3.Cursor, timestamp: float, deck_id: int, id_gen: Iterator[int]
    ) -> None:
        super().write_to_db(cursor, self.mtime, deck_id, itertools.count(self.note_id))


def _genanki_decks(
    notes: Sequence[StampedNote], description: str, only: Collection[str] | None
) -> list[genanki.Deck]:
    """The decks as plain genanki holds them, every note at once."""
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


def _reference(
    notes: Sequence[StampedNote], description: str, only: Collection[str] | None = None
) -> tuple[bytes, int, int]:
    """genanki's collection of `notes`, and how many notes and cards it holds."""
    decks = _genanki_decks(notes, description, only)
    connection = sqlite3.connect(":memory:")
    try:
        genanki.Package(decks).write_to_db(
            connection.cursor(), identity.MODEL_MOD, itertools.count(1)
        )
        connection.commit()
        data = connection.serialize()
    finally:
        connection.close()
    notes_written = sum(len(deck.notes) for deck in decks)
    return data, notes_written, sum(len(n.cards) for deck in decks for n in deck.notes)


def _written(
    tmp_path: Path, notes: Sequence[StampedNote], description: str, only: Collection[str] | None
) -> tuple[bytes, int, int]:
    path = tmp_path / "collection.anki2"
    path.unlink(missing_ok=True)
    count, cards = write_collection(path, notes, description=description, only=only)
    return path.read_bytes(), count, cards


@pytest.mark.parametrize(("subdecks", "delta"), [(None, False), ("month", False), ("date", True)])
def test_the_bundled_deck_is_byte_for_byte_genankis(subdecks: str | None, delta: bool) -> None:
    """The package's collection is genanki's, so that a deck's bytes do not depend on the
    SQLite version or the file system of the machine building it either. Subdecks give
    several decks (with their note types in order of first use); a delta keeps some notes."""
    digests = resolve_answers(list(parse_paths([SAMPLES]).digests))
    specs = build_notes(digests, deck="Samples", subdecks=subdecks)
    stamped, _ = stamp_notes(specs, DeckState(), 1_750_000_000)
    only = {s.spec.guid for s in stamped[1::3]} if delta else None
    result = build_package(stamped, description="about", only=only)
    with zipfile.ZipFile(io.BytesIO(result.data)) as package:
        shipped = package.read("collection.anki2")
    reference, notes, cards = _reference(stamped, "about", only)
    assert len({s.spec.deck for s in stamped}) > (1 if subdecks else 0)
    assert shipped == reference
    assert (result.notes, result.cards) == (notes, cards) != (0, 0)


def test_a_corpus_deck_is_byte_for_byte_genankis(corpus: Path, tmp_path: Path) -> None:
    # The quiz texts (every field, flow charts, inferred answers) and the tables with
    # categories: every note shape of the corpus, in a quarter of the time of all of it.
    inputs = [corpus / "daily_paper" / "text", corpus / "daily-ai-papers-category"]
    digests = resolve_answers(list(parse_paths(inputs).digests))
    stamped, _ = stamp_notes(build_notes(digests, deck="Corpus"), DeckState(), 1_750_000_000)
    assert len(stamped) > 1000
    assert _written(tmp_path, stamped, "corpus", None) == _reference(stamped, "corpus")


#: Field values of every shape the card rules and SQLite look at: empty, text, markup, and
#: digits (the sort field's column has integer affinity: "42" is stored as a number).
_VALUES = st.sampled_from(["", "x", "42", "0", "<b>bold</b> &amp; more", "é\u200b 漢字", " "])


@st.composite
def _notes(draw: st.DrawFn) -> list[StampedNote]:
    models = {"mcq": mcq_model(), "summary": summary_model()}
    notes = []
    for number in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["mcq", "summary"]))
        names = MCQ_FIELDS if kind == "mcq" else SUMMARY_FIELDS
        fields = tuple(draw(_VALUES) for _ in names)
        tags = tuple(sorted(set(draw(st.lists(st.sampled_from(["a", "topic::b", "ü"]))))))
        guid = f"guid-{number}"
        # How many cards genanki makes of it (the writer checks its own count against this).
        cards = len(genanki.Note(model=models[kind], fields=list(fields), guid=guid).cards)
        spec = NoteSpec(
            guid=guid,
            kind=kind,
            fields=fields,
            tags=tags,
            deck=draw(st.sampled_from(["Deck", "Deck::2024-05", "Another"])),
            order=("2024-05-01", "x.txt", number, 0),
            cards=cards,
        )
        note_id = 1_700_000_000_000 + number * identity.NOTE_ID_STEP
        notes.append(StampedNote(spec, 1_700_000_000 + number, note_id, "new"))
    return notes


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(notes=_notes(), delta=st.booleans())
def test_notes_of_every_shape_are_written_as_genanki_writes_them(
    tmp_path_factory: pytest.TempPathFactory, notes: list[StampedNote], delta: bool
) -> None:
    """Summary notes with any of their fields empty (a card per non-empty field, none without
    a title), question notes with an empty front, tags, several decks, a delta."""
    only = {n.spec.guid for n in notes[::2]} if delta else None
    tmp_path = tmp_path_factory.mktemp("collection")
    assert _written(tmp_path, notes, "about", only) == _reference(notes, "about", only)


def test_a_card_count_other_than_genankis_is_a_bug(tmp_path: Path) -> None:
    fields = tuple("x" for _ in SUMMARY_FIELDS)
    spec = NoteSpec("g", "summary", fields, (), "Deck", ("2024-05-01", "x", 0, 0), cards=5)
    with pytest.raises(AssertionError, match="6 cards, expected 5"):
        write_collection(tmp_path / "c.anki2", [StampedNote(spec, 1, 1_000, "new")])
