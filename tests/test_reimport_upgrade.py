"""Re-importing after the issue 13 card changes (shuffled options, unsure styling, changed
answers, lists, new templates and CSS) updates a deck users already imported.

`fixtures/reimport/before.apkg` and its state were built by the commit before those changes
(4d93a73, `flashcards build -i decks/samples/quiz-2025-01-15.txt -o before.apkg --deck "AI
Papers"`). The test imports it into a real Anki collection, reviews cards, rebuilds the same
digest with today's code from that state, and imports again.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

from anki_helpers import blank_cards, fresh_collection, import_package, review_card, schedule
from helpers import NOW, ROOT

from flashcards import build as builder
from flashcards import identity
from flashcards.anki.notetypes import MCQ_MODEL_NAME, SUMMARY_MODEL_NAME
from flashcards.plan import plan_adhoc

BEFORE = Path(__file__).parent / "fixtures" / "reimport"
DIGEST = ROOT / "decks" / "samples" / "quiz-2025-01-15.txt"


def test_rebuilt_deck_updates_an_imported_one_in_place(tmp_path: Path) -> None:
    state = tmp_path / "before.state.json"
    shutil.copyfile(BEFORE / "before.state.json", state)
    with fresh_collection(tmp_path) as col:
        first = import_package(col, BEFORE / "before.apkg")
        assert (first.new, first.conflicting) == (12, 0)
        cards_before = col.card_count()
        reviewed = {}
        # One card per note: Anki buries a reviewed card's siblings until tomorrow.
        for note_id in sorted(col.find_notes(""))[:3]:
            card_id = col.get_note(note_id).card_ids()[0]
            review_card(col, card_id)
            reviewed[card_id] = schedule(col.get_card(card_id))
        note_ids = set(col.find_notes(""))

        plan = plan_adhoc([DIGEST], tmp_path / "after.apkg", deck="AI Papers")
        report = builder.build(dataclasses.replace(plan, state=state), now=NOW)
        # Every MCQ note changed (shuffled options, new answer-source markup); summaries may not.
        assert report.new == 0 and report.changed >= 9 and report.changed + report.unchanged == 12
        second = import_package(col, tmp_path / "after.apkg")

        assert (second.new, second.updated, second.conflicting) == (0, report.changed, 0)
        assert second.duplicate == report.unchanged
        assert set(col.find_notes("")) == note_ids and col.card_count() == cards_before
        template = _assert_reviews_kept_and_note_types_updated(col, reviewed)
        assert b"fc-verdict" in template


# The same digest built by the commit before the shuffle moved onto the card (9c41df0, `flashcards
# build -i decks/samples/quiz-2025-01-15.txt -o shuffled.apkg --deck "AI Papers"`): the options
# were written in their shuffled order, data-i their position, AnswerLetter the letter shown.
_OLD_ITEM = re.compile(r'<li data-i="(\d+)" data-o="(\d+)">')
_NEW_ITEM = re.compile(r'<li data-o="(\d+)">')
_ORDER = re.compile(r'data-order="([\d,]+)"')


def _shown_order(options: str) -> list[int]:
    """The digest indices of the options in the order the card shows them."""
    old = _OLD_ITEM.findall(options)
    if old:
        return [int(o) for _i, o in old]
    order = _ORDER.search(options)
    return (
        [int(o) for o in order.group(1).split(",")]
        if order
        else [int(o) for o in _NEW_ITEM.findall(options)]
    )


def test_deck_with_options_shuffled_in_the_html_updates_in_place(tmp_path: Path) -> None:
    state = tmp_path / "shuffled.state.json"
    shutil.copyfile(BEFORE / "shuffled.state.json", state)
    with fresh_collection(tmp_path) as col:
        first = import_package(col, BEFORE / "shuffled.apkg")
        assert (first.new, first.conflicting) == (12, 0)
        mcq = col.find_notes(f'"note:{MCQ_MODEL_NAME}"')
        before = {}
        for note_id in mcq:
            note = col.get_note(note_id)
            before[note.guid] = (_shown_order(note["Options"]), note["AnswerLetter"])
        reviewed = {}
        for note_id in sorted(mcq)[:3]:
            card_id = col.get_note(note_id).card_ids()[0]
            review_card(col, card_id)
            reviewed[card_id] = schedule(col.get_card(card_id))
        cards_before = col.card_count()

        plan = plan_adhoc([DIGEST], tmp_path / "after.apkg", deck="AI Papers")
        report = builder.build(dataclasses.replace(plan, state=state), now=NOW)
        # The MCQ notes changed (options in the digest's order, its letters); summaries did not.
        assert (report.new, report.changed, report.unchanged) == (0, len(mcq), 12 - len(mcq))
        second = import_package(col, tmp_path / "after.apkg")
        assert (second.new, second.updated, second.conflicting) == (0, len(mcq), 0)
        assert col.card_count() == cards_before  # the deck's Topic cards stay: no blank card
        assert blank_cards(col) == []
        template = _assert_reviews_kept_and_note_types_updated(col, reviewed)
        assert b"data-order" in template  # the card script that reorders them

        # A learner sees the same order as before, and the back names the same letter; the
        # field now lists the digest's order with the digest's letter, for reading without JS.
        shuffled = 0
        for note_id in mcq:
            note = col.get_note(note_id)
            order, letter = before[note.guid]
            assert _shown_order(note["Options"]) == order
            assert [int(o) for o in _NEW_ITEM.findall(note["Options"])] == sorted(order)
            if letter:
                digest_letter = note["AnswerLetter"]
                assert letter == "ABCDEFGH"[order.index("ABCDEFGH".index(digest_letter))]
            shuffled += order != sorted(order)
        assert shuffled > 0


def _assert_reviews_kept_and_note_types_updated(col: Any, reviewed: dict[int, Any]) -> bytes:
    """Check the reviewed cards kept their schedule and review log, and both note types were
    updated in place (not duplicated as "Paper MCQ+"); the MCQ note type's one template."""
    for card_id, before in reviewed.items():
        assert schedule(col.get_card(card_id)) == before
    assert col.db.scalar("select count() from revlog") == len(reviewed)
    names = sorted(n.name for n in col.models.all_names_and_ids() if "Paper" in n.name)
    assert names == [MCQ_MODEL_NAME, SUMMARY_MODEL_NAME], names
    # Read from the database (the Python side caches note types).
    mtimes = col.db.list("select mtime_secs from notetypes where name like 'Paper %'")
    assert mtimes == [identity.MODEL_MOD] * 2, mtimes
    templates = col.db.list("select config from templates where ntid = ?", identity.MCQ_MODEL_ID)
    assert len(templates) == 1
    return bytes(templates[0])
