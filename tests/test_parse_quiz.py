"""The quiz digest parsers (quiz text and quiz HTML): seeds, the real corpus, fixtures, bad input.

Expectations on real files are computed here independently of the parsers (regexes over the raw
files), and the text and HTML versions of the same day are checked against each other.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_writers import FIVE_FIELDS
from helpers import CORPUS, FIXTURES, only_digest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flashcards.cli import main
from flashcards.errors import NotADigestError, ParseError
from flashcards.links import arxiv_id_from_url
from flashcards.model import FIELD_NAMES, Digest
from flashcards.parse import (
    common,
    parse_bytes,
    parse_file,
    parse_paths,
    parse_text,
    quiz_html,
    quiz_text,
)
from flashcards.parse.common import parse_iso_date, split_fields

QUIZ = FIXTURES / "quiz"
ARXIV_LINK = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


# --- shared helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://arxiv.org/pdf/2504.17761", "2504.17761"),
        ("https://arxiv.org/abs/2504.17761v3", "2504.17761"),
        ("https://arxiv.org/pdf/2504.17761v2.pdf", "2504.17761"),
        ("https://arxiv.org/html/2412.00001v1", "2412.00001"),
        ("https://www.arxiv.org/abs/0704.0001", "0704.0001"),
        ("https://arxiv.org/abs/hep-th/0601001v1", "hep-th/0601001"),
        ("https://huggingface.co/papers/2504.17761", None),
        ("https://arxiv.org/list/cs.AI/recent", None),
        ("not a url", None),
    ],
)
def test_arxiv_id_from_url(url: str, expected: str | None) -> None:
    assert arxiv_id_from_url(url) == expected


def test_parse_iso_date_names_impossible_dates() -> None:
    assert parse_iso_date("2025-02-28", "f.txt", 3).isoformat() == "2025-02-28"
    with pytest.raises(ParseError) as caught:
        parse_iso_date("2025-02-30", "f.txt", 3)
    assert str(caught.value).startswith("f.txt:3: impossible date '2025-02-30'")
    with pytest.raises(ParseError, match="expected a date as YYYY-MM-DD"):
        parse_iso_date("April 1st", "f.txt", 1)


def test_split_fields_handles_run_together_markdown_and_prose() -> None:
    text = (
        "1. 📘 Topic and Domain: T, and the problem: stays here. 2. **💡 Previous Research and "
        "New Ideas:** P 3. **❓ Problem:** Q 4. **🛠️ Methods:** M 5. **📊 Results and "
        "Evaluation:** R\n2. 💡 Previous Research and New Ideas: P 3. **❓ Problem:** Q"
    )
    assert split_fields(text) == {
        "topic": "T, and the problem: stays here.",
        "previous_research": "P",
        "problem": "Q",
        "methods": "M",
        "results": "R",
    }
    assert split_fields("Loose words first.\nProblem: bare label") == {
        "summary": "Loose words first.",
        "problem": "bare label",
    }
    assert split_fields("") == {}


# The field-marker regex as it was before its start was made cheap to rule out (a lookbehind
# `(?<!\S)` and a first-character class): both must find the same markers in any text.
_FORMER_MARKER = re.compile(
    rf"""
    (?P<lead>(?:^|(?<=\s))(?:\d{{1,2}}\.\s*+)?(?:\*\*\s*+)?)
    (?:
        (?P<emoji>[{common._EMOJI_CLASS}])\ufe0f?\s*+(?P<elabel>[^:：*\n]{{0,60}}+)
      | (?P<label>{common._LABEL_ALTERNATIVES})
    )
    \s*(?:\*\*\s*)?[:：](?:\s*\*\*)?[ \t]*
    """,
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)
_MARKER_PIECES = st.sampled_from(
    [
        *("📘", "💡", "❓", "🛠️", "📊", "Topic", "PROBLEM", "problem", "ſummary", "Methods", "x"),
        *("evaluation", "Results and Evaluation", "new ideas", "Workflow", "domain", "1.", "12."),
        *(":", "：", "**", " ", "\n", "\t", "\u00a0", "\u3000", "é", "2", "-", "Q1"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_MARKER_PIECES, max_size=20))
def test_field_markers_are_found_where_the_former_regex_found_them(pieces: list[str]) -> None:
    text = "".join(pieces)

    def found(pattern: re.Pattern[str]) -> list[tuple[object, ...]]:
        return [(m.span(), m["emoji"], m["elabel"], m["label"]) for m in pattern.finditer(text)]

    assert found(common._MARKER) == found(_FORMER_MARKER)


# Prose long enough that a marker is looked for only in the last characters before a colon,
# and whitespace runs that make a marker reach further back.
_LONG_PIECES = st.sampled_from(
    [
        *("x" * 70, "word " * 15, " " * 40, "\n\n", "  ", "\t\t", "é" * 59, "a" * 60),
        # The longest markers: every optional part there, one space between them.
        *("12. ** 📘\ufe0f ", "12. ** ", " ** ", "Previous research and new ideas", "y" * 58),
        *("İdeas", "ıdeas", "Reſults", "PROBLEM ** ", "summary*"),
    ]
)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(_MARKER_PIECES, _LONG_PIECES), max_size=30))
@example(["word " * 20, "12. ** 📘\ufe0f ", "y" * 60, " ** ", ":"])
@example(["word " * 20, "12. ** 📘\ufe0f ", "y" * 58, " ** ", ":"])
@example(["word " * 20, "12. ** ", "Previous research and new ideas", " ** ", ":"])
def test_field_markers_looked_for_before_colons_are_those_finditer_finds(
    pieces: list[str],
) -> None:
    text = "".join(pieces)

    def spans(matches: Iterable[re.Match[str]]) -> list[tuple[object, ...]]:
        return [(m.span(), m["emoji"], m["elabel"], m["label"]) for m in matches]

    assert spans(common._markers(text)) == spans(common._MARKER.finditer(text))


def test_lowering_a_text_keeps_every_case_of_the_labels_letters() -> None:
    # `_may_end_with_label` lowers the text before a colon (with a few fixes) to find a label:
    # every character matching a label's letter case-insensitively must lower to that letter.
    letters = set("".join(common._FIELD_LABELS)) - {" "}
    pattern = re.compile(f"[{''.join(sorted(letters))}]", re.IGNORECASE)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if pattern.match(char):
            lowered = char.lower().translate(common._LOWER_FIXES)
            assert lowered in letters and re.match(lowered, char, re.IGNORECASE), hex(code)


def test_field_markers_start_with_any_case_of_a_label() -> None:
    # The first-character class is compiled with the labels' own flags: every character that
    # matches a label's first letter case-insensitively (the long s of "ſummary", say) is in it.
    letters = re.compile("|".join(common._MARKER_START), re.IGNORECASE)
    start = re.compile(f"[{common._MARKER_START}]", re.IGNORECASE)
    assert "s" in common._MARKER_START and letters.match("ſ")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert bool(letters.match(char)) == bool(start.match(char)), hex(code)


def test_quiz_text_line_gates_hold_every_case_of_their_letters() -> None:
    # The text parser tries a case-insensitive line regex only on lines starting with one of
    # the letters' two ASCII cases: no other character matches them case-insensitively.
    letters = "".join(
        sorted(
            quiz_text._AFTER_PAPERS_START
            | quiz_text._PUBLISHED_START
            | quiz_text._LINK_START
            | quiz_text._ANSWER_LINE_START
        )
    ).replace("📝", "")
    pattern = re.compile(f"[{letters}]", re.IGNORECASE)
    matched = {chr(c) for c in range(sys.maxunicode + 1) if pattern.match(chr(c))}
    assert matched == set(letters) == set("AaCcLlMmPpTt")


def test_quiz_text_mark_gate_finds_correct_in_any_case() -> None:
    # An option is looked at for a "(correct)" mark only when its `str.lower` holds "correct":
    # the characters matching its letters case-insensitively are exactly those lowering to them.
    letters = set(quiz_text._CORRECT)
    pattern = re.compile(f"[{quiz_text._CORRECT}]", re.IGNORECASE)
    exact = re.compile(f"[{quiz_text._CORRECT}]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lowered = char.lower()
        if pattern.match(char):
            assert lowered in letters, hex(code)
        else:
            assert not exact.search(lowered), hex(code)


# --- seeds ---------------------------------------------------------------------------------------

SEED_PAPERS = {
    "000": (
        "2025-04-28",
        [
            ("2504.17761", "Step1X-Edit: A Practical Framework for General Image Editing"),
            (
                "2504.18415",
                "BitNet v2: Native 4-bit Activations with Hadamard Transformation for 1-bit LLMs",
            ),
            ("2504.15777", "Tina: Tiny Reasoning Models via LoRA"),
        ],
    ),
    "001": (
        "2025-04-17",
        [
            ("2504.12285", "BitNet b1.58 2B4T Technical Report"),
            ("2504.12240", "Cobra: Efficient Line Art COlorization with BRoAder References"),
            ("2504.10337", "Heimdall: test-time scaling on the generative verification"),
        ],
    ),
    "002": (
        "2025-05-22",
        [
            ("2505.14302", "Scaling Law for Quantization-Aware Training"),
            ("2505.15779", "IA-T2I: Internet-Augmented Text-to-Image Generation"),
            (
                "2505.14231",
                "UniVG-R1: Reasoning Guided Universal Visual Grounding with Reinforcement Learning",
            ),
        ],
    ),
}


def _raw_prompts(path: Path) -> list[str]:
    """Every prompt of a quiz text file, read straight from the line after each `Q<n>`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        re.sub(r"^\d+\.\s*", "", lines[i + 1].strip())
        for i, line in enumerate(lines)
        if re.fullmatch(r"Q\d+", line.strip())
    ]


