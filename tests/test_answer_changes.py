"""`answer::changed` is raised by a different right option, never by an edit of the same one:
checked build by build through the real Anki backend, and rule by rule on note specs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from anki_helpers import fresh_collection, import_package, note_by_guid, rendered_cards
from build_samples import digest, question, quiz_paper
from digest_writers import write_quiz_text
from helpers import NOW

from flashcards.anki.notes import NoteSpec, build_notes
from flashcards.anki.notetypes import MCQ_FIELDS
from flashcards.anki.state import (
    CHANGED_TAG,
    DeckState,
    flag_changed_answers,
    load_state,
    save_state,
    stamp_notes,
)
from flashcards.build import build
from flashcards.plan import plan_adhoc

DAY = date(2025, 5, 6)
TYPO = ("A Tranformer encoder with 12 layers", "A recurrent decoder", "A convolutional stem")
FIXED = ("A Transformer encoder with 12 layers", *TYPO[1:])


def _digest_file(folder: Path, options: tuple[str, ...], marked: int) -> None:
    q = question(1, "Which backbone reads the input?", options=options, answer=marked)
    paper = quiz_paper(questions=[q])
    (folder / f"{DAY.isoformat()}.txt").write_text(write_quiz_text(DAY, [(paper, "")]), "utf-8")


def test_a_typo_fix_is_no_change_and_a_new_option_is(tmp_path: Path) -> None:
    digests = tmp_path / "digests"
    digests.mkdir()
    out = tmp_path / "out" / "deck.apkg"

    def build_and_import(options: tuple[str, ...], marked: int, now: int) -> tuple[str, str]:
        _digest_file(digests, options, marked)
        build(plan_adhoc([digests], out), now=now)
        import_package(col, out)
        [card] = [c for c in rendered_cards(col) if c.notetype == "Paper MCQ"]
        return " ".join(note_by_guid(col, card.guid).tags), card.answer

    with fresh_collection(tmp_path) as col:
        tags, _ = build_and_import(TYPO, 0, NOW)
        assert CHANGED_TAG not in tags.split()
        # The digest fixes the spelling of the right option: the note is updated (the learner
        # sees the fixed text) but nothing was corrected that they must unlearn.
        tags, back = build_and_import(FIXED, 0, NOW + 100)
        assert "Transformer encoder" in back and "Tranformer" not in back
        assert CHANGED_TAG not in tags.split()
        assert "An earlier version" not in back
        # Then the mark moves to another option: a real correction, flagged, saying what it was.
        tags, back = build_and_import(FIXED, 1, NOW + 200)
        assert CHANGED_TAG in tags.split()
        assert "An earlier version of this card gave:" in back
        assert "A Transformer encoder with 12 layers" in back


# --- the rule, on note specs ------------------------------------------------------------------


def _specs(options: tuple[str, ...], answer: int, source: str = "key") -> list[NoteSpec]:
    q = question(1, options=options, answer=answer, answer_source=source, confidence=1.0)
    return build_notes([digest(DAY, quiz_paper(questions=[q]))], deck="D", kinds=["mcq"])


def _flagged_after(
    before: tuple[tuple[str, ...], int, str], after: tuple[tuple[str, ...], int, str]
) -> bool:
    _stamped, state = stamp_notes(_specs(*before), DeckState(), NOW)
    [spec] = flag_changed_answers(_specs(*after), state)
    return CHANGED_TAG in spec.tags


def test_same_option_edited_is_no_change() -> None:
    assert not _flagged_after((TYPO, 0, "key"), (FIXED, 0, "key"))
    # Case, spacing and punctuation are no correction either.
    spaced = ("a transformer  encoder, with 12 layers", *TYPO[1:])
    assert not _flagged_after((FIXED, 0, "key"), (spaced, 0, "key"))
    # An inferred answer confirmed by a key whose digest fixed a typo meanwhile.
    assert not _flagged_after((TYPO, 0, "inferred"), (FIXED, 0, "key"))


def test_same_text_at_another_position_is_no_change() -> None:
    moved = (FIXED[1], FIXED[0], FIXED[2])
    assert not _flagged_after((FIXED, 0, "key"), (moved, 1, "key"))


def test_another_option_is_a_change() -> None:
    # Key B → C, and inferred → key with another option.
    assert _flagged_after((FIXED, 1, "key"), (FIXED, 2, "key"))
    assert _flagged_after((FIXED, 0, "inferred"), (FIXED, 1, "key"))
    # The old right option's typo fixed in the same build that moves the answer elsewhere.
    assert _flagged_after((TYPO, 0, "key"), (FIXED, 2, "key"))


def test_an_edit_that_changes_what_the_option_says_is_a_change() -> None:
    # Another number, or a rewritten option, in the same place: the learner's memory is wrong.
    other_number = ("A Transformer encoder with 24 layers", *FIXED[1:])
    assert _flagged_after((FIXED, 0, "key"), (other_number, 0, "key"))
    rewritten = ("A state-space model over raw bytes", *FIXED[1:])
    assert _flagged_after((FIXED, 0, "key"), (rewritten, 0, "key"))


def test_the_comparison_survives_the_state_file(tmp_path: Path) -> None:
    """The state records the Answer field as before (no new key): files written by earlier
    versions compare the same way."""
    _stamped, state = stamp_notes(_specs(TYPO, 0), DeckState(), NOW)
    save_state(state, tmp_path / "s.json")
    loaded = load_state(tmp_path / "s.json")
    [spec] = flag_changed_answers(_specs(FIXED, 0), loaded)
    assert CHANGED_TAG not in spec.tags
    [spec] = flag_changed_answers(_specs(FIXED, 1), loaded)
    assert CHANGED_TAG in spec.tags
    assert "A Tranformer encoder with 12 layers" in spec.fields[MCQ_FIELDS.index("Extra")]
