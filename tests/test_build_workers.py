"""What crosses between a build and its worker processes: exactly what one process makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import FIXTURES, NOW, spy_on_worker_pools

from flashcards import buildnotes, identity
from flashcards.anki.notes import NoteGroup, paper_occurrences, sort_notes
from flashcards.anki.state import DeckState, NoteState, stamp_notes
from flashcards.parse import parse_paths
from flashcards.plan import plan_adhoc
from flashcards.topics import load_taxonomy

INPUTS = [FIXTURES / "quiz", FIXTURES / "markdown"]


def test_notes_from_workers_are_one_process_s_and_share_the_digests_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker leaves out of its notes the fields that are texts of the paper's digests; this
    process puts its own strings back: the same notes, holding no second copy of the texts."""
    digests = parse_paths(INPUTS, collect_errors=True).digests
    plan = plan_adhoc(INPUTS, tmp_path / "deck.apkg", cache=False)
    taxonomy = load_taxonomy(None)

    def notes() -> tuple[list[object], list[NoteGroup]]:
        resolved, groups = buildnotes.make_notes(plan, digests, None, taxonomy, "ns", DeckState())
        return list(resolved), groups

    _, alone = notes()
    with monkeypatch.context() as patch:
        patch.setattr(buildnotes, "PARALLEL_MIN_PAPERS", 2)
        spawned = spy_on_worker_pools(patch)
        resolved, groups = notes()
    assert spawned == [1]  # the notes' pool (too few papers to infer answers in workers)
    assert groups == alone
    assert [s.content_hash for g in groups for s in g.specs] == [
        s.content_hash for g in alone for s in g.specs
    ]
    shared = 0
    occurrences = dict(paper_occurrences(resolved))  # type: ignore[arg-type]
    for group in groups:
        texts = buildnotes._paper_texts(occurrences[group.key])
        for spec in group.specs:
            for field in spec.fields:
                if field and field in texts:  # then the very string
                    assert any(field is text for text in texts)
                    shared += 1
    assert shared > len(groups)  # titles and summaries at least


def test_preferred_ids_from_workers_stamp_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notes' preferred ids, computed where the notes are made, are those stamping computes
    for the notes the state lacks; stamped with them, the notes get the ids and times they get
    without (including a note whose id another note took first)."""
    digests = parse_paths(INPUTS, collect_errors=True).digests
    plan = plan_adhoc(INPUTS, tmp_path / "deck.apkg", cache=False)
    taxonomy = load_taxonomy(None)
    _, alone = buildnotes.make_notes(plan, digests, None, taxonomy, "ns", DeckState())
    specs = sort_notes(alone)
    # A state that has the first note, and whose only other note holds the second's id.
    second = identity.note_id_candidate(specs[1].guid, specs[1].first_date)
    previous = DeckState(
        {
            specs[0].guid: NoteState("old", 1, 16),
            "someone-else": NoteState("x", 1, second),
        },
        "ns",
    )
    with monkeypatch.context() as patch:
        patch.setattr(buildnotes, "PARALLEL_MIN_PAPERS", 2)
        spawned = spy_on_worker_pools(patch)
        ids: dict[str, int] = {}
        buildnotes.make_notes(plan, digests, None, taxonomy, "ns", previous, ids=ids)
    assert spawned == [1]
    assert ids == {
        spec.guid: identity.note_id_candidate(spec.guid, spec.first_date) for spec in specs[1:]
    }
    stamped = stamp_notes(specs, previous, NOW, namespace="ns", ids=ids)
    assert stamped == stamp_notes(specs, previous, NOW, namespace="ns")
    assert stamped[0][1].note_id == second + identity.NOTE_ID_STEP  # past the taken id