@pytest.mark.parametrize("prefix", sorted(SEED_PAPERS))
def test_quiz_seeds_exactly(seeds: Path, prefix: str) -> None:
    (path,) = seeds.glob(f"{prefix}_*")
    digest = only_digest(parse_file(path))
    expected_date, expected_papers = SEED_PAPERS[prefix]
    assert digest.format == "quiz-text"
    assert digest.date.isoformat() == expected_date
    assert digest.warnings == ()
    assert [(p.arxiv_id, p.title) for p in digest.papers] == expected_papers
    for paper in digest.papers:
        assert paper.url == f"https://arxiv.org/abs/{paper.arxiv_id}"
        assert paper.published is not None
        assert all(paper.fields.get(name) for name in FIVE_FIELDS), paper.title
        assert paper.fields.get("workflow")
        assert [q.number for q in paper.questions] == [1, 2, 3]
        for question in paper.questions:
            assert len(question.options) == 3
            assert not re.match(r"\d+\.", question.prompt)
            assert question.answer is None and question.answer_source is None
    prompts = [q.prompt for p in digest.papers for q in p.questions]
    assert prompts == _raw_prompts(path)


def test_quiz_seed_totals(seeds: Path) -> None:
    papers = [
        p
        for prefix in SEED_PAPERS
        for p in only_digest(parse_file(*seeds.glob(f"{prefix}_*"))).papers
    ]
    questions = [q for p in papers for q in p.questions]
    assert len(papers) == 9
    assert len(questions) == 27
    assert {len(q.options) for q in questions} == {3}


