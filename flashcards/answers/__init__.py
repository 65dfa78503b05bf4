"""Step 2a: resolve the correct option of every question (see `flashcards.answers.key`)."""

from flashcards.answers.key import (
    DEFAULT_UNSURE_THRESHOLD,
    AnswerCounts,
    AnswerKey,
    check_key,
    count_answers,
    format_answer_key,
    load_answer_key,
    paper_key_of,
    resolve_answers,
    unmatched_entries,
    write_answer_key,
)

__all__ = [
    "DEFAULT_UNSURE_THRESHOLD",
    "AnswerCounts",
    "AnswerKey",
    "check_key",
    "count_answers",
    "format_answer_key",
    "load_answer_key",
    "paper_key_of",
    "resolve_answers",
    "unmatched_entries",
    "write_answer_key",
]
