"""Step 2a: resolve the correct option of every question.

In order: the user's answer key (`flashcards.answers.key`), a mark in the digest itself (set by
the parser as `answer_source="marked"`), then inference from the paper's own text
(`flashcards.answers.model`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from flashcards.answers.features import PaperIndex
from flashcards.answers.key import AnswerKey, check_key
from flashcards.answers.model import infer_answer
from flashcards.errors import ConfigError
from flashcards.model import Digest, Paper, Question

#: Inferred answers with a confidence below this are marked `unsure` (tag `answer::unsure`).
#: On held-out months of the real digests, answers at or above 0.88 were right 98% of the time
#: and covered about 66% of all questions, 59% without the flow charts; on hand-made digests
#: 0.88 and 0.9 let the same few wrong answers through (README "## Answers").
DEFAULT_UNSURE_THRESHOLD = 0.88


def _resolve_paper(paper: Paper, key: AnswerKey | None, threshold: float) -> Paper:
    letters = key.answers.get(paper.key, ()) if key else ()
    index: PaperIndex | None = None  # built once per paper, and only if a question needs it
    questions: list[Question] = []
    for position, question in enumerate(paper.questions):
        given = letters[position] if position < len(letters) else None
        if given is not None:
            question = replace(
                question,
                answer=given,
                answer_source="key",
                confidence=1.0,
                unsure=False,
                evidence=None,
            )
        elif question.answer_source in ("marked", "key") and question.answer is not None:
            question = replace(question, confidence=1.0, unsure=False)
        elif len(question.options) >= 2:
            index = index or PaperIndex(paper)
            guess = infer_answer(paper, question, index=index)
            question = replace(
                question,
                answer=guess.answer,
                answer_source="inferred",
                confidence=guess.confidence,
                unsure=guess.confidence < threshold,
                evidence=guess.evidence,
            )
        questions.append(question)
    return replace(paper, questions=tuple(questions))


def resolve_answers(
    digests: list[Digest],
    key: AnswerKey | None = None,
    *,
    threshold: float | None = None,
    require_match: bool = True,
) -> list[Digest]:
    """Digests with `answer`, `answer_source`, `confidence`, `unsure`, `evidence` filled;
    inferred answers under `threshold` (None: `DEFAULT_UNSURE_THRESHOLD`) are unsure.

    Raises `ConfigError` (naming the key file and line) for a key entry that gives more letters
    than the paper has questions or a letter beyond a question's options, and, with
    `require_match`, for an entry that matches no paper.
    """
    if threshold is None:
        threshold = DEFAULT_UNSURE_THRESHOLD
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"the unsure threshold must be between 0 and 1, got {threshold}")
    if key is not None:
        check_key(key, digests, require_match=require_match)
    return [
        digest.with_papers(tuple(_resolve_paper(paper, key, threshold) for paper in digest.papers))
        for digest in digests
    ]


@dataclass(frozen=True)
class AnswerCounts:
    """Where the answers of resolved digests came from (every question of every digest)."""

    questions: int
    key: int
    marked: int
    inferred: int
    unsure: int  # inferred answers under the threshold


def count_answers(digests: Iterable[Digest]) -> AnswerCounts:
    questions = [q for d in digests for p in d.papers for q in p.questions]
    sources = Counter(q.answer_source for q in questions)
    return AnswerCounts(
        questions=len(questions),
        key=sources["key"],
        marked=sources["marked"],
        inferred=sources["inferred"],
        unsure=sum(1 for q in questions if q.unsure),
    )