# --- the real corpus -----------------------------------------------------------------------------

DAILY = CORPUS / "daily_paper"
TEXT_FILES = sorted((DAILY / "text").glob("*.txt")) if DAILY.is_dir() else []
HTML_FILES = sorted((DAILY / "html").glob("*.html")) if DAILY.is_dir() else []


@pytest.fixture(scope="module")
def parsed(corpus: Path) -> dict[Path, Digest]:
    """Every quiz digest of the corpus, parsed once for the whole module."""
    return {path: only_digest(parse_file(path)) for path in [*TEXT_FILES, *HTML_FILES]}


def test_corpus_is_there(parsed: dict[Path, Digest]) -> None:
    assert len(TEXT_FILES) >= 100 and len(HTML_FILES) >= 100


def test_every_corpus_file_parses_to_its_dated_digest(parsed: dict[Path, Digest]) -> None:
    for path, digest in parsed.items():
        assert digest.format == ("quiz-html" if path.suffix == ".html" else "quiz-text")
        assert digest.date.isoformat() == path.stem
        assert digest.warnings == (), path


def test_corpus_papers_match_distinct_arxiv_links(parsed: dict[Path, Digest]) -> None:
    for path, digest in parsed.items():
        links = set(ARXIV_LINK.findall(path.read_text(encoding="utf-8")))
        assert sorted(p.arxiv_id for p in digest.papers) == sorted(links), path


def test_corpus_lines_point_at_papers_and_questions(parsed: dict[Path, Digest]) -> None:
    for path, digest in parsed.items():
        lines = path.read_text(encoding="utf-8").split("\n")
        for paper in digest.papers:
            assert paper.line is not None
            assert re.search(r"Paper:? ?\d", lines[paper.line - 1]), (path, paper.line)
            for question in paper.questions:
                assert question.line is not None
                wanted = "quiz-popup" if path.suffix == ".html" else f"Q{question.number}"
                assert wanted in lines[question.line - 1], (path, question.line)


