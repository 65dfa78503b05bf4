"""The *quiz text* digest: the daily_paper pages flattened to plain text.

    2025-04-28 Papers
    1/2                              page marker (card counter), optional
    Paper 1                          "Paper: 1" on the earliest pages
    <title>                          may wrap onto several lines
    Published: 2025-04-24
    Link: http://arxiv.org/pdf/2504.17761
    1. 📘 Topic and Domain: …        the five labelled fields (any may be missing)
    <title again>                    the flow-chart card, when the paper has one …
    <flow chart flattened to a line> … kept as the `workflow` field, split into steps only
                                     where the text marks them (numbers, arrows, bullets)
    Q1
    1. <prompt>
    <option>                         one a line, consecutive
    <option>

The parser reads the file line by line with a small state machine; each structural line (paper
header, `Q<n>`, page marker, `Published:`, `Link:`) is recognised by its whole shape, so a title
such as "Paper2Video: …" or a flow-chart line starting with "Paper …" is never taken for one.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date

from flashcards.errors import ParseError
from flashcards.model import Digest, Question, option_index, option_letter
from flashcards.parse.common import (
    QuizPaperDraft,
    check_option_count,
    collapse_whitespace,
    parse_iso_date,
    quiz_digests,
    starts_with_field_label,
)
from flashcards.parse.flowchart import text_steps

_HEADER = re.compile(r"^\s*(?P<date>\S*)\s*Papers\s*$")
_MAX_PREAMBLE = 3
_PAPER = re.compile(r"^Paper\s*:?\s*(?P<number>\d+)\s*$")
# The card counter of a paper with a flow chart ("1/2": first of two cards).
_PAGE_MARKER = re.compile(r"^1\s*/\s*\d+$")
# "Q2" alone on its line, or "Q2: prompt" / "Q2. prompt" when a hand-made digest joins them.
_QUESTION = re.compile(r"^Q(?P<number>\d+)(?:\s*$|[.:)]\s*(?P<prompt>\S.*)$)")
_PUBLISHED = re.compile(r"^Published\s*:\s*(?P<value>.*)$", re.IGNORECASE)
_LINK = re.compile(r"^Link\s*:\s*(?P<value>.*)$", re.IGNORECASE)
_LEADING_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")
_PROMPT_NUMBER = re.compile(r"^\d+\s*[.)]\s*")
_ANSWER_LINE = re.compile(
    r"^(?:correct\s+)?answer\s*[:：]\s*\(?(?P<letter>[A-Za-z])\b\)?", re.IGNORECASE
)
# A mark after (or before) an option: "✓", "✔", "✅", "☑" or "(correct)".
_CHECK = "✓✔✅☑"
# Matched only from the start of a run of spaces, taken whole: retried from inside a long run of
# spaces, the search would be quadratic in its length.
_MARK_AFTER = re.compile(
    rf"(?<!\s)\s*+(?:[{_CHECK}]\ufe0f?|[(\[]\s*correct\s*[)\]])\s*$", re.IGNORECASE
)
_MARK_BEFORE = re.compile(rf"^\s*[{_CHECK}]\ufe0f?\s*")
# In every match of the two above, under their flags: a check mark, or "correct" in any case
# (only ASCII letters match those letters case-insensitively, and `str.lower` turns nothing else
# into them: a test checks every code point), so an option without it is not looked at further.
_CHECK_MARK = re.compile(f"[{_CHECK}]")
_CORRECT = "correct"
# Option prefixes a hand-made digest may use; stripped only when every option of a question has
# them in order (A, B, C… or all the same bullet), so real option text is never cut.
_LETTER_PREFIX = re.compile(r"^\(?(?P<letter>[A-Za-z])[.):]\s+(?P<rest>\S.*)$")
_BULLET_PREFIX = re.compile(r"^[-*•]\s+(?P<rest>\S.*)$")
# Headings of the sections the site puts after the papers; nothing after them is part of a paper.
_AFTER_PAPERS = re.compile(r"^(?:📝\s*)?(?:My Takeaways|Today's Reading Tips)$", re.IGNORECASE)
# The characters a line matching each pattern above can start with: the regexes run only on
# those lines. A letter matches only its two ASCII cases under IGNORECASE (a test checks every
# code point for these letters).
_AFTER_PAPERS_START = frozenset("📝MmTt")
_PUBLISHED_START = frozenset("Pp")
_LINK_START = frozenset("Ll")
_ANSWER_LINE_START = frozenset("AaCc")


@dataclass
class _Question:
    number: int
    line: int
    prompt: str | None = None
    options: list[str] = field(default_factory=list)
    option_lines: list[int] = field(default_factory=list)
    answer_letter: tuple[str, int] | None = None  # ("B", line)
    closed: bool = False  # a blank line ended its options


@dataclass
class _Paper:
    line: int
    ended: bool = False  # a section after the papers began
    title_lines: list[str] = field(default_factory=list)
    title_done: bool = False
    published: date | None = None
    link: str | None = None
    link_line: int | None = None
    summary_lines: list[str] = field(default_factory=list)
    saw_title_again: bool = False
    workflow_lines: list[str] = field(default_factory=list)
    questions: list[_Question] = field(default_factory=list)
    final_title: str | None = None  # the title, once no line can be added to it

    @property
    def title(self) -> str:
        # Compared with every summary line: worked out once it is complete.
        if self.final_title is not None:
            return self.final_title
        title = collapse_whitespace(" ".join(self.title_lines))
        if self.title_done:
            self.final_title = title
        return title


def parse(text: str, source: str) -> list[Digest]:
    lines = text.split("\n")
    # The first lines holding something: where the header may be.
    filled = list(
        itertools.islice((i for i, line in enumerate(lines) if line.strip()), _MAX_PREAMBLE + 1)
    )
    if not filled:
        raise ParseError("empty file", source, 1)
    # Bilingual pages put a language button ("ZH") above the heading; allow a short preamble.
    header_index = next(
        (i for i in filled[: _MAX_PREAMBLE + 1] if _HEADER.match(lines[i])), filled[0]
    )
    digest_date = _parse_header(lines[header_index], source, header_index + 1)

    warnings: list[str] = []
    papers: list[_Paper] = []
    # Lines that fit nowhere are worth a warning (the format may have drifted), except the known
    # furniture of real pages: the language button above the header (which detection allows) and
    # the closing "Today's Reading Tips" / "My Takeaways" sections.
    stray: list[int] = []
    paper: _Paper | None = None  # the last of `papers`
    question: _Question | None = None  # the last of its questions

    for index in range(header_index + 1, len(lines)):
        line = lines[index].strip()
        if not line:
            # A blank line (a third of them) is no structural line: it only ends a question's
            # options or a paper's title.
            if paper is None or paper.ended:
                continue
            if question is not None:
                if question.options:
                    question.closed = True
            elif paper.title_lines:
                paper.title_done = True
            continue
        number = index + 1

        # Each structural line starts with its own letter: the regexes run only on those.
        first = line[0]
        if first == "P" and _PAPER.match(line):
            paper = _Paper(line=number)
            question = None
            papers.append(paper)
            continue
        if first == "1" and _PAGE_MARKER.match(line) and _next_is_paper(lines, index + 1):
            continue
        if paper is not None and first in _AFTER_PAPERS_START and _AFTER_PAPERS.match(line):
            paper.ended = True
        if paper is not None and paper.ended:
            continue
        if paper is None:
            stray.append(number)
            continue
        match = _QUESTION.match(line) if first == "Q" else None
        if match:
            paper.title_done = True
            prompt = match.group("prompt")
            question = _Question(number=int(match.group("number")), line=number, prompt=prompt)
            paper.questions.append(question)
            continue
        if question is not None:
            _question_line(question, line, number, stray)
            continue
        _paper_line(paper, line, number, source)

    if stray:
        more = f" and {len(stray) - 1} more line(s)" if len(stray) > 1 else ""
        warnings.append(f"line {stray[0]}: ignored this{more}: no paper or question fits here")
    drafts = (
        QuizPaperDraft(
            line=paper.line,
            title=paper.title,
            published=paper.published,
            link=paper.link,
            link_line=paper.link_line,
            field_text="\n".join(paper.summary_lines),
            workflow=tuple(step for line in paper.workflow_lines for step in text_steps(line)),
            questions=tuple(_build_question(q, source) for q in paper.questions),
        )
        for paper in papers
    )
    return quiz_digests(
        drafts, fmt="quiz-text", source=source, digest_date=digest_date, warnings=warnings
    )


def _parse_header(line: str, source: str, number: int) -> date:
    match = _HEADER.match(line)
    if match is None:
        raise ParseError("expected the digest header 'YYYY-MM-DD Papers'", source, number)
    if not match.group("date"):
        raise ParseError("digest header 'Papers' has no date (YYYY-MM-DD Papers)", source, number)
    return parse_iso_date(match.group("date"), source, number)


def _next_is_paper(lines: list[str], start: int) -> bool:
    """A page marker ('1/2') is only one when a paper header follows it; otherwise it may be an
    option such as '1/2' in a question about fractions."""
    for line in lines[start:]:
        if line.strip():
            return bool(_PAPER.match(line.strip()))
    return False


def _paper_line(paper: _Paper, line: str, number: int, source: str) -> None:
    """A line (not blank) between a paper header and its first question."""
    first = line[0]
    if first in _PUBLISHED_START and (published := _PUBLISHED.match(line)):
        paper.title_done = True
        # The site writes "No Date" when it has none; only a date-shaped value is checked.
        if shaped := _LEADING_DATE.match(published.group("value").strip()):
            paper.published = parse_iso_date(shaped.group(0), source, number)
        return
    if first in _LINK_START and (link := _LINK.match(line)):
        paper.title_done = True
        paper.link = link.group("value").strip() or None
        paper.link_line = number
        return
    if not paper.title_done and paper.title_lines and starts_with_field_label(line):
        paper.title_done = True
    if not paper.title_done:
        paper.title_lines.append(line)
        return
    if paper.saw_title_again:
        paper.workflow_lines.append(line)
    elif paper.title_lines and _is_title(line, paper.title):
        # The flow-chart card repeats the title; the line(s) after it are the flattened chart.
        paper.saw_title_again = True
    else:
        paper.summary_lines.append(line)


def _is_title(line: str, title: str) -> bool:
    """Whether the stripped `line` is `title` (collapsed) but for its spacing. Its first word
    is the title's: checked first, as most lines are summary prose far longer than a title."""
    first_word = title.partition(" ")[0]
    return line.startswith(first_word) and collapse_whitespace(line) == title


