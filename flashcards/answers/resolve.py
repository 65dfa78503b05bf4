"""Step 2a: resolve the correct option of every question.

In order: the user's answer key (`flashcards.answers.key`), a mark in the digest itself (set by
the parser as `answer_source="marked"`), then inference from the paper's own text
(`flashcards.answers.model`).
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, replace

from flashcards.answers.features import PaperIndex
from flashcards.answers.key import AnswerKey, check_key
from flashcards.answers.model import infer_answer
from flashcards.errors import ConfigError
from flashcards.model import AnswerSource, Digest, Paper, Question
from flashcards.parse.common import collapse_whitespace
from flashcards.workers import fork_iter

#: Inferred answers with a confidence below this are marked `unsure` (tag `answer::unsure`).
#: On held-out months of the real digests, answers at or above 0.88 were right 98% of the time
#: and covered about 66% of all questions, 59% without the flow charts; on hand-made digests
#: 0.88 and 0.9 let the same few wrong answers through (README "## Answers").
DEFAULT_UNSURE_THRESHOLD = 0.88


#: Fewer papers to infer than this are inferred in this process: starting workers would cost
#: more than they save (a paper takes a few milliseconds).
PARALLEL_MIN_PAPERS = 200


def _needs_inference(paper: Paper, key: AnswerKey | None) -> bool:
    letters = key.answers.get(paper.key, ()) if key else ()
    return any(
        (position >= len(letters) or letters[position] is None)
        and not (question.answer_source in ("marked", "key") and question.answer is not None)
        and len(question.options) >= 2
        for position, question in enumerate(paper.questions)
    )


def _resolved_questions(
    paper: Paper, *, key: AnswerKey | None, threshold: float
) -> tuple[Question, ...]:
    return _resolve_paper(paper, key, threshold).questions


def resolve_papers(papers: Sequence[Paper], key: AnswerKey | None, threshold: float) -> list[Paper]:
    """Each paper with its answers resolved (`_resolve_paper`), in order. Papers are independent:
    when many need inference they are inferred in forked worker processes
    (`flashcards.workers.fork_iter`), with the same results as here."""
    with contextlib.closing(_resolve_each(papers, key, threshold)) as resolved:
        return list(resolved)


def _resolve_each(
    papers: Sequence[Paper], key: AnswerKey | None, threshold: float
) -> Generator[Paper, None, None]:
    """`resolve_papers`' results one at a time, as the workers give them: what is done with
    each (and the papers with nothing to infer) is done here while they work on the next."""
    needs = [_needs_inference(paper, key) for paper in papers]
    job = functools.partial(_resolved_questions, key=key, threshold=threshold)
    inferred = [paper for paper, needed in zip(papers, needs, strict=True) if needed]
    with contextlib.closing(fork_iter(job, inferred, minimum=PARALLEL_MIN_PAPERS)) as questions:
        for paper, needed in zip(papers, needs, strict=True):
            if needed:
                yield replace(paper, questions=next(questions))
            else:
                yield _resolve_paper(paper, key, threshold)


#: `memo(paper, inputs)`: the resolved paper it kept for this paper and `inputs` (or None),
#: and a function that keeps one (called with the paper once resolved, when it had none).
Memo = Callable[[Paper, tuple[object, ...]], tuple[Paper | None, Callable[[Paper], None]]]


def _resolve_paper(paper: Paper, key: AnswerKey | None, threshold: float) -> Paper:
    if not paper.questions:  # a table digest's paper: nothing to resolve
        return paper
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
    memo: Memo | None = None,
) -> list[Digest]:
    """Digests with `answer`, `answer_source`, `confidence`, `unsure`, `evidence` filled;
    inferred answers under `threshold` (None: `DEFAULT_UNSURE_THRESHOLD`) are unsure.

    `memo` (see `Memo`), if given, keeps resolved papers: `inputs` is everything besides the
    paper and the code the result depends on.

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
    digests = share_known_answers(digests, key)
    limit = threshold  # a float from here on, for the closures below

    papers = [paper for digest in digests for paper in digest.papers]
    if memo is None:
        resolved = resolve_papers(papers, key, limit)
    else:
        resolved = _memoised(papers, key, limit, memo)
    out: list[Digest] = []
    start = 0
    for digest in digests:
        end = start + len(digest.papers)
        out.append(digest.with_papers(tuple(resolved[start:end])))
        start = end
    return out