def test_corpus_fields_and_counts(parsed: dict[Path, Digest]) -> None:
    papers = [p for d in parsed.values() for p in d.papers]
    questions = [q for p in papers for q in p.questions]
    assert len(questions) >= 1700
    for paper in papers:
        assert set(paper.fields) <= set(FIELD_NAMES)
        assert all(value and value == value.strip() for value in paper.fields.values())
        assert "**" not in "".join(paper.fields.values())
    # Most papers carry all five fields; a few summaries are empty on the site itself.
    complete = sum(all(f in p.fields for f in FIVE_FIELDS) for p in papers)
    assert complete >= 0.98 * len(papers)
    for question in questions:
        assert len(question.options) >= 2
        assert question.prompt and not re.match(r"\d+\s*\.", question.prompt)


def _raw_popups(page: str) -> list[tuple[str, str, list[str]]]:
    """(data-answer, prompt, data-values) of every English quiz popup, from the raw page text."""
    popups = []
    for chunk in re.split(r'<div class="quiz-popup"', page)[1:]:
        head = re.match(r'\s*data-answer="(?P<answer>[^"]*)"(?P<rest>[^>]*)>', chunk)
        assert head is not None, chunk[:200]
        if re.search(r'data-lang="(?!en)', head.group("rest")):
            continue
        answer = html.unescape(head.group("answer"))
        prompt = re.search(r'class="quiz-question">(.*?)</div>', chunk, re.S).group(1)
        prompt = re.sub(r"^\d+\.\s*", "", " ".join(html.unescape(prompt).split()))
        values = [html.unescape(v) for v in re.findall(r'data-value="([^"]*)"', chunk)]
        popups.append((answer, prompt, values))
    return popups


def test_html_answers_read_back(parsed: dict[Path, Digest]) -> None:
    known = 0
    for path in HTML_FILES:
        questions = [q for p in parsed[path].papers for q in p.questions]
        popups = _raw_popups(path.read_text(encoding="utf-8"))
        assert len(questions) == len(popups), path
        for question, (answer, prompt, values) in zip(questions, popups, strict=True):
            assert question.prompt == prompt, path
            if answer:
                known += 1
                assert question.answer == values.index(answer), (path, prompt)
                assert question.answer_source == "marked"
                assert question.confidence == 1.0 and question.unsure is False
            else:
                assert question.answer is None
                assert question.answer_source is None and question.confidence is None
    assert known >= 850


def _damaged(text: Digest, page: Digest, page_path: Path) -> bool:
    """The text digest lost content that the HTML holds: a flow chart cut off mid-comment or
    mid-style hid the rest of its paper in browsers, and so in the text digest too."""
    raw = page_path.read_text(encoding="utf-8")
    text_questions = sum(len(p.questions) for p in text.papers)
    return text_questions < raw.count('class="quiz-popup"') or len(text.papers) < len(
        set(ARXIV_LINK.findall(raw))
    )


def _without_tags(options: tuple[str, ...]) -> tuple[str, ...]:
    # A literal like '</think>' in an option survives in the HTML (data-value) but not in text.
    return tuple(" ".join(re.sub(r"<[^<>]*>", "", o).split()) for o in options)


def test_text_and_html_of_the_same_day_agree(parsed: dict[Path, Digest]) -> None:
    damaged = []
    for text_path in TEXT_FILES:
        page_path = DAILY / "html" / f"{text_path.stem}.html"
        text, page = parsed[text_path], parsed[page_path]
        questions_of = {
            id(p): [(q.number, q.prompt, _without_tags(q.options)) for q in p.questions]
            for p in [*text.papers, *page.papers]
        }
        if _damaged(text, page, page_path):
            damaged.append(text_path.stem)
            # What the text kept must still be in the page, whichever paper it landed under.
            assert {p.key for p in text.papers} <= {p.key for p in page.papers}
            page_questions = Counter(q for p in page.papers for q in questions_of[id(p)])
            text_questions = Counter(q for p in text.papers for q in questions_of[id(p)])
            assert not text_questions - page_questions, text_path
            continue
        assert [(p.arxiv_id, p.title) for p in text.papers] == [
            (p.arxiv_id, p.title) for p in page.papers
        ], text_path
        for a, b in zip(text.papers, page.papers, strict=True):
            assert questions_of[id(a)] == questions_of[id(b)], (text_path, a.title)
            assert a.published == b.published
            assert {k: v for k, v in a.fields.items() if k != "workflow"} == {
                k: v for k, v in b.fields.items() if k != "workflow"
            }, (text_path, a.title)
            assert ("workflow" in a.fields) == ("workflow" in b.fields)
            if "workflow" in a.fields:
                # The page's steps say what the text's flattened chart says, less the chart's
                # title and with the punctuation that joins a step's lines.
                # (The text converter sometimes glues two labels into one word.)
                words = _chart_words(b.fields["workflow"])
                found = [w for w in words if w in a.fields["workflow"]]
                assert len(found) >= 0.9 * len(words), (text_path, a.title)
    # Only the three pages whose flow charts broke the page differ; more means a parser bug.
    assert damaged == ["2025-05-06", "2025-05-07", "2025-05-08"]


