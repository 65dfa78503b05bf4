"""The collector's pause around steps that make many objects and no cycle."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from digest_writers import write_quiz_text
from helpers import NOW

from flashcards import build as builder
from flashcards import incremental
from flashcards.anki.notes import NoteSpec
from flashcards.anki.notetypes import MCQ_FIELDS
from flashcards.anki.state import DeckState, load_state, save_state, stamp_notes
from flashcards.gcpause import collection_paused
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc


class _Node:
    def __init__(self) -> None:
        self.other: object = None


def test_no_collection_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("a failing step")
    assert gc.isenabled()


def test_a_callers_pause_is_left_alone() -> None:
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_was_made_inside_skips_the_young_generations() -> None:
    """Objects made in the pause go to the oldest generation: a young collection right after
    does not traverse them."""
    with collection_paused():
        made = [[n] for n in range(1000)]
    young = {id(o) for generation in (0, 1) for o in gc.get_objects(generation)}
    assert not any(id(o) in young for o in made)
    assert any(o is made for o in gc.get_objects(2))  # a full collection looks at them


def test_a_cycle_made_inside_is_collected_later() -> None:
    """Nothing stays frozen: a full collection after the pause frees a cycle made in it."""
    with collection_paused():
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        gc.collect(0)  # an explicit collection of the young generation: the cycle is older
    gc.collect()
    assert gone() is None


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that runs while the test does."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.collect()
    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)


def _specs(count: int) -> list[NoteSpec]:
    fields = tuple(f"field {n}" for n in range(len(MCQ_FIELDS)))
    return [
        NoteSpec(f"guid{n}", "mcq", fields, ("topic",), "D", ("2025-03-10", "s", n, 1), 1)
        for n in range(count)
    ]


def test_a_large_state_is_read_and_stamped_without_collections(
    tmp_path: Path, collections: list[int]
) -> None:
    """Thousands of notes' states are many objects and no cycle: no collection runs over them
    while they are read or stamped."""
    specs = _specs(5000)
    _, state = stamp_notes(specs, DeckState(), NOW)
    save_state(state, tmp_path / "deck.state.json")
    collections.clear()
    loaded = load_state(tmp_path / "deck.state.json")
    assert collections == []
    stamped, _ = stamp_notes(specs, loaded, NOW)
    assert collections == []
    assert loaded.notes == state.notes and {s.status for s in stamped} == {"unchanged"}


def _quiz(day: str, numbers: range) -> str:
    papers = [
        (
            Paper(
                title=f"Paper {n} on planning",
                arxiv_id=f"2501.{n:05d}",
                fields={"topic": f"Topic {n}.", "results": f"Result {n}."},
                questions=(Question(1, f"What does paper {n} use?", ("A", "B", "C", "D")),),
            ),
            f"https://arxiv.org/abs/2501.{n:05d}",
        )
        for n in numbers
    ]
    return write_quiz_text(date.fromisoformat(day), papers)


def test_the_last_build_s_notes_are_read_back_without_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "digests").mkdir()
    (tmp_path / "digests" / "2025-03-10.txt").write_text(_quiz("2025-03-10", range(1, 40)))
    plan = plan_adhoc([tmp_path / "digests"], tmp_path / "deck.apkg", cache=True)
    builder.build(plan, now=NOW)
    collecting = []
    read = incremental.group_from_text

    def spy(*args: Any, **kwargs: Any) -> Any:
        collecting.append(gc.isenabled())
        return read(*args, **kwargs)

    monkeypatch.setattr(incremental, "group_from_text", spy)
    (tmp_path / "digests" / "2025-03-11.txt").write_text(_quiz("2025-03-11", range(40, 42)))
    report = builder.build(plan, now=NOW)
    assert report.new > 0 and len(collecting) == 39
    assert not any(collecting)
    assert gc.isenabled()
