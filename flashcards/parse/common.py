"""Helpers shared by the digest parsers: dates, field labels, assembling quiz digests."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flashcards.errors import ParseError
from flashcards.links import arxiv_abs_url, arxiv_id_from_url, is_http_url
from flashcards.model import MAX_OPTIONS, Digest, Format, Paper, Question, join_steps, paper_key

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def missing_arxiv_warnings(papers: Iterable[Paper]) -> list[str]:
    """Quiz digests link every paper to arXiv; one without such a link is keyed by its title, so
    fixing a typo in that title later makes it a new note: worth a word, not an error."""
    return [
        f"line {paper.line}: paper {paper.title!r} has no arXiv link; "
        "its identity comes from its title"
        for paper in papers
        if paper.arxiv_id is None
    ]


def check_option_count(
    number: int, count: int, source: str, line: int | None, hint: str = ""
) -> None:
    """A question needs at least two options, and at most `MAX_OPTIONS` (letters stop at Z)."""
    if count < 2:
        raise ParseError(
            f"Q{number} has {count} option(s); a question needs at least two{hint}", source, line
        )
    if count > MAX_OPTIONS:
        raise ParseError(
            f"Q{number} has {count} options; a question can have at most {MAX_OPTIONS} (A to Z)",
            source,
            line,
        )


def parse_iso_date(s: str, source: str, line: int | None) -> date:
    """`YYYY-MM-DD` to a date; a malformed or impossible date (2025-02-30) is a ParseError."""
    match = _ISO_DATE.match(s)
    if match is None:
        raise ParseError(f"expected a date as YYYY-MM-DD, got {s.strip()!r}", source, line)
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ParseError(f"impossible date {s.strip()!r}: {exc}", source, line) from None


# --- The five labelled summary fields of the quiz digests -------------------------------------

#: Emoji that open each summary field; the site keys its own parsing on them, so do we. The
#: wrench may come with or without its variation selector (U+FE0F).
_FIELD_EMOJI: dict[str, str] = {
    "📘": "topic",
    "💡": "previous_research",
    "❓": "problem",
    "🛠": "methods",
    "📊": "results",
}

#: Label texts (lower case, without emoji) and the usual short forms a hand-written digest may use.
_FIELD_LABELS: dict[str, str] = {
    "topic and domain": "topic",
    "topic": "topic",
    "domain": "topic",
    "previous research and new ideas": "previous_research",
    "previous research": "previous_research",
    "new ideas": "previous_research",
    "problem": "problem",
    "methods": "methods",
    "method": "methods",
    "results and evaluation": "results",
    "results": "results",
    "evaluation": "results",
    "summary": "summary",
    "workflow": "workflow",
}

_EMOJI_CLASS = "📘💡❓🛠📊"
_LABEL_ALTERNATIVES = "|".join(
    re.escape(label) for label in sorted(_FIELD_LABELS, key=len, reverse=True)
)

# One field marker: "3. ❓ Problem:", "**❓ Problem:**", "2. **💡 Previous Research…:**" or, at the
# start of a line only, a bare "Problem:". With an emoji the label text is free (the emoji decides
# the field); without one it must be a known label, so prose such as "the problem: x" never splits.
# The emoji's label runs to the colon (it holds none), so it is taken whole (possessive `{0,60}+`,
# as are the spaces before it): letting the regex try every split of a long run of spaces between
# them made one emoji followed by 20,000 spaces take minutes.
# The regex is tried at every position of a summary, so its start rules most of them out cheaply:
# a marker starts at the text's start or after a space (`(?<!\S)`), with a digit, `*`, an emoji or
# the first letter of a label (in any case: the flags are the labels' own).
_MARKER_START = "".join(sorted({label[0] for label in _FIELD_LABELS}))
_MARKER = re.compile(
    rf"""
    (?<!\S)(?=[\d*{_EMOJI_CLASS}{_MARKER_START}])
    (?:\d{{1,2}}\.\s*+)?(?:\*\*\s*+)?
    (?:
        (?P<emoji>[{_EMOJI_CLASS}])\ufe0f?\s*+(?P<elabel>[^:：*\n]{{0,60}}+)
      | (?P<label>{_LABEL_ALTERNATIVES})
    )
    \s*(?:\*\*\s*)?[:：](?:\s*\*\*)?[ \t]*
    """,
    re.IGNORECASE | re.VERBOSE,
)
# `_MARKER` up to its colon (what follows it may be empty).
_MARKER_HEAD = re.compile(_MARKER.pattern.rsplit("[:：]", 1)[0] + "[:：]", _MARKER.flags)


#: The whitespace of ASCII text that is not a single space (a test checks every character).
ASCII_SPACES = ("  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace as one space, none at the ends. `str.split` and a regex `\\s` agree
    on what whitespace is (a test checks every code point); the split is ~4x faster. Long ASCII
    text is mostly spaced already (a summary): a few scans for other whitespace find that faster
    than splitting it into words and joining them again."""
    if len(text) > 64 and text.isascii():
        text = text.strip()
        if not any(map(text.__contains__, ASCII_SPACES)):
            return text
    return " ".join(text.split())