def _chart_words(workflow: str) -> set[str]:
    """The words of a chart, without what joins its steps: arrows, the numbers of numbered
    items, the punctuation between a step's lines."""
    return {w.strip(":,") for w in workflow.split() if not re.fullmatch(r"→|\d+[.)]", w)} - {""}


def test_no_chinese_leaks_into_english_content(parsed: dict[Path, Digest]) -> None:
    for digest in parsed.values():
        for paper in digest.papers:
            texts = [paper.title, *paper.fields.values()]
            texts += [s for q in paper.questions for s in (q.prompt, *q.options)]
            assert not any(CJK.search(t) for t in texts), (digest.source, paper.title)


# --- fixtures in our own words -------------------------------------------------------------------


def test_fixture_text_variations() -> None:
    digest = only_digest(parse_file(QUIZ / "varied.txt"))
    assert digest.date.isoformat() == "2025-06-03"
    first, second, third = digest.papers
    # Earliest layout: "Paper: 1", no space after the colon, no flow chart, no page marker.
    assert first.arxiv_id == "2506.01234" and first.url == "https://arxiv.org/abs/2506.01234"
    assert first.fields["topic"] == (
        "Speech recognition on small devices, using sparse expert layers."
    )
    assert "workflow" not in first.fields
    assert [len(q.options) for q in first.questions] == [4, 3]
    # '1/2' is an option here, not a page marker: no paper header follows it.
    assert first.questions[1].options == ("1/2", "1/4", "3/4")
    assert (first.line, [q.line for q in first.questions]) == (3, [16, 22])
    # A wrapped title, "No Date", no link (identity from the title), run-together markdown.
    assert second.title == (
        "A Very Long Title About Retrieval That the Converter Wrapped Onto Two Lines"
    )
    assert second.arxiv_id is None and second.url is None and second.published is None
    assert second.key == (
        "title:a-very-long-title-about-retrieval-that-the-converter-wrapped-onto-two-lines"
    )
    assert second.fields == {
        "topic": "Retrieval for question answering.",
        "previous_research": "Earlier retrievers scored passages one by one.",
        "problem": "Scoring every passage is slow.",
        "methods": "Passages are clustered first and only the best cluster is scored.",
        "results": "Latency halved with the same recall.",
        "workflow": "Cluster-first retrieval Query Encode Cluster search Passage scoring Answer",
    }
    # A title that starts with "Paper", an empty summary, no quiz; the reading tips are ignored.
    assert third.title == "Paper2Poster: Turning Articles Into Posters"
    assert third.questions == ()
    assert third.fields == {
        "workflow": "Paper Poster Pipeline Parse article Lay out panels Render poster"
    }
    assert digest.warnings == (
        "line 28: paper 'A Very Long Title About Retrieval That the Converter Wrapped Onto Two "
        "Lines' has no arXiv link; its identity comes from its title",
    )


def test_fixture_text_marks() -> None:
    digest = only_digest(parse_file(QUIZ / "marks.txt"))
    questions = digest.papers[0].questions
    assert [q.answer for q in questions] == [1, 2, 1, None]
    assert questions[0].options == ("The first one", "The second one", "The third one")
    assert questions[1].options == ("Alpha", "Beta", "Gamma")
    assert questions[2].options == ("Red", "Green", "Blue")
    for question in questions[:3]:
        assert (question.answer_source, question.confidence, question.unsure) == (
            "marked",
            1.0,
            False,
        )
    assert (questions[3].answer_source, questions[3].confidence, questions[3].unsure) == (
        None,
        None,
        None,
    )


def test_fixture_header_only_digest_warns() -> None:
    digest = only_digest(parse_file(QUIZ / "header_only.txt"))
    assert digest.papers == ()
    assert digest.warnings == ("no papers in this digest",)


