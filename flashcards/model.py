"""The typed model every pipeline step passes on: digests, papers, questions.

All classes are frozen: a step that changes something (e.g. answer resolution) returns new objects
with `dataclasses.replace`. `fields` dicts are never mutated after construction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Format = Literal["quiz-text", "quiz-html", "markdown-table"]
AnswerSource = Literal["key", "marked", "inferred"]

#: Keys of `Paper.fields`, in the order cards and JSON show them. A paper holds only the keys its
#: digest has.
FIELD_NAMES: tuple[str, ...] = (
    "topic",
    "previous_research",
    "problem",
    "methods",
    "results",
    "summary",
    "workflow",
)

#: Joins the steps of a flow chart in the `workflow` field ("Encode → Cluster → Score"): the
#: parsers join them so (`join_steps`), cards show them one a line (`split_steps`), answer
#: evidence quotes them with arrows.
STEP_SEPARATOR = " → "
#: An arrow inside one step's own text ("Audio → Tokens" in one chart box), as the `workflow`
#: field holds it: between no-break spaces, so that it reads the same but separates nothing.
#: Parsed step text never holds a no-break space (its whitespace is collapsed to spaces).
INNER_ARROW = "\u00a0→\u00a0"


def join_steps(steps: Iterable[str]) -> str:
    """The `workflow` field of a chart of `steps`: each step's whitespace collapsed, the empty
    ones left out, an arrow within a step written as `INNER_ARROW`, joined by `STEP_SEPARATOR`."""
    joined = (" ".join(step.split()) for step in steps)
    return STEP_SEPARATOR.join(s.replace(STEP_SEPARATOR, INNER_ARROW) for s in joined if s)


def split_steps(workflow: str) -> list[str]:
    """The steps of a `workflow` field (`join_steps`), each as written in the digest (its inner
    arrows included), none empty."""
    return [step for step in (s.strip() for s in workflow.split(STEP_SEPARATOR)) if step]


def steps_around(quote: str, workflow: str, max_words: int | None = None) -> str:
    """`quote`, a run of a `workflow` field's text in which its inner arrows are plain
    separators (what answer inference segments and quotes), widened to whole steps where it
    begins or ends at an inner arrow, so that no step is quoted in part; else `quote` itself,
    as it is also when the whole steps would hold more than `max_words` words (a step that
    long is quoted in part anyway)."""
    if not quote or INNER_ARROW not in workflow:
        return quote
    # The same length as `workflow`: a position in one is the same place in the other.
    start = workflow.replace(INNER_ARROW, STEP_SEPARATOR).find(quote)
    if start < 0:
        return quote
    end = start + len(quote)
    if workflow.endswith(INNER_ARROW, 0, start):
        before = workflow.rfind(STEP_SEPARATOR, 0, start)
        start = 0 if before < 0 else before + len(STEP_SEPARATOR)
    if workflow.startswith(INNER_ARROW, end):
        after = workflow.find(STEP_SEPARATOR, end)
        end = len(workflow) if after < 0 else after
    widened = workflow[start:end].replace(INNER_ARROW, STEP_SEPARATOR)
    if max_words is not None and len(widened.split()) > max_words:
        return quote
    return widened


#: Options are lettered A, B, C… in digests, answer keys and on cards. Letters stop at Z, so a
#: question has at most `MAX_OPTIONS` options: the parsers refuse more, naming the line.
OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_OPTIONS = len(OPTION_LETTERS)


def option_letter(index: int) -> str:
    """The letter of the option at 0-based `index`: 'A' for the first."""
    return OPTION_LETTERS[index]


def option_index(letter: str) -> int | None:
    """The 0-based index that an option letter ('B' or 'b') names; None if `letter` is not one."""
    upper = letter.upper()
    return OPTION_LETTERS.index(upper) if len(upper) == 1 and upper in OPTION_LETTERS else None


@dataclass(frozen=True)
class Question:
    number: int  # 1-based, as printed in the digest ("Q2" → 2)
    prompt: str  # without its leading "2."
    options: tuple[str, ...]
    answer: int | None = None  # 0-based index into options, once resolved
    answer_source: AnswerSource | None = None
    confidence: float | None = None  # in [0, 1]; 1.0 for "key" and "marked"
    unsure: bool | None = None
    evidence: str | None = None  # the digest sentence an inferred answer rests on
    line: int | None = None  # 1-based line of the question in its file, for messages

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "prompt": self.prompt,
            "options": list(self.options),
            "answer": self.answer,
            "answer_source": self.answer_source,
            "confidence": self.confidence,
            "unsure": self.unsure,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Paper:
    title: str
    arxiv_id: str | None = None  # e.g. "2504.17761" (no version suffix)
    url: str | None = None  # canonical http(s) link, "https://arxiv.org/abs/<id>" when known
    published: date | None = None
    authors: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # keys from FIELD_NAMES
    questions: tuple[Question, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, http(s) url) pairs, e.g. ("HuggingFace", ...)
    line: int | None = None  # 1-based line where the paper starts, for messages
    category: str | None = None  # the digest's own category for the paper, where it has one

    @property
    def key(self) -> str:
        """Stable identity of the paper: its arXiv id, else its normalised title."""
        return paper_key(self.arxiv_id, self.title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "arxiv_id": self.arxiv_id,
            "title": self.title,
            "url": self.url,
            "published": self.published.isoformat() if self.published else None,
            "authors": list(self.authors),
            "fields": {k: self.fields[k] for k in FIELD_NAMES if k in self.fields},
            "questions": [q.to_dict() for q in self.questions],
            # Only digests with a category column have one; other JSON keeps its shape.
            **({"category": self.category} if self.category is not None else {}),
        }


@dataclass(frozen=True)
class Digest:
    source: str  # the path it was read from, or "-" for stdin
    format: Format
    date: date
    papers: tuple[Paper, ...] = ()
    warnings: tuple[str, ...] = ()  # non-fatal findings, e.g. "no papers in this digest"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "date": self.date.isoformat(),
            "papers": [p.to_dict() for p in self.papers],
        }

    def with_papers(self, papers: tuple[Paper, ...]) -> Digest:
        return dataclasses.replace(self, papers=papers)


_NON_WORD = re.compile(r"[^0-9a-z]+")

# Symbols that tell two titles apart ("C++" and "C", "C#" and "C") are spelled as words. Only titles
# holding them get a key different from the one earlier versions gave.
_SPELLED_SYMBOLS = {"+": " plus ", "#": " sharp "}
_SYMBOL = re.compile("[+#]")

#: Start of the key of a title with no letter or digit at all (e.g. only emoji).
UNTITLED_PREFIX = "untitled-"


def paper_key(arxiv_id: str | None, title: str) -> str:
    """`Paper.key` of a paper with this arXiv id (None if it has none) and title."""
    return f"arxiv:{arxiv_id}" if arxiv_id else f"title:{normalise_title(title)}"


def normalise_title(title: str) -> str:
    """A non-empty key naming the paper titled `title`: the same title always gives the same key,
    whatever its wrapping, spacing, accents or punctuation, and a key gives itself back.

    A title whose letters and digits all survive folding to ASCII gets lower-case ASCII words
    joined by '-' (the keys of earlier versions, so existing GUIDs stay). Folding would drop the
    letters of "Мир трансформеров" or "α-Net", so such a title keeps its Unicode words instead
    (NFKC, case-folded). A title without any letter or digit gets `untitled-<hash of the title>`.
    """
    key = _title_key(title)
    # A Unicode key may itself fold to ASCII without loss ("ß é" → "ss-é" → "ss-e"); a few more
    # rounds reach the key that gives itself back, so a key read from an answer key matches.
    for _ in range(4):
        again = _title_key(key)
        if again == key:
            break
        key = again
    if not key:
        canonical = " ".join(unicodedata.normalize("NFKC", title).casefold().split())
        key = UNTITLED_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    return key


def _title_key(title: str) -> str:
    decomposed = _SYMBOL.sub(
        lambda m: _SPELLED_SYMBOLS[m.group()], unicodedata.normalize("NFKD", title)
    )
    if not any(ord(ch) > 127 and ch.isalnum() for ch in decomposed):
        folded = decomposed.encode("ascii", "ignore").decode().lower()
        return _NON_WORD.sub("-", folded).strip("-")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", decomposed).casefold())
    # Marks (M*) stay inside words: Devanagari or Thai words are letters and marks.
    kept = "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in folded)
    return "-".join(kept.split())
