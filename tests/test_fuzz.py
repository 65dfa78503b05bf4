"""Property-based tests of the parsers (issue 5).

1. Whatever text or bytes come in, every parser, `parse_bytes` and `detect_format` either return
   or raise a `FlashcardsError`: never another exception.
2. Digests generated from random models, full of characters that mean something to HTML, Anki or
   markdown, are written out in each format by the small serialisers below, parsed back, and give
   the same model again.

Hypothesis runs derandomised and without an example database, so every run (and CI) tries the same
examples; sizes stay small so the whole module takes a few seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from digest_writers import FIVE_FIELDS, write_markdown, write_quiz_html, write_quiz_text
from helpers import HANG_TIMEOUT
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flashcards.errors import FlashcardsError
from flashcards.model import Digest, Paper, Question
from flashcards.parse import detect_format, markdown_table, parse_bytes, quiz_html, quiz_text

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    # A hang guard, not a speed test: a parse takes milliseconds, and only a real hang comes
    # near this even on a loaded machine (see helpers.HANG_TIMEOUT).
    deadline=timedelta(seconds=HANG_TIMEOUT),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# Generating whole digests costs more than parsing them: fewer, larger examples.
ROUND_TRIP = settings(FUZZ, max_examples=75)

PARSERS: dict[str, Callable[[str, str], list[Digest]]] = {
    "quiz-text": quiz_text.parse,
    "quiz-html": quiz_html.parse,
    "markdown-table": markdown_table.parse,
}


# --- 1. only our own errors -------------------------------------------------------------------

# Pieces of each format's structure, so that random text reaches deep into the parsers instead of
# failing at the first line.
_QUIZ_TEXT_PIECES = [
    "Paper 1", "Paper: 2", "Q1", "Q2: why?", "1. What is it?", "2) Which?", "Yes", "No", "A. x",
    "B. y", "- a", "✓", "(correct)", "Answer: B", "Answer: Z", "1/2", "", "", "Published: ",
    "Published: 2025-02-30", "Published: No Date", "Link: http://arxiv.org/pdf/2504.17761",
    "Link: javascript:alert(1)", 'Link: https://example.org/a b"<x>', "1. 📘 Topic and Domain: x",
    "2. **💡 Previous:** y",
    "❓ Problem:", "🛠️ Methods:z", "📊", "Problem: w", "My Takeaways", "Today's Reading Tips",
]  # fmt: skip
_HTML_PIECES = [
    "<h1>2025-01-01 Papers</h1>", "<h1>Papers</h1>", "<title>2025-13-01 Papers</title>",
    "<h2>Paper 1</h2>", "<h2>Paper: 2</h2>", "<p><strong>T</strong></p>",
    "<p>Published: 2025-02-30</p>", "<p>Link: <a href='http://arxiv.org/abs/2501.00001'>x</a></p>",
    "<p>Link: <a href='javascript:x'>", "<p>Link: <a href='https://x.org/\"a b'>x</a></p>",
    '<div class="category-chunk">📘 Topic: a</div>', '<div class="quiz-tab">Q1',
    '<div class="quiz-popup" data-answer="a">', '<div class="quiz-question">1. q</div>',
    '<div class="quiz-choice" data-value="a">a</div>', '<div class="quiz-choice" data-value="<b>">',
    "</div>", "<svg>", "</svg>", "<text>w</text>", "<!--", "-->", "<style>", "</style>",
    '<div class="paper-card flowchart-card">', "<foreignObject>", '<div data-lang="zh">',
    '<div style="display:none">', '<div class="takeaways-section">', "<", "&amp;", "&#x",
]  # fmt: skip
_TABLE_PIECES = [
    "## Papers for 2025-01-01", "# Papers for 2025-02-30", "### Papers for",
    "| Title | Authors | Summary |", "| Category | Title | Link |", "|---|---|---|", "|-|-|",
    "| a | b | c |", "| a | b |", "| | | |",
    "| T (Read more on [arXiv](https://arxiv.org/abs/2501.00001)) | b | c |", "  wrapped", "",
    "```", "    code", "\\|", "$a|b$", "<br>", "<sup>", "[x](javascript:alert(1))", "\ue0001\ue001",
    "https://x.org/a'b\"c", "| t [a](<https://x.org/a b>) | b | c |",
]  # fmt: skip


def _structured(pieces: list[str], head: str) -> st.SearchStrategy[str]:
    line = st.sampled_from(pieces) | st.text(max_size=12)
    return st.lists(line, max_size=60).map(lambda lines: head + "\n".join(lines))


STRUCTURED = {
    "quiz-text": _structured(_QUIZ_TEXT_PIECES, "2025-04-28 Papers\n"),
    "quiz-html": _structured(_HTML_PIECES, "<html>"),
    "markdown-table": _structured(_TABLE_PIECES, "## Papers for 2025-04-28\n"),
}
ANY_TEXT = st.text(max_size=400) | st.one_of(*STRUCTURED.values())


# What a paper may link to, whatever the input: an absolute http(s) URL that cannot break out of
# an attribute.
SAFE_URL = re.compile(r"^https?://[^\s\"'<>`\\]+$", re.IGNORECASE)


def _parses_or_raises_ours(call: Callable[[], list[Digest]]) -> None:
    with contextlib.suppress(FlashcardsError):
        for digest in call():
            for paper in digest.papers:
                urls = [paper.url, *(url for _label, url in paper.links)]
                assert all(SAFE_URL.match(url) for url in urls if url is not None), urls


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@FUZZ
@given(data=st.data())
def test_each_parser_raises_only_flashcards_errors(fmt: str, data: st.DataObject) -> None:
    # Every parser gets its own format's fragments and the others' (a parser must cope with
    # anything the detection could hand it, and with being called directly).
    text = data.draw(st.one_of(STRUCTURED[fmt], ANY_TEXT))
    _parses_or_raises_ours(lambda: PARSERS[fmt](text, "fuzz"))


@FUZZ
@given(data=st.binary(max_size=600) | ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_parse_bytes_raises_only_flashcards_errors(data: bytes) -> None:
    _parses_or_raises_ours(lambda: parse_bytes(data, "fuzz"))


@FUZZ
@given(text=ANY_TEXT)
def test_detect_format_never_raises(text: str) -> None:
    assert detect_format(text) in (None, "quiz-text", "quiz-html", "markdown-table")


# --- 2. round trips ---------------------------------------------------------------------------

# Text that means something somewhere downstream: HTML, Anki templates and cloze, markdown,
# JavaScript links, numbering, escapes, and non-ASCII.
HOSTILE_WORDS = [
    "|", "\\|", "\\", "\\\\", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>",
    "</div>", "&amp;", "&lt;", "&", "<", ">", "{{", "}}", "{{c1::secret}}", "{{FrontSide}}",
    "{{Title}}", "javascript:alert(1)", "[x](javascript:alert(1))", "1.", "2)", "*", "_", "`",
    "$", "$x$", "#", "~", "^", "%s", "{0}", ":", ";", "?", "!", "(", ")", "[", "]", "'", '"',
    "--", "—", "é", "Ω", "数学", "😀", "🧪", "A&B", "x<y", "a|b", "C++", "e^{i\\pi}",
]  # fmt: skip

# Plain words: letters only (no whitespace, which every format collapses, and no control or
# private-use characters, which no digest holds).
_PLAIN_WORD = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=8
)
_WORD = st.sampled_from(HOSTILE_WORDS) | _PLAIN_WORD


def _phrase(min_words: int = 1, max_words: int = 6) -> st.SearchStrategy[str]:
    """Whitespace-normalised text, as every parser returns it."""
    return st.lists(_WORD, min_size=min_words, max_size=max_words).map(" ".join)


# Each format has line shapes of its own (a paper header, a question number, a label). Text that
# happens to take such a shape cannot be told apart from the structure and is excluded from the
# fields it would break; each rule says which format needs it.
_PAPER_LINE = re.compile(r"^paper\s*:?\s*\d+\s*$", re.IGNORECASE)  # both quiz formats
_QUESTION_LINE = re.compile(r"^Q\d+(\s*$|[.:)])")  # quiz text: a question header
_LABEL_LINE = re.compile(r"^(published|link)\s*:", re.IGNORECASE)  # quiz formats: paper facts
_AFTER_PAPERS = re.compile(r"my takeaways|today's reading tips", re.IGNORECASE)  # quiz text
_PAGE_MARKER = re.compile(r"^1\s*/\s*\d+$")  # quiz text: a card counter before a paper
_ANSWER_LINE = re.compile(r"^(correct\s+)?answer\s*[:：]", re.IGNORECASE)  # quiz text: a key line
_BULLET = re.compile(r"^[-*•]\s")  # quiz text: options all bulleted lose their bullets
_FIELD_LABEL = re.compile(
    r"^(\d{1,2}\.\s*)?(\*\*\s*)?(topic|domain|previous research|new ideas|problem|methods?|"
    r"results|evaluation|summary|workflow)\b[^:]*:",
    re.IGNORECASE,
)  # quiz formats: a title line that opens a summary field ends the title


# quiz text: a flattened flow chart that numbers its items 1., 2. or bullets them is split into
# steps there
_CHART_STEPS = re.compile(r"(^|\s)1[.)]\s.*\s2[.)]\s|^[-*•]\s.*\s[-*•]\s")


def _quiz_line_ok(text: str) -> bool:
    return not (
        _PAPER_LINE.match(text)
        or _QUESTION_LINE.match(text)
        or _LABEL_LINE.match(text)
        or _AFTER_PAPERS.search(text)
        or _PAGE_MARKER.match(text)
    )


def _quiz_title_ok(title: str) -> bool:
    return _quiz_line_ok(title) and not _FIELD_LABEL.match(title)


_MARK = re.compile(r"[(\[]\s*correct\s*[)\]]$", re.IGNORECASE)  # quiz text: marks the answer


def _option_ok(option: str) -> bool:
    return _quiz_line_ok(option) and not (
        _ANSWER_LINE.match(option) or _BULLET.match(option) or _MARK.search(option)
    )


ARXIV_ID = st.one_of(
    st.builds(
        lambda yymm, n: f"{yymm[0]:02d}{yymm[1]:02d}.{n:05d}",
        st.tuples(st.integers(7, 30), st.integers(1, 12)),
        st.integers(1, 99999),
    ),
    st.builds(lambda n: f"hep-th/{n:07d}", st.integers(1, 9_999_999)),
)
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@st.composite
def quiz_question(draw: st.DrawFn, number: int) -> Question:
    # Options are distinct: the HTML names the right one by its text.
    options = draw(
        st.lists(_phrase(1, 4).filter(_option_ok), min_size=2, max_size=6, unique=True).map(tuple)
    )
    answer = draw(st.none() | st.integers(0, len(options) - 1))
    marked = answer is not None
    return Question(
        number=number,
        # Any text, even "1. …" or "Paper 2": the prompt line is always numbered first.
        prompt=draw(_phrase()),
        options=options,
        answer=answer,
        answer_source="marked" if marked else None,
        confidence=1.0 if marked else None,
        unsure=False if marked else None,
    )


# Summary field values: the five field emoji and `**` are the quiz summaries' own delimiters
# (a value holding "📘 …:" would open another field), so values avoid them.
_FIELD_VALUE = _phrase(1, 8).filter(lambda v: "**" not in v)

# A Link line: arXiv (pdf or abs, with or without version), another http(s) page, a broken or
# hostile (`javascript:`) link (neither may become the paper's url), or none.
LINK_KINDS = ("arxiv-pdf", "arxiv-abs", "other", "broken", "javascript", "none")


@st.composite
def quiz_paper(draw: st.DrawFn) -> tuple[Paper, str]:
    kind = draw(st.sampled_from(LINK_KINDS))
    arxiv_id = draw(ARXIV_ID) if kind.startswith("arxiv") else None
    link = {
        "arxiv-pdf": f"http://arxiv.org/pdf/{arxiv_id}",
        "arxiv-abs": f"https://arxiv.org/abs/{arxiv_id}v3",
        "other": "https://example.org/papers/42?x=1&y=%3C2%3E",
        # Spaces, quotes or angle brackets: not a link to keep, whatever its scheme.
        "broken": 'https://example.org/a b"><x>',
        "javascript": "javascript:alert(1)",
        "none": "",
    }[kind]
    url = {"other": link, "broken": None, "javascript": None, "none": None}.get(
        kind, f"https://arxiv.org/abs/{arxiv_id}"
    )
    fields = draw(st.dictionaries(st.sampled_from(FIVE_FIELDS), _FIELD_VALUE, max_size=5))
    if draw(st.booleans()):
        fields["workflow"] = draw(
            _phrase(1, 8).filter(lambda w: _quiz_line_ok(w) and not _CHART_STEPS.search(w))
        )
    count = draw(st.integers(0, 2))
    paper = Paper(
        title=draw(_phrase(1, 8).filter(_quiz_title_ok)),
        arxiv_id=arxiv_id,
        url=url,
        published=draw(st.none() | DATES),
        fields=fields,
        questions=tuple(draw(quiz_question(n)) for n in range(1, count + 1)),
    )
    return paper, link


def _unique_papers(papers: list[tuple[Paper, str]]) -> list[tuple[Paper, str]]:
    # One digest cannot hold the same paper (arXiv id, or title without one) twice: an error of
    # its own, tested in test_malformed.py and test_title_keys.py.
    keys = [p.key for p, _ in papers]
    assume(len(keys) == len(set(keys)))
    return papers


QUIZ_DIGEST = st.tuples(DATES, st.lists(quiz_paper(), max_size=3).map(_unique_papers))


def _bare(digest: Digest) -> list[Paper]:
    """The papers without the source lines the parser adds (the model has none)."""
    return [
        dataclasses.replace(
            p, line=None, questions=tuple(dataclasses.replace(q, line=None) for q in p.questions)
        )
        for p in digest.papers
    ]


def _expected_quiz_warnings(digest: Digest) -> list[str]:
    if not digest.papers:
        return ["no papers in this digest"]
    return [
        f"line {p.line}: paper {p.title!r} has no arXiv link; its identity comes from its title"
        for p in digest.papers
        if p.arxiv_id is None
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "write"), [("quiz-text", write_quiz_text), ("quiz-html", write_quiz_html)]
)
@ROUND_TRIP
@given(model=QUIZ_DIGEST, crlf=st.booleans(), bom=st.booleans())
def test_quiz_round_trip(
    fmt: str,
    write: Callable[[date, list[tuple[Paper, str]]], str],
    model: tuple[date, list[tuple[Paper, str]]],
    crlf: bool,
    bom: bool,
) -> None:
    day, papers = model
    text = write(day, papers)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.replace("\n", "\r\n" if crlf else "\n").encode()
    (digest,) = parse_bytes(data, "gen")
    assert (digest.format, digest.date) == (fmt, day)
    assert _bare(digest) == [paper for paper, _link in papers]
    assert list(digest.warnings) == _expected_quiz_warnings(digest)


# --- markdown table ---

# Table cells are inline markdown. The serialiser escapes every ASCII punctuation character, so
# `*`, `_`, `[`, `<`, `&`, `$` and `|` stay literal. What it cannot escape, the parser's own
# clean-up of title cells would remove, so titles avoid it: a bare URL, empty brackets such as "()"
# (the leftovers of removed links), a trailing "-:|" and the words "read more" (the start of the
# "(Read more on arXiv…)" tail). Summaries avoid chat preambles ("here's a summary…:") and
# "follow-up questions:" lists, which the parser strips on purpose. Authors hold no commas (the
# separator); a newline cannot be in any cell.
_EMPTY_BRACKETS = re.compile(r"\(\s*(?:or|and|[,;/|])?\s*\)|\[\s*\]")


def _table_title_ok(title: str) -> bool:
    return not (
        "http://" in title
        or "https://" in title
        or _EMPTY_BRACKETS.search(title)
        or re.search(r"read\s+more", title, re.IGNORECASE)
        or title[-1] in " -–—:|"
    )


def _summary_ok(summary: str) -> bool:
    return not re.search(
        r"^(okay|ok|sure|certainly)?[,!.]?\s*here|follow-up", summary, re.IGNORECASE
    )


TABLE_PAPER = st.builds(
    lambda title, arxiv_id, authors, summary: Paper(
        title=title,
        arxiv_id=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None,
        authors=tuple(authors),
        fields={"summary": summary} if summary else {},
        links=(("HuggingFace", f"https://huggingface.co/papers/{arxiv_id}"),) if arxiv_id else (),
    ),
    _phrase(1, 8).filter(_table_title_ok),
    st.none() | ARXIV_ID,
    st.lists(_phrase(1, 3).filter(lambda a: "," not in a), max_size=4),
    st.just("") | _phrase(1, 12).filter(_summary_ok),
)


def _unique_keys(papers: list[Paper]) -> list[Paper]:
    # A table names each paper once (by arXiv id, or by title when it has none).
    keys = [p.key for p in papers]
    assume(len(keys) == len(set(keys)))
    return papers


TABLE_DIGESTS = st.lists(
    st.tuples(DATES, st.lists(TABLE_PAPER, max_size=4).map(_unique_keys)), min_size=1, max_size=3
)


@pytest.mark.slow
@ROUND_TRIP
@given(model=TABLE_DIGESTS, crlf=st.booleans())
def test_markdown_round_trip(model: list[tuple[date, list[Paper]]], crlf: bool) -> None:
    text = write_markdown(model)
    digests = parse_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode(), "gen")
    assert [(d.format, d.date) for d in digests] == [("markdown-table", day) for day, _ in model]
    headings = [n for n, line in enumerate(text.split("\n"), 1) if line.startswith("## ")]
    for digest, (_day, papers), heading in zip(digests, model, headings, strict=True):
        assert _bare(digest) == papers
        empty = f"line {heading}: no papers in this digest (a paper table with no rows)"
        assert digest.warnings == (() if papers else (empty,))


# --- damaged digests: cut, spliced or garbled copies of well-formed ones ----------------------


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(["quiz-text", "quiz-html", "markdown-table"]))
    if fmt == "markdown-table":
        text = write_markdown(draw(TABLE_DIGESTS))
    else:
        day, papers = draw(QUIZ_DIGEST)
        text = (write_quiz_text if fmt == "quiz-text" else write_quiz_html)(day, papers)
    data = text.encode()
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 200)))
    damage = draw(st.sampled_from(["truncate", "delete", "repeat", "garble"]))
    if damage == "truncate":  # a download cut short, possibly inside a UTF-8 sequence
        return data[:start]
    if damage == "delete":
        return data[:start] + data[end:]
    if damage == "repeat":
        return data[:end] + data[start:end] + data[end:]
    return data[:start] + draw(st.binary(max_size=8)) + data[start:]


@pytest.mark.slow
@ROUND_TRIP
@given(data=damaged())
def test_damaged_digests_raise_only_flashcards_errors(data: bytes) -> None:
    _parses_or_raises_ours(lambda: parse_bytes(data, "damaged"))


# --- the serialisers themselves must be able to fail the round trip ---------------------------


def test_round_trip_notices_a_lost_character() -> None:
    """Guard against a tautology: a serialiser bug (an unescaped `*`) changes the parsed model."""
    paper = Paper(title="a *b* c", fields={"summary": "x"})
    unescaped = write_markdown([(date(2025, 1, 2), [paper])]).replace("\\*", "*")
    (digest,) = parse_bytes(unescaped.encode(), "gen")
    assert _bare(digest) != [paper]
