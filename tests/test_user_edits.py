"""What a re-import keeps of what the user did in Anki (README, "Caveats from how Anki imports"),
checked with the real backend: an edited note, a card moved to a deck of the user's own, reviews.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from anki.collection import Collection
from anki.notes import Note
from anki_helpers import blank_cards, fresh_collection, import_package, review_card, schedule
from digest_writers import write_quiz_text
from helpers import NOW

from flashcards.build import build
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc

DAY = date(2025, 3, 4)


def _write(folder: Path, first: str, second: str) -> None:
    paper = Paper(
        title="Tiny Routers",
        arxiv_id="2503.00102",
        fields={"problem": "Routing is slow."},
        questions=(
            Question(1, first, ("Tokens", "Pixels")),
            Question(2, second, ("Fast", "Slow")),
        ),
    )
    text = write_quiz_text(DAY, [(paper, "https://arxiv.org/abs/2503.00102")])
    (folder / "day.txt").write_text(text, encoding="utf-8")


def _note_with(col: Collection, text: str) -> Note:
    (note_id,) = col.find_notes(f'"Prompt:*{text}*"')
    return col.get_note(note_id)


def test_a_reimport_keeps_the_users_edits_decks_and_reviews_until_the_note_changes(
    tmp_path: Path,
) -> None:
    digests = tmp_path / "digests"
    digests.mkdir()
    _write(digests, "What is routed?", "How fast is it?")
    out = tmp_path / "deck.apkg"
    build(plan_adhoc([digests], out), now=NOW)
    with fresh_collection(tmp_path) as col:
        import_package(col, out)
        notes = col.note_count()
        # The user rewords question 1 in Anki, and moves question 2's card to a deck of theirs
        # after reviewing it.
        edited = _note_with(col, "What is routed?")
        edited["Prompt"] = "What is routed? (my words)"
        col.update_note(edited)
        moved = _note_with(col, "How fast is it?")
        (card_id,) = moved.card_ids()
        reviewed = schedule(review_card(col, card_id))
        mine = col.decks.id("Mine")
        col.set_deck([card_id], mine)

        # A build that changes neither note: both stay as the user left them.
        _write(digests, "What is routed?", "How fast is it?")
        build(plan_adhoc([digests], out), now=NOW + 10)
        result = import_package(col, out)
        assert (result.new, result.updated) == (0, 0)
        assert col.get_note(edited.id)["Prompt"] == "What is routed? (my words)"

        # A later build that fixes question 2: updated in place, the card stays in the user's
        # deck with its reviews. Question 1, edited in Anki after that build's notes were
        # stamped, is newer there: Anki keeps the user's words.
        _write(digests, "What is routed now?", "How fast is it really?")
        build(plan_adhoc([digests], out), now=NOW + 20)
        result = import_package(col, out)
        assert (result.new, result.updated, result.conflicting) == (0, 1, 0)
        assert col.get_note(edited.id)["Prompt"] == "What is routed? (my words)"
        assert "How fast is it really?" in col.get_note(moved.id)["Prompt"]
        card = col.get_card(card_id)
        assert card.did == mine and schedule(card) == reviewed

        # A fix built after the user's edit is newer than it: it replaces the user's words (what
        # the README says a user should expect; Anki decides by modification time alone).
        _write(digests, "What is routed today?", "How fast is it really?")
        build(plan_adhoc([digests], out), now=int(time.time()) + 120)
        result = import_package(col, out)
        assert (result.new, result.updated) == (0, 1)
        assert "What is routed today?" in col.get_note(edited.id)["Prompt"]
        assert col.note_count() == notes and not blank_cards(col)