def split_fields(text: str) -> dict[str, str]:
    """Split a digest summary into its labelled fields.

    Handles one field a line as well as the 2026 pages where raw markdown leaked in and all five
    items run together (`1. 📘 Topic…: a 2. **💡 Previous…:** b …`), possibly repeated in later
    chunks: the first occurrence of a field wins. Unlabelled text before the first marker is kept
    as `summary`. Only non-empty values are returned, whitespace collapsed, stray `**` removed.
    """
    found: dict[str, str] = {}
    matches = [m for m in _markers(text) if _marker_key(m) is not None]
    # Bare labels ("Problem:") only count at the start of a line.
    matches = [m for m in matches if m.group("emoji") or _at_line_start(text, m)]
    preamble = text[: matches[0].start()] if matches else text
    _keep(found, "summary", preamble)
    ends = [m.start() for m in matches[1:]] + [len(text)] if matches else []
    for match, end in zip(matches, ends, strict=True):
        key = _marker_key(match)
        assert key is not None
        _keep(found, key, text[match.end() : end])
    return found


# Each marker holds exactly one colon, its last character but the spaces and `**` after it.
_COLON = re.compile("[:：]")
_TWO_SPACES = re.compile(r"\s\s")
_EMOJI = re.compile(f"[{_EMOJI_CLASS}]")
# The most characters a marker can hold before its colon when none of its whitespace runs is
# longer than one character, with a little margin: "12." and a space, "**" and a space (7, the
# most before an emoji), the emoji, U+FE0F, a space, 60 label characters, a space, "**" and a
# space (74); or, without an emoji, the 7, a label and the last 4.
_MARKER_REACH = 80
_EMOJI_LEAD = 8
_LABEL_REACH = 13 + max(map(len, _FIELD_LABELS))


def _markers(text: str) -> list[re.Match[str]]:
    """`list(_MARKER.finditer(text))`, without trying the pattern at every character (~50 ns
    each, most of a summary's parsing): each marker holds one colon, so it is looked for only
    just before each colon, from the previous colon or, when the `_MARKER_REACH` characters
    before the colon hold no two whitespace characters in a row, from as far back as a marker
    can start and still reach the colon: a few characters before the first emoji there, else a
    label's length. A colon with neither an emoji nor a label before it ends no marker.
    tests/test_parse_quiz.py checks they agree.
    """
    colons = [m.start() for m in _COLON.finditer(text)]
    spaced = _TWO_SPACES.search(text) is not None  # else every window is short
    matches: list[re.Match[str]] = []
    pos = 0  # where the next match may start: after the last one
    after_colon = 0  # a match holds no earlier colon
    for index, colon in enumerate(colons):
        start = max(pos, after_colon)
        after_colon = colon + 1
        reach = colon - _MARKER_REACH
        short = reach > start and not (spaced and _TWO_SPACES.search(text, reach, colon))
        emoji = _EMOJI.search(text, reach if short else start, colon)
        if emoji is None:
            if not _may_end_with_label(text[reach if short else start : colon]):
                continue
            if short:
                start = colon - _LABEL_REACH
        elif short:
            # A marker without emoji holds none (labels are words), so it starts after this one.
            start = max(reach, emoji.start() - _EMOJI_LEAD)
        # The first marker up to this colon is where the whole pattern matches first (what
        # follows the colon may be empty); it is matched there up to the next colon.
        head = _MARKER_HEAD.search(text, start, colon + 1)
        if head is not None:
            end = colons[index + 1] if index + 1 < len(colons) else len(text)
            match = _MARKER.match(text, head.start(), end)
            assert match is not None
            matches.append(match)
            pos = match.end()
    return matches


#: The labels, for `str.endswith`.
_LABEL_ENDINGS = tuple(_FIELD_LABELS)
#: What `str.lower` leaves of the characters matching a label's letters case-insensitively that
#: it does not turn into them (a test checks every code point): 'İ' (to "i" and U+0307), 'ı', 'ſ'.
_LOWER_FIXES = str.maketrans({"\u0307": None, "ı": "i", "ſ": "s"})