def _question_line(question: _Question, line: str, number: int, stray: list[int]) -> None:
    """A line (not blank) after a question's `Q<n>`."""
    if question.prompt is None:
        question.prompt = _PROMPT_NUMBER.sub("", line, count=1).strip()
        return
    answer = _ANSWER_LINE.match(line) if line[0] in _ANSWER_LINE_START else None
    if answer and question.options:
        question.answer_letter = (answer.group("letter").upper(), number)
        question.closed = True
        return
    if question.closed:
        # Text after the options' blank line (e.g. a "reading tips" box at the page end).
        stray.append(number)
        return
    question.options.append(line)
    question.option_lines.append(number)


def _build_question(question: _Question, source: str) -> Question:
    if not question.prompt:
        raise ParseError(f"Q{question.number} has no question text", source, question.line)
    options = _strip_prefixes(question.options)
    marked: list[tuple[int, int]] = []  # (option index, line)
    for i, option in enumerate(options):
        if _CHECK_MARK.search(option) is None and _CORRECT not in option.lower():
            continue  # no mark to remove
        unmarked = _MARK_BEFORE.sub("", _MARK_AFTER.sub("", option))
        if unmarked != option:
            options[i] = unmarked.strip()
            marked.append((i, question.option_lines[i]))
    check_option_count(
        question.number,
        len(options),
        source,
        question.line,
        " (one a line, right after the question)",
    )
    if question.answer_letter is not None:
        letter, line = question.answer_letter
        index = option_index(letter)
        if index is None or index >= len(options):
            raise ParseError(
                f"answer {letter} is out of range for Q{question.number} "
                f"({len(options)} options, A-{option_letter(len(options) - 1)})",
                source,
                line,
            )
        marked.append((index, line))
    if len({index for index, _ in marked}) > 1:
        raise ParseError(
            f"Q{question.number} marks more than one option as correct", source, marked[1][1]
        )
    if marked:
        return Question(
            number=question.number,
            prompt=question.prompt,
            options=tuple(options),
            answer=marked[0][0],
            answer_source="marked",
            confidence=1.0,
            unsure=False,
            line=question.line,
        )
    return Question(
        number=question.number, prompt=question.prompt, options=tuple(options), line=question.line
    )


def _strip_prefixes(options: list[str]) -> list[str]:
    if len(options) < 2:
        return list(options)
    # Every option must have the prefix: the first one decides whether the others are tried.
    if _LETTER_PREFIX.match(options[0]):
        lettered = [m for o in options if (m := _LETTER_PREFIX.match(o))]
        if [option_index(m.group("letter")) for m in lettered] == list(range(len(options))):
            return [m.group("rest").strip() for m in lettered]
    if _BULLET_PREFIX.match(options[0]):
        bulleted = [m for o in options if (m := _BULLET_PREFIX.match(o))]
        if len(bulleted) == len(options):
            return [m.group("rest").strip() for m in bulleted]
    return list(options)
