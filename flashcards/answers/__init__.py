"""Step 2a: the correct option of every question, from the user's answer key, a mark in the
digest, or inference from the paper's own text.

`key` reads, checks and writes answer-key files; `resolve` applies the three sources in order;
`text`, `features` and `model` infer an answer (the fitted model is `data/model.json` and
`data/answer_idf.tsv`, written by `benchmarks/answers_eval.py --refit`). The names below are
the API the rest of the package uses.
"""

from flashcards.answers.key import (
    AnswerKey,
    check_key,
    check_key_output,
    check_replaceable_key,
    format_answer_key,
    load_answer_key,
    paper_key_of,
    unmatched_entries,
    write_answer_key,
)
from flashcards.answers.resolve import (
    DEFAULT_UNSURE_THRESHOLD,
    AnswerCounts,
    count_answers,
    resolve_answers,
    share_known_answers,
)

__all__ = [
    "DEFAULT_UNSURE_THRESHOLD",
    "AnswerCounts",
    "AnswerKey",
    "check_key",
    "check_key_output",
    "check_replaceable_key",
    "count_answers",
    "format_answer_key",
    "load_answer_key",
    "paper_key_of",
    "resolve_answers",
    "share_known_answers",
    "unmatched_entries",
    "write_answer_key",
]