def test_fixture_bilingual_html_takes_english() -> None:
    digest = only_digest(parse_file(QUIZ / "bilingual.html"))
    assert digest.format == "quiz-html" and digest.date.isoformat() == "2026-02-10"
    first, second = digest.papers
    assert first.title == "Gardening Robots That Learn From a Single Demonstration"
    assert first.fields["problem"] == "Collecting many demonstrations in a garden is slow."
    # The chart's title is dropped; the two lines of one box are one step.
    assert first.fields["workflow"] == "Watch video → Predict hand path → Move arm"
    q1, q2 = first.questions
    assert (q1.prompt, q1.answer, q1.answer_source) == (
        "How many demonstrations does the robot need?",
        1,
        "marked",
    )
    # Inline markup does not split words; an unescaped '<tool>' is kept from data-value.
    assert q2.prompt == "Which tool does the planner not control?"
    assert q2.options[-1] == "Wrap <tool> tags"
    assert (q2.answer, q2.answer_source, q2.confidence, q2.unsure) == (None, None, None, None)
    assert (first.line, q1.line, q2.line) == (18, 41, 53)
    # A card without a flow chart, fields run together in one chunk; the tips box is not a link.
    assert second.arxiv_id == "2602.02222" and "workflow" not in second.fields
    assert second.fields["results"] == "Counts came within 5% of expert surveys."
    assert second.fields["previous_research"] == (
        "Past counts used cameras; this uses microphones."
    )
    assert second.url == "https://arxiv.org/abs/2602.02222"
    assert [q.options for q in second.questions] == [("Cameras", "Microphones")]


def test_fixture_truncated_flow_charts_do_not_swallow_the_page() -> None:
    digest = only_digest(parse_file(QUIZ / "truncated_chart.html"))
    assert [p.arxiv_id for p in digest.papers] == ["2506.07777", "2506.08888", "2506.09999"]
    first, second, third = digest.papers
    assert first.fields["workflow"] == "Truncation study"
    assert [(q.answer, q.line) for q in first.questions] == [(1, 26)]
    assert [(q.answer, q.line) for q in second.questions] == [(0, 49)]
    assert third.title == "The Paper After the Damage" and third.line == 58


