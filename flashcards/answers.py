"""Step 2a: resolve the correct option of every question.

In order: the user's answer key, a mark in the digest itself (set by the parser as
`answer_source="marked"`), then inference from the paper's own text (`flashcards.inference`).

STUB — issue "Resolve the correct option" replaces the bodies; the signatures are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flashcards.model import Digest

#: Inferred answers with a confidence below this are marked `unsure` (tag `answer::unsure`).
DEFAULT_UNSURE_THRESHOLD = 0.9


@dataclass(frozen=True)
class AnswerKey:
    """Correct options per paper key (`Paper.key`), 0-based, in question order."""

    source: str
    answers: dict[str, tuple[int | None, ...]] = field(default_factory=dict)


def load_answer_key(path: str | Path) -> AnswerKey:
    raise NotImplementedError


def resolve_answers(
    digests: list[Digest],
    key: AnswerKey | None = None,
    *,
    threshold: float = DEFAULT_UNSURE_THRESHOLD,
) -> list[Digest]:
    """Digests with `answer`, `answer_source`, `confidence`, `unsure`, `evidence` filled."""
    return list(digests)