def _memoised(
    papers: Sequence[Paper], key: AnswerKey | None, threshold: float, memo: Memo
) -> list[Paper]:
    """`resolve_papers` through `memo`: the papers it lacks are resolved together (in workers
    when many) and handed to it. Papers with nothing to infer skip the memo."""
    known: dict[int, Paper] = {}
    keep: dict[int, Callable[[Paper], None]] = {}
    for n, paper in enumerate(papers):
        if not _needs_inference(paper, key):
            # Nothing to infer (no questions, or all keyed or marked): resolving it here costs
            # less than looking it up (hashing the paper).
            known[n] = _resolve_paper(paper, key, threshold)
            continue
        inputs = (key.answers.get(paper.key, ()) if key else (), threshold)
        found, keep[n] = memo(paper, inputs)
        if found is not None:
            known[n] = found
    lacking = [n for n in range(len(papers)) if n not in known]
    # Each kept as it comes: while the workers infer the next ones.
    with contextlib.closing(
        _resolve_each([papers[n] for n in lacking], key, threshold)
    ) as resolved_each:
        for n, resolved in zip(lacking, resolved_each, strict=True):
            keep[n](resolved)
            known[n] = resolved
    return [known[n] for n in range(len(papers))]


def _question_signature(paper: Paper, question: Question) -> tuple[str, str, tuple[str, ...]]:
    # Options as a sorted tuple: the same question may list them in another order.
    options = tuple(sorted(_normalised(option) for option in question.options))
    return paper.key, _normalised(question.prompt), options


def _normalised(text: str) -> str:
    return collapse_whitespace(text).casefold()


def share_known_answers(digests: list[Digest], key: AnswerKey | None = None) -> list[Digest]:
    """Digests in which a question without a key letter or a mark takes the answer that the key
    or a mark gives the same question in another digest (e.g. the text version of a quiz page
    beside the page itself, or the same paper on two days).

    "The same question": the same paper key, prompt and options, compared after collapsing
    whitespace and case; the options may be in another order (the answer is mapped by its
    text). A question answered differently in two digests shares nothing.
    """
    known: dict[tuple[str, str, tuple[str, ...]], tuple[str, AnswerSource]] = {}
    conflicting: set[tuple[str, str, tuple[str, ...]]] = set()
    for digest in digests:
        for paper in digest.papers:
            letters = key.answers.get(paper.key, ()) if key else ()
            for position, question in enumerate(paper.questions):
                found = _own_answer(question, letters, position)
                if found is None:
                    continue
                signature = _question_signature(paper, question)
                answer = (_normalised(question.options[found[0]]), found[1])
                if known.setdefault(signature, answer)[0] != answer[0]:
                    conflicting.add(signature)
    if not known:
        return digests
    shared = []
    for digest in digests:
        papers = []
        for paper in digest.papers:
            letters = key.answers.get(paper.key, ()) if key else ()
            questions = []
            for position, question in enumerate(paper.questions):
                signature = _question_signature(paper, question)
                if (
                    _own_answer(question, letters, position) is None
                    and signature in known
                    and signature not in conflicting
                ):
                    text, source = known[signature]
                    options = [_normalised(option) for option in question.options]
                    question = replace(question, answer=options.index(text), answer_source=source)
                questions.append(question)
            papers.append(replace(paper, questions=tuple(questions)))
        shared.append(digest.with_papers(tuple(papers)))
    return shared


def _own_answer(
    question: Question, letters: tuple[int | None, ...], position: int
) -> tuple[int, AnswerSource] | None:
    """The answer a question has before inference: its key letter, else its mark."""
    given = letters[position] if position < len(letters) else None
    if given is not None and given < len(question.options):
        return given, "key"
    if question.answer_source in ("marked", "key") and question.answer is not None:
        return question.answer, question.answer_source
    return None


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
