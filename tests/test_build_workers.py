"""What crosses between a build and its worker processes: exactly what one process makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import FIXTURES, spy_on_worker_pools

from flashcards import build as builder
from flashcards.anki.notes import paper_occurrences
from flashcards.anki.state import DeckState
from flashcards.parse import parse_paths
from flashcards.topics import load_taxonomy

INPUTS = [FIXTURES / "quiz", FIXTURES / "markdown"]


def test_notes_from_workers_are_one_process_s_and_share_the_digests_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker leaves out of its notes the fields that are texts of the paper's digests; this
    process puts its own strings back: the same notes, holding no second copy of the texts."""
    digests = parse_paths(INPUTS, collect_errors=True).digests
    plan = builder.plan_adhoc(INPUTS, tmp_path / "deck.apkg", cache=False)
    taxonomy = load_taxonomy(None)

    def notes() -> tuple[list[object], list[builder.NoteGroup]]:
        resolved, groups = builder._notes(plan, digests, None, taxonomy, "ns", DeckState())
        return list(resolved), groups

    _, alone = notes()
    with monkeypatch.context() as patch:
        patch.setattr(builder, "PARALLEL_MIN_PAPERS", 2)
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
        texts = builder._paper_texts(occurrences[group.key])
        for spec in group.specs:
            for field in spec.fields:
                if field and field in texts:  # then the very string
                    assert any(field is text for text in texts)
                    shared += 1
    assert shared > len(groups)  # titles and summaries at least