def _may_end_with_label(before_colon: str) -> bool:
    """Whether a label marker may end at the colon after `before_colon`: whether this ends with
    a label in any case, but for whitespace and a `**` (what `_MARKER` allows between them)."""
    tail = before_colon.rstrip()
    if tail.endswith("**"):
        tail = tail[:-2].rstrip()
    return tail[-40:].lower().translate(_LOWER_FIXES).endswith(_LABEL_ENDINGS)


def _marker_key(match: re.Match[str]) -> str | None:
    if match.group("emoji"):
        return _FIELD_EMOJI[match.group("emoji")]
    return _FIELD_LABELS.get(collapse_whitespace(match.group("label")).lower())


def _at_line_start(text: str, match: re.Match[str]) -> bool:
    line_start = text.rfind("\n", 0, match.start()) + 1
    return not text[line_start : match.start()].strip()


def _keep(found: dict[str, str], key: str, raw: str) -> None:
    value = collapse_whitespace(raw.replace("**", ""))
    if value and key not in found:
        found[key] = value


def starts_with_field_label(line: str) -> bool:
    """Whether `line` opens a labelled summary field ('1. 📘 Topic and Domain: …')."""
    match = _MARKER.match(line.strip())
    return match is not None and _marker_key(match) is not None


@dataclass(frozen=True)
class QuizPaperDraft:
    """What a quiz parser (text or HTML) collected for one paper, before the checks that both
    formats share (`quiz_digests`)."""

    line: int
    title: str
    published: date | None
    link: str | None
    link_line: int | None
    field_text: str  # the numbered emoji fields, for `split_fields`
    workflow: tuple[str, ...]  # the flow chart's steps
    questions: tuple[Question, ...]


def _check_question_numbers(questions: Iterable[Question], source: str) -> None:
    """Two questions of one paper with the same number would share one note: the second would
    silently replace the first."""
    first: dict[int, int | None] = {}
    for question in questions:
        if question.number in first:
            where = first[question.number]
            raise ParseError(
                f"Q{question.number} appears twice in this paper"
                + (f" (first at line {where})" if where is not None else ""),
                source,
                question.line,
            )
        first[question.number] = question.line


def quiz_digests(
    drafts: Iterable[QuizPaperDraft],
    *,
    fmt: Format,
    source: str,
    digest_date: date,
    warnings: list[str],
) -> list[Digest]:
    """The one digest of a quiz page: each paper needs a title, an arXiv id appears once, the
    link becomes the paper's identity and URL, and an empty page or a paper without an arXiv link
    is worth a warning."""
    papers: list[Paper] = []
    seen_ids: dict[str, int] = {}
    seen_titles: dict[str, int] = {}
    for draft in drafts:
        if not draft.title:
            raise ParseError("paper has no title", source, draft.line)
        _check_question_numbers(draft.questions, source)
        arxiv_id = arxiv_id_from_url(draft.link) if draft.link else None
        link_line = draft.link_line or draft.line
        if arxiv_id is not None:
            if arxiv_id in seen_ids:
                raise ParseError(
                    f"arXiv id {arxiv_id} appears twice in this digest "
                    f"(first at line {seen_ids[arxiv_id]})",
                    source,
                    link_line,
                )
            seen_ids[arxiv_id] = link_line
            url: str | None = arxiv_abs_url(arxiv_id)
        elif draft.link and is_http_url(draft.link):
            url = draft.link
        else:
            url = None
        if arxiv_id is None:
            # Without a link the title is the paper's identity: a second paper of the same title
            # would silently merge into the first.
            title_key = paper_key(None, draft.title)
            if title_key in seen_titles:
                raise ParseError(
                    f"title {draft.title!r} appears twice in this digest "
                    f"(first at line {seen_titles[title_key]})",
                    source,
                    draft.line,
                )
            seen_titles[title_key] = draft.line
        fields = split_fields(draft.field_text)
        workflow = join_steps(draft.workflow)
        if workflow:
            fields["workflow"] = workflow
        papers.append(
            Paper(
                title=draft.title,
                arxiv_id=arxiv_id,
                url=url,
                published=draft.published,
                fields=fields,
                questions=draft.questions,
                line=draft.line,
            )
        )
    if not papers:
        warnings.append("no papers in this digest")
    warnings.extend(missing_arxiv_warnings(papers))
    return [
        Digest(
            source=source,
            format=fmt,
            date=digest_date,
            papers=tuple(papers),
            warnings=tuple(warnings),
        )
    ]
