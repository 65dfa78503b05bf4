"""Decks checked with the real Anki backend: first import, identical rebuilds, edits, reviews,
empty fields, hostile text.

Each test opens its own collection in tmp_path (about 0.15 s each)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from anki_helpers import (
    fresh_collection,
    guids,
    import_package,
    note_by_guid,
    rendered_cards,
    review_card,
    schedule,
)
from build_samples import digest, question, quiz_paper, table_paper
from helpers import NOW, QUIZ_SEED, ROOT, TABLE_SEED

from flashcards import identity
from flashcards.anki.export import write_package
from flashcards.anki.notes import build_notes
from flashcards.anki.notetypes import MCQ_MODEL_NAME, SUMMARY_MODEL_NAME
from flashcards.anki.state import DeckState, stamp_notes
from flashcards.build import BuildReport, build
from flashcards.deckdef import load_deck_definition
from flashcards.model import Digest
from flashcards.parse import parse_paths
from flashcards.plan import plan_adhoc, plan_for_definition

# The summary fields that become cards in a new deck (every deck here): all but the topic.
CARD_FIELDS = ("previous_research", "problem", "methods", "results", "summary")
EDITED_PROMPT = "what was the primary gap Step1X-Edit aimed to address"


@pytest.fixture
def digests_dir(seeds: Path, tmp_path: Path) -> Path:
    """A private copy of the seed digests that a test may edit."""
    folder = tmp_path / "digests"
    shutil.copytree(seeds, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _build(digests_dir: Path, out: Path, now: int = NOW) -> BuildReport:
    return build(plan_adhoc([digests_dir], out / "deck.apkg"), now=now)


def _expected_counts(parsed: list[Digest]) -> tuple[int, int]:
    """Notes and cards the seeds must give, counted from the parsed model alone."""
    papers = [p for d in parsed for p in d.papers]
    assert len({p.key for p in papers}) == len(papers)  # the seeds repeat no paper
    notes = cards = 0
    for paper in papers:
        filled = sum(1 for k in CARD_FIELDS if paper.fields.get(k, "").strip())
        notes += len(paper.questions) + (1 if filled else 0)
        cards += len(paper.questions) + filled
    return notes, cards


def _has_template_error(html: str) -> bool:
    return bool(re.search(r"template has a problem|Found '⁨|unknown field|Invalid HTML", html, re.I))


def test_fresh_import_of_the_seed_deck(digests_dir: Path, tmp_path: Path) -> None:
    report = _build(digests_dir, tmp_path / "out")
    notes, cards = _expected_counts(list(parse_paths([digests_dir]).digests))
    assert (report.notes, report.cards) == (notes, cards) == (62, 89)
    assert (report.new, report.changed, report.unchanged) == (62, 0, 0)

    with fresh_collection(tmp_path) as col:
        result = import_package(col, report.output)
        assert (result.new, result.updated, result.duplicate, result.conflicting) == (62, 0, 0, 0)
        assert col.note_count() == notes and col.card_count() == cards
        rendered = rendered_cards(col)
        assert {c.notetype for c in rendered} == {MCQ_MODEL_NAME, SUMMARY_MODEL_NAME}
        assert {c.deck for c in rendered} == {"AI Papers"}
        for card in rendered:
            assert card.question.strip() and card.answer.strip()
            assert not _has_template_error(card.question + card.answer), card
            if card.notetype == MCQ_MODEL_NAME:
                assert 'id="fc-choices"' in card.question and 'id="fc-back"' in card.answer
                # The seeds carry no key and no marks: every answer is inferred, never certain,
                # and exactly the unsure ones are tagged for checking.
                assert re.search(r"(>Inferred|Unsure — inferred), \d+%", card.answer)
                unsure = "answer::unsure" in col.get_card(card.card_id).note().tags
                assert unsure == ("Unsure — inferred" in card.answer)
                assert unsure == ("fc-source fc-src-unsure" in card.answer)
            else:
                assert "fc-field" in card.answer
        # The MCQ note type keeps our field and template ids (so later versions still match).
        model = col.models.get(identity.MCQ_MODEL_ID)
        assert model is not None
        assert model["flds"][0]["id"] == identity.field_id(identity.MCQ_MODEL_ID, "Prompt")
        assert model["tmpls"][0]["id"] == identity.template_id(identity.MCQ_MODEL_ID, "Question")
        # New cards come in digest-date order: the 2025-02-26 table digest is studied first.
        first = col.get_card(min(col.find_cards(""), key=lambda cid: col.get_card(cid).due))
        assert "date::2025-02-26" in first.note().tags
        assert sorted(col.get_card(c).due for c in col.find_cards(""))[-1] == notes


def test_identical_rebuild_is_byte_identical_and_imports_as_duplicates(
    digests_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _build(digests_dir, out, NOW)
    deck_bytes, state_bytes = first.output.read_bytes(), first.state.read_bytes()
    state_mtime = first.state.stat().st_mtime_ns
    second = _build(digests_dir, out, NOW + 3600)
    assert (second.new, second.changed, second.unchanged, second.written) == (0, 0, 62, False)
    assert second.output.read_bytes() == deck_bytes
    assert second.state.read_bytes() == state_bytes
    assert second.state.stat().st_mtime_ns == state_mtime  # not even rewritten
    # Beside them only the build cache, which the identical rebuild reused without rewriting.
    assert sorted(p.name for p in out.iterdir()) == ["deck.apkg", "deck.cache", "deck.state.json"]

    with fresh_collection(tmp_path) as col:
        import_package(col, first.output)
        again = import_package(col, second.output)
        assert (again.new, again.updated, again.duplicate) == (0, 0, 62)


def test_edits_update_notes_in_place_and_keep_review_history(
    digests_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _build(digests_dir, out, NOW)
    namespace = identity.deck_namespace("AI Papers", "deck.apkg")  # a first build's
    edited_guid = identity.note_guid("arxiv:2504.17761", "mcq", 1, namespace=namespace)
    untouched_guid = identity.note_guid("arxiv:2504.18415", "mcq", 2, namespace=namespace)
    summary_guid = identity.note_guid("arxiv:2502.18137", "summary", namespace=namespace)

    with fresh_collection(tmp_path) as col:
        import_package(col, first.output)
        reviewed = {}
        for guid in (edited_guid, untouched_guid, summary_guid):
            card_id = note_by_guid(col, guid).card_ids()[0]
            reviewed[card_id] = schedule(review_card(col, card_id))
        assert all(s[4] == 1 for s in reviewed.values())  # one review each
        before = guids(col)

        # A reworded question, and papers reordered in both formats.
        quiz = digests_dir / QUIZ_SEED
        text = quiz.read_text(encoding="utf-8")
        assert EDITED_PROMPT in text
        text = text.replace(EDITED_PROMPT, "what main gap did Step1X-Edit aim to close")
        parts = re.split(r"(?m)^(?=\d+/\d+\n+Paper \d+\n)", text)
        quiz.write_text(parts[0] + parts[2] + parts[1] + "".join(parts[3:]), encoding="utf-8")
        table = digests_dir / TABLE_SEED
        lines = table.read_text(encoding="utf-8").split("\n")
        rows = [i for i, line in enumerate(lines) if line.startswith("| ") and "arxiv" in line]
        lines[rows[0]], lines[rows[1]] = lines[rows[1]], lines[rows[0]]
        table.write_text("\n".join(lines), encoding="utf-8")

        second = _build(digests_dir, out, NOW)
        assert (second.new, second.changed, second.unchanged) == (0, 1, 61)
        result = import_package(col, second.output)
        assert (result.new, result.updated, result.duplicate) == (0, 1, 61)
        assert guids(col) == before
        note = note_by_guid(col, edited_guid)
        assert "what main gap did Step1X-Edit aim to close" in note["Prompt"]
        assert note.mod == NOW

        # Another fix rebuilt within the same second: the note's time must still move forward.
        quiz.write_text(quiz.read_text(encoding="utf-8").replace("aim to close", "aim to shut"))
        third = _build(digests_dir, out, NOW)
        assert (third.new, third.changed, third.unchanged) == (0, 1, 61)
        result = import_package(col, third.output)
        assert (result.new, result.updated, result.duplicate) == (0, 1, 61)
        note = note_by_guid(col, edited_guid)
        assert "what main gap did Step1X-Edit aim to shut" in note["Prompt"]
        assert note.mod == NOW + 1
        for card_id, state in reviewed.items():
            assert schedule(col.get_card(card_id)) == state
        assert col.db.scalar("select count() from revlog") == 3


def test_hostile_text_shows_literally_and_runs_nothing(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script> <img src=x onerror=alert(2)> {{c1::cloze}} [sound:x.mp3]"
    q = question(1, hostile, options=(hostile, "{{Title}}", "}}{{"), answer=0, answer_source="key")
    paper = dataclasses.replace(
        quiz_paper(fields={"problem": hostile, "summary": "{{FrontSide}}"}, questions=[q]),
        title=hostile,
        url="javascript:alert(3)",
        arxiv_id=None,
    )
    specs = build_notes([digest(date(2025, 4, 28), paper)], deck="Hostile")
    stamped, _ = stamp_notes(specs, DeckState(), NOW)
    write_package(tmp_path / "hostile.apkg", stamped)

    with fresh_collection(tmp_path) as col:
        assert import_package(col, tmp_path / "hostile.apkg").new == 2
        for card in rendered_cards(col):
            html = card.question + card.answer
            assert not _has_template_error(html)
            # Our own script is the only one; digest text is escaped wherever it lands.
            ours = 2 if card.notetype == MCQ_MODEL_NAME else 0  # front, and front on the back
            assert html.count("<script") == ours
            assert "<img" not in html and "alert(1)</script>" not in html
            assert "javascript:" not in html and 'class="cloze"' not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            assert "&#123;&#123;c1::cloze&#125;&#125;" in html
            assert not col.get_card(card.card_id).question_av_tags()
            assert not col.get_card(card.card_id).answer_av_tags()
        summary = [c for c in rendered_cards(col) if c.template == "Summary"]
        assert "&#123;&#123;FrontSide&#125;&#125;" in summary[0].answer


def test_empty_fields_give_no_cards_and_anki_agrees(tmp_path: Path) -> None:
    sparse = quiz_paper(
        "2501.00005", fields={"problem": "Only a problem.", "results": "And results."}
    )
    specs = build_notes([digest(date(2025, 4, 28), sparse, table_paper())], deck="D")
    stamped, _ = stamp_notes(specs, DeckState(), NOW)
    result = write_package(tmp_path / "sparse.apkg", stamped)
    assert result.cards == 2 + 3 + 1

    with fresh_collection(tmp_path) as col:
        import_package(col, tmp_path / "sparse.apkg")
        templates = sorted(c.template for c in rendered_cards(col) if c.notetype != MCQ_MODEL_NAME)
        assert templates == ["Problem", "Results", "Summary"]
        # Anki's own card generation finds nothing to add and nothing empty.
        for note_id in col.find_notes(""):
            note = col.get_note(note_id)
            count = len(note.card_ids())
            col.update_note(note)
            assert len(col.get_note(note_id).card_ids()) == count
        assert not col.get_empty_cards().notes


def test_subdecks_by_month_and_a_second_deck_in_one_collection(tmp_path: Path) -> None:
    april = digest(date(2025, 4, 28), quiz_paper())
    may = digest(date(2025, 5, 2), table_paper())
    for name, subdecks in (("AI Papers", "month"), ("Other", None)):
        specs = build_notes([april, may], deck=name, subdecks=subdecks)
        if name == "Other":  # another deck with other papers: ids overlap, GUIDs do not
            specs = build_notes(
                [digest(date(2025, 4, 28), quiz_paper("2509.00001", "Unrelated"))], deck=name
            )
        stamped, _ = stamp_notes(specs, DeckState(), NOW)
        write_package(tmp_path / f"{name}.apkg", stamped)

    with fresh_collection(tmp_path) as col:
        assert import_package(col, tmp_path / "AI Papers.apkg").new == 5
        assert import_package(col, tmp_path / "Other.apkg").new == 4
        decks = {c.deck for c in rendered_cards(col)}
        assert decks == {"AI Papers::2025-04", "AI Papers::2025-05", "Other"}
        assert col.note_count() == 9


def test_bundled_deck_imports_with_answers_from_the_key(tmp_path: Path) -> None:
    definition = load_deck_definition(ROOT / "decks" / "ai-papers.yaml")
    plan = dataclasses.replace(
        plan_for_definition(definition),
        output=tmp_path / "ai-papers.apkg",
        state=tmp_path / "ai-papers.state.json",
    )
    report = build(plan, now=NOW)
    notes, cards = _expected_counts(list(parse_paths(plan.inputs).digests))
    assert (report.notes, report.cards) == (notes, cards)

    with fresh_collection(tmp_path) as col:
        assert import_package(col, report.output).new == notes
        mcq = [c for c in rendered_cards(col) if c.notetype == MCQ_MODEL_NAME]
        assert mcq and all("From your answer key" in c.answer for c in mcq)
        assert all('class="fc-answer"' in c.answer for c in mcq)
        tags = set(col.tags.all())
        assert "ai-papers" in tags and any(t.startswith("topic::") for t in tags)
