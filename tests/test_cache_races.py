"""A digest that changes while a build reads it: the build's cache must not record the bytes it
hashed for notes made from other bytes, or a later build of the first bytes reuses them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from digest_writers import write_quiz_text
from helpers import NOW

from flashcards import build as builder
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc

DAY = 86_400


def _paper(n: int, variant: str = "") -> Paper:
    return Paper(
        title=f"Paper {n}: a study of planners{variant}",
        arxiv_id=f"2501.{n:05d}",
        fields={
            "topic": "Language model reasoning.",
            "problem": f"Problem {n}: a critic is needed{variant}.",
            "methods": f"A planner proposes, a critic checks{variant}.",
        },
        questions=(
            Question(
                number=1,
                prompt=f"What checks the planner of paper {n}{variant}?",
                options=("A critic", "A tokenizer", "A retriever"),
            ),
        ),
    )


def _text(day: str, papers: list[Paper]) -> str:
    return write_quiz_text(
        date.fromisoformat(day), [(p, f"https://arxiv.org/abs/{p.arxiv_id}") for p in papers]
    )


def _build(folder: Path, now: int, *, cache: bool = True) -> None:
    key = folder / "key.yaml"
    taxonomy = folder / "taxonomy.yaml"
    plan = plan_adhoc(
        [folder / "digests"],
        folder / "deck.apkg",
        cache=cache,
        answers=key if key.exists() else None,
        taxonomy=taxonomy if taxonomy.exists() else None,
    )
    builder.build(plan, now=now)


def _outputs(folder: Path) -> tuple[bytes, bytes]:
    return (folder / "deck.apkg").read_bytes(), (folder / "deck.state.json").read_bytes()


def _without_cache(folder: Path, copy: Path, now: int) -> tuple[bytes, bytes]:
    """What a build without the cache writes from `folder`'s digests and state."""
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.cache"))
    _build(copy, now, cache=False)
    return _outputs(copy)


def _changing_after_hashing(
    monkeypatch: pytest.MonkeyPatch, path: Path, text: str
) -> Callable[[], None]:
    """Make the next build's inputs change (`path` rewritten as `text`) right after the build
    hashed them for its fingerprint, before it reads them; returns a function undoing it."""
    hashed = builder._fingerprint

    def hash_then_change(*args: Any) -> Any:
        result = hashed(*args)
        path.write_text(text, encoding="utf-8")
        return result

    monkeypatch.setattr(builder, "_fingerprint", hash_then_change)
    return lambda: monkeypatch.setattr(builder, "_fingerprint", hashed)


TAXONOMY = """\
topics:
  planning:
    label: Planning
    keywords: [{}]
fallback: other
"""


@pytest.mark.parametrize("changed", ["added-file", "edited-file", "answer-key", "taxonomy"])
def test_an_input_changed_during_a_build_is_not_cached_under_its_old_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changed: str
) -> None:
    deck = tmp_path / "deck"
    digests = deck / "digests"
    digests.mkdir(parents=True)
    (digests / "2025-03-10.txt").write_text(_text("2025-03-10", [_paper(1), _paper(2)]))
    day = digests / "2025-03-11.txt"
    first = _text("2025-03-11", [_paper(3)])
    second = _text("2025-03-11", [_paper(3, variant=" (edited)")])
    if changed == "edited-file":  # in the last build already, with other text
        day.write_text(_text("2025-03-11", [_paper(3, variant=" (draft)")]), encoding="utf-8")
    elif changed == "answer-key":
        day.write_text(first, encoding="utf-8")
        day = deck / "key.yaml"
        first, second = '"2501.00003": [A]\n', '"2501.00003": [B]\n'
    elif changed == "taxonomy":
        day.write_text(first, encoding="utf-8")
        day = deck / "taxonomy.yaml"
        first, second = TAXONOMY.format("planner"), TAXONOMY.format("zebra")
    if changed in ("answer-key", "taxonomy"):
        day.write_text(first, encoding="utf-8")
    _build(deck, NOW)

    # The input is written (or edited) while the build reads its inputs: the build reads the
    # second text after hashing the first (a key or taxonomy while a new digest is built).
    day.write_text(first, encoding="utf-8")
    (digests / "2025-03-12.txt").write_text(_text("2025-03-12", [_paper(4)]), encoding="utf-8")
    undo = _changing_after_hashing(monkeypatch, day, second)
    _build(deck, NOW + DAY)
    undo()

    # Back to the first text: the deck must hold it, as a build without the cache writes it.
    day.write_text(first, encoding="utf-8")
    expected = _without_cache(deck, tmp_path / "reference", NOW + 2 * DAY)
    _build(deck, NOW + 2 * DAY)
    assert _outputs(deck) == expected