def test_crlf_and_bom_parse_like_plain_utf8() -> None:
    data = (QUIZ / "marks.txt").read_bytes()
    plain = only_digest(parse_bytes(data, "x.txt"))
    windows = only_digest(parse_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"), "x.txt"))
    assert windows.papers == plain.papers


# --- bad input -----------------------------------------------------------------------------------

GOOD_PAPER = """Paper 1

A Perfectly Fine Title

Published: 2025-06-02

Link: http://arxiv.org/pdf/2506.00001

Q1
1. Which is right?
This
That
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Just some notes.\nNothing to see.\n", 1, "not a digest"),
        ("2025-02-30 Papers\n\n" + GOOD_PAPER, 1, "impossible date '2025-02-30'"),
        (
            "2025-06-03 Papers\n\n" + GOOD_PAPER.replace("That\n", ""),
            11,
            "Q1 has 1 option(s); a question needs at least two",
        ),
        (
            "2025-06-03 Papers\n\nPaper 1\n\nPublished: 2025-06-02\n",
            3,
            "paper has no title",
        ),
        (
            "2025-06-03 Papers\n\n" + GOOD_PAPER + "\n" + GOOD_PAPER.replace("Paper 1", "Paper 2"),
            22,
            "arXiv id 2506.00001 appears twice in this digest (first at line 9)",
        ),
        (
            "2025-06-03 Papers\n\n" + GOOD_PAPER + "Answer: D\n",
            15,
            "answer D is out of range for Q1 (2 options, A-B)",
        ),
        (
            "2025-06-03 Papers\n\n" + GOOD_PAPER.replace("This\nThat", "This ✓\nThat ✓"),
            14,
            "Q1 marks more than one option as correct",
        ),
    ],
)
def test_bad_quiz_text(text: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_text(text, "bad.txt")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"bad.txt:{line}: ")
    assert message in str(caught.value)


def test_quiz_text_header_without_date() -> None:
    with pytest.raises(ParseError) as caught:
        quiz_text.parse("Papers\n\n" + GOOD_PAPER, "nodate.txt")
    assert str(caught.value) == (
        "nodate.txt:1: digest header 'Papers' has no date (YYYY-MM-DD Papers)"
    )


PAGE = """<!DOCTYPE html>
<html><body>
<h1>{heading}</h1>
<div class="paper-card">
<h2>Paper 1</h2>
{title}
<p><strong>Link: </strong><a href="http://arxiv.org/pdf/2506.00002">x</a></p>
</div>
<div class="quiz-tabs"><div class="quiz-tab">Q1
<div class="quiz-popup" data-answer="Only">
<div class="quiz-question">1. Which?</div>
<div class="quiz-choices"><div class="quiz-choice" data-value="Only">Only</div>{more}</div>
</div></div></div>
</body></html>
"""


@pytest.mark.parametrize(
    ("fill", "line", "message"),
    [
        ({}, 10, "Q1 has 1 option(s); a question needs at least two"),
        ({"title": "", "more": '<div class="quiz-choice">Other</div>'}, 5, "paper has no title"),
        ({"heading": "Papers"}, 3, "digest heading without a date"),
        ({"heading": "2025-13-01 Papers"}, 3, "impossible date '2025-13-01'"),
    ],
)
def test_bad_quiz_html(fill: dict[str, str], line: int, message: str) -> None:
    values = {"heading": "2025-06-03 Papers", "title": "<p><strong>T</strong></p>", "more": ""}
    page = PAGE.format(**(values | fill))
    with pytest.raises(ParseError) as caught:
        parse_text(page, "bad.html")
    assert str(caught.value).startswith(f"bad.html:{line}: ")
    assert message in str(caught.value)


def test_html_that_is_no_digest_is_skippable() -> None:
    with pytest.raises(NotADigestError):
        quiz_html.parse("<html><head><title>Research Papers</title></head></html>", "x.html")


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", 1, "empty file"),
        (b"  \n\n", 1, "empty file"),
        (b"2025-06-03 Papers\n\n\xff\xfe broken\n", 3, "not UTF-8"),
    ],
)
def test_bad_bytes(data: bytes, line: int, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_bytes(data, "raw.txt")
    assert str(caught.value).startswith(f"raw.txt:{line}: {message}")


# --- the command line ----------------------------------------------------------------------------

PAPER_KEYS = {"arxiv_id", "title", "url", "published", "authors", "fields", "questions"}
QUESTION_KEYS = {"number", "prompt", "options", "answer", "answer_source", "confidence"}
QUESTION_KEYS |= {"unsure", "evidence"}


def test_cli_parse_json_shape(seeds: Path) -> None:
    (path,) = seeds.glob("000_*")
    result = CliRunner().invoke(main, ["parse", "--json", str(path)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"digests"}
    (digest,) = document["digests"]
    assert {"source", "format", "date", "papers"} <= set(digest)
    assert (digest["format"], digest["date"]) == ("quiz-text", "2025-04-28")
    assert len(digest["papers"]) == 3
    for paper in digest["papers"]:
        assert set(paper) >= PAPER_KEYS
        assert set(paper["fields"]) == {*FIVE_FIELDS, "workflow"}
        assert paper["url"] == f"https://arxiv.org/abs/{paper['arxiv_id']}"
        for question in paper["questions"]:
            assert set(question) >= QUESTION_KEYS
            assert isinstance(question["options"], list) and len(question["options"]) == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "2025-06-03 Papers\n\nPaper 1\n\nPublished: 2025-06-02\n",
            "bad.txt:3: paper has no title",
        ),
        ("", "bad.txt:1: empty file"),
    ],
)
def test_cli_parse_error_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.txt").write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["parse", "--json", "bad.txt"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {expected}\n"
    assert "Traceback" not in result.output


def test_python_dash_m_flashcards_parse() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "flashcards", "parse", str(QUIZ / "marks.txt")],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert completed.returncode == 0, completed.stderr
    assert "quiz-text, 2025-06-04, 1 papers, 4 questions" in completed.stdout


def test_quiz_text_allows_a_short_preamble_before_the_header() -> None:
    # Bilingual pages show a language button ("ZH") above the heading.
    digest = only_digest(quiz_text.parse("ZH\n\n2026-04-01 Papers\n\n" + GOOD_PAPER, "zh.txt"))
    assert digest.date.isoformat() == "2026-04-01"
    assert [p.arxiv_id for p in digest.papers] == ["2506.00001"]
    assert digest.warnings == ()  # the button is known page furniture, not a format change


def test_quiz_text_warns_about_lines_that_fit_nowhere() -> None:
    text = "2026-04-01 Papers\n\nSomething unexpected\nand more\n\n" + GOOD_PAPER
    digest = only_digest(quiz_text.parse(text, "odd.txt"))
    assert [p.arxiv_id for p in digest.papers] == ["2506.00001"]
    assert digest.warnings == (
        "line 3: ignored this and 1 more line(s): no paper or question fits here",
    )


def test_format_detection_sees_quiz_text_behind_a_short_preamble() -> None:
    [digest] = parse_text("ZH\n\n2026-04-01 Papers\n\n" + GOOD_PAPER, "zh.txt")
    assert digest.format == "quiz-text"
    with pytest.raises(NotADigestError):
        parse_text("a long line of prose that is not a language button\n\n2026-04-01 Papers\n")


def test_directory_scan_reports_warnings_as_path_and_line(tmp_path: Path) -> None:
    odd = "2026-04-01 Papers\n\nSomething unexpected\n\n" + GOOD_PAPER
    (tmp_path / "zh.txt").write_text(odd, encoding="utf-8")
    (tmp_path / "notes.md").write_text("just my notes\n", encoding="utf-8")
    result = parse_paths([tmp_path])
    assert [d.source for d in result.digests] == [str(tmp_path / "zh.txt")]
    assert sorted(result.warnings) == sorted(
        [
            f"{tmp_path / 'notes.md'}:1: not a digest: expected a 'YYYY-MM-DD Papers' header "
            "(quiz text), a '## Papers for YYYY-MM-DD' section (markdown table) or a quiz HTML "
            "page (skipped)",
            f"{tmp_path / 'zh.txt'}:3: ignored this: no paper or question fits here",
        ]
    )


def test_fixture_inline_markup_in_chart_text_keeps_its_words() -> None:
    """2026 charts write `F<sub>plan</sub>` inside SVG text: the HTML parser keeps the marked-up
    text glued to its word, as the text digest of the same page does; separate `<tspan>`s (shown
    on separate lines) stay separate words."""
    page = only_digest(parse_file(QUIZ / "svg_inline_markup.html"))
    text = only_digest(parse_file(QUIZ / "svg_inline_markup.txt"))
    [page_paper], [text_paper] = page.papers, text.papers
    assert page_paper.fields["workflow"] == (
        "Loss Ltotal = Ldrag + Lsteer → Area grows as r2 → Swim test → Score low is flagged"
    )
    assert text_paper.fields["workflow"] == (
        "Training Flow Loss Ltotal = Ldrag + Lsteer Area grows as r2 Swimtest Score low is flagged"
    )
    assert {k: v for k, v in page_paper.fields.items() if k != "workflow"} == {
        "topic": "Swimming robots that clean ponds.",
        "methods": "A drag loss and a steering loss are added together.",
    }
    assert [(q.prompt, q.options, q.answer) for q in page_paper.questions] == [
        (
            "What is the total training loss?",
            ("The drag loss alone", "The drag loss plus the steering loss"),
            1,
        )
    ]
    assert [(q.prompt, q.options) for q in text_paper.questions] == [
        (q.prompt, q.options) for q in page_paper.questions
    ]


def _many_options(count: int) -> tuple[str, ...]:
    return tuple(f"Choice number {i}" for i in range(1, count + 1))


@pytest.mark.parametrize("count", [26, 27, 29])
def test_a_question_has_at_most_26_options_in_every_quiz_format(tmp_path: Path, count: int) -> None:
    """Options are lettered A to Z (answer keys, cards): a 27th option has no letter, so it is a
    parse error naming the question's line in both quiz formats, not a crash later on."""
    from datetime import date

    from digest_writers import write_quiz_html, write_quiz_text

    from flashcards.model import MAX_OPTIONS, Paper, Question, option_index, option_letter

    assert MAX_OPTIONS == 26 and option_letter(25) == "Z" and option_index("z") == 25
    question = Question(1, "Which choice is meant?", _many_options(count))
    paper = Paper("A paper with a long question", arxiv_id="2506.00001", questions=(question,))
    for name, writer in (("d.txt", write_quiz_text), ("d.html", write_quiz_html)):
        path = tmp_path / name
        path.write_text(writer(date(2025, 6, 3), [(paper, "https://arxiv.org/abs/2506.00001")]))
        if count <= MAX_OPTIONS:
            (digest,) = parse_file(path)
            assert len(digest.papers[0].questions[0].options) == count
            continue
        with pytest.raises(ParseError) as info:
            parse_file(path)
        assert f"Q1 has {count} options; a question can have at most 26" in str(info.value)
        lines = path.read_text().splitlines()
        assert info.value.line is not None and "Which choice is meant?" in "".join(
            lines[info.value.line - 1 : info.value.line + 1]
        )
