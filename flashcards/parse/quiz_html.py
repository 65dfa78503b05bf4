"""The *quiz HTML* digest: the original daily_paper pages, which carry the right answers.

A page is a sequence of paper cards: an `<h2>Paper 1</h2>` (earliest pages `Paper: 1`), the title
in a `<p><strong>`, `Published:` and `Link:` paragraphs, one `.category-chunk` per summary field,
optionally a `.flowchart-card` (the title again and an SVG flow chart), then `.quiz-popup`s whose
`data-answer` equals the `data-value` of the right `.quiz-choice`.

The site writes model output into the page unescaped, so some pages are not well nested (an SVG
that never closes swallows the next paper's card). The parser therefore does not rely on nesting:
it walks the elements in document order and reads each paper from the events that follow its
heading, exactly as a reader scrolling the page would.

Bilingual pages (2026 on) carry hidden Chinese copies of the summary and quiz, marked
`data-lang="zh"` and `display:none`; every subtree in another language or hidden inline is skipped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import islice

from bs4 import BeautifulSoup
from bs4.element import Tag

from flashcards.errors import NotADigestError, ParseError
from flashcards.model import Digest, Question
from flashcards.parse.common import (
    QuizPaperDraft,
    check_option_count,
    collapse_whitespace,
    parse_iso_date,
    quiz_digests,
)
from flashcards.parse.flowchart import chart_steps

_PAPER_HEADING = re.compile(r"^Paper\s*:?\s*\d+$")
_DIGEST_HEADING = re.compile(r"^(?:(?P<date>\S+)\s+)?Papers$", re.IGNORECASE)
_DATE_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_TAB_NUMBER = re.compile(r"Q\s*(\d+)")
_PROMPT_NUMBER = re.compile(r"^(\d+)\s*[.)]\s*")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# Sections after the papers (reading tips, personal notes): nothing in them belongs to a paper.
# (Not the empty `#takeaways-container` placeholder: broken charts can carry it mid-page.)
_AFTER_PAPERS_CLASSES = {"takeaways-section", "daily-tips-section"}


@dataclass
class _Paper:
    line: int
    title: str = ""
    published: date | None = None
    link: str | None = None
    link_line: int | None = None
    chunks: list[str] = field(default_factory=list)
    workflow: list[str] = field(default_factory=list)  # the flow chart's steps
    questions: list[Question] = field(default_factory=list)
    closed: bool = False  # a section after the papers began; ignore what follows


def parse(text: str, source: str) -> list[Digest]:
    _check_size(text, source)
    unfinished = _UNFINISHED_TAG.search(text)
    if unfinished is not None:
        # The parser would keep the half tag as text and quietly lose what it was opening.
        raise ParseError(
            "the page ends inside an HTML tag: the file is truncated",
            source,
            text.count("\n", 0, unfinished.start()) + 1,
        )
    soup = BeautifulSoup(_close_truncated_charts(text), "html.parser")
    _check_depth(soup, source)
    digest_date = _digest_date(soup, source)
    warnings: list[str] = []
    if not _HTML_END.search(text):
        warnings.append("no closing </html>: the page may be truncated")
    papers: list[_Paper] = []
    for tag in _visible_tags(soup):
        classes = set(tag.get("class") or ())
        paper = papers[-1] if papers else None
        if tag.name == "h2" and _PAPER_HEADING.match(_text(tag)):
            papers.append(_Paper(line=tag.sourceline or 1))
        elif paper is None or paper.closed:
            continue
        elif classes & _AFTER_PAPERS_CLASSES:
            paper.closed = True
        elif tag.name == "p":
            _paper_paragraph(paper, tag, source)
        elif "category-chunk" in classes:
            paper.chunks.append(tag.get_text())
        elif tag.name == "svg" and not paper.workflow and tag.find_parent(class_="flowchart-card"):
            paper.workflow = list(chart_steps(tag))
        elif "quiz-popup" in classes:
            question = _question(tag, len(paper.questions) + 1, source, warnings)
            paper.questions.append(question)
    drafts = (
        QuizPaperDraft(
            line=paper.line,
            title=paper.title,
            published=paper.published,
            link=paper.link,
            link_line=paper.link_line,
            field_text="\n".join(paper.chunks),
            workflow=tuple(paper.workflow),
            questions=tuple(paper.questions),
        )
        for paper in papers
    )
    return quiz_digests(
        drafts, fmt="quiz-html", source=source, digest_date=digest_date, warnings=warnings
    )


_UNFINISHED_TAG = re.compile(r"<[A-Za-z/!][^<>]*\Z")
_HTML_END = re.compile(r"</html\s*>\s*\Z", re.IGNORECASE)

#: Real pages hold about 1,000 tags. The parsed tree costs some 200 bytes of memory and 10 µs per
#: tag, so a page of nothing but tags within the file size limit would take a gigabyte: refused.
MAX_TAGS = 50_000
#: Real pages nest about 10 elements deep. Unclosed tags (`<p>` never closed nests every later
#: `<p>` inside it) make trees as deep as the page is long, and reading each element's text then
#: costs depth × size: past this depth the page is refused instead of parsed for minutes.
MAX_DEPTH = 200


def _check_size(text: str, source: str) -> None:
    # Counting '<' over-counts tags (a literal '<' in a script), which only errs on the safe side.
    if text.count("<") > MAX_TAGS:
        position = next(islice(re.finditer("<", text), MAX_TAGS, None)).start()
        raise ParseError(
            f"more than {MAX_TAGS} HTML tags; a digest page has a few thousand at most",
            source,
            text.count("\n", 0, position) + 1,
        )


def _check_depth(soup: BeautifulSoup, source: str) -> None:
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        tag, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(
                f"HTML elements nested more than {MAX_DEPTH} deep (unclosed tags?); "
                "not a digest page",
                source,
                tag.sourceline,
            )
        stack.extend((child, depth + 1) for child in tag.children if isinstance(child, Tag))


_SVG_OPEN = re.compile(r"<svg\b", re.IGNORECASE)
_SVG_CLOSE = re.compile(r"</svg\s*>", re.IGNORECASE)
# Where the page template resumes: no flow chart contains these.
_TEMPLATE_RESUMES = re.compile(
    r"<h[12]\b|<div\s+class=\"(?:quiz-tabs|quiz-tab|quiz-popup|"
    r"paper-container|paper-card|card-deck|card-counter|category-chunk)\b",
    re.IGNORECASE,
)
# The template's closing tag just before it resumes belongs to the page, not to the chart.
_DIV_CLOSE = re.compile(r"</div\s*>", re.IGNORECASE)


def _close_truncated_charts(text: str) -> str:
    """Close flow-chart SVGs that the site's generator cut off mid-way.

    A chart truncated inside a comment or a `<style>` turns the rest of the page into comment or
    CSS text (browsers lose the same content; the text digests show it). Each SVG that the page
    template resumes inside is cut back to its last complete tag and closed; the removed text is
    replaced by as many newlines, so every later element keeps its source line.

    Linear in the page: every `</svg>` and resume point is found once, up front (a search per
    `<svg` would make a page of many unclosed charts quadratic).
    """
    closings = [m.start() for m in _SVG_CLOSE.finditer(text)]
    # Resume matches cannot overlap (each holds one '<', its first character), so `finditer`
    # finds every one; one that starts before a chart's end also ends before it.
    resume_points = [m.start() for m in _TEMPLATE_RESUMES.finditer(text)]
    pieces: list[str] = []
    position = 0
    for opening in _SVG_OPEN.finditer(text):
        if opening.start() < position:
            continue  # inside a chart already repaired
        next_closing = bisect.bisect_left(closings, opening.end())
        chart_end = closings[next_closing] if next_closing < len(closings) else len(text)
        next_resume = bisect.bisect_left(resume_points, opening.end())
        if next_resume == len(resume_points) or resume_points[next_resume] >= chart_end:
            continue
        resume_at = _before_trailing_closers(text, opening.start(), resume_points[next_resume])
        chart = text[opening.start() : resume_at]
        kept = _complete_prefix(chart)
        removed = chart[len(kept) :]
        pieces.append(text[position : opening.start()])
        pieces.append(kept + "</svg>" + "\n" * removed.count("\n"))
        position = resume_at
    pieces.append(text[position:])
    return "".join(pieces)


def _before_trailing_closers(text: str, start: int, end: int) -> int:
    """Where the run of whitespace and `</div>` tags that ends `text[start:end]` begins. Walked
    backwards by hand: a regex anchored at the end would be retried from every position of a long
    whitespace run (quadratic)."""
    while True:
        while end > start and text[end - 1].isspace():
            end -= 1
        tag_start = text.rfind("<", start, end)
        if tag_start < 0 or _DIV_CLOSE.fullmatch(text, tag_start, end) is None:
            return end
        end = tag_start


def _complete_prefix(chart: str) -> str:
    """`chart` without its unfinished tail: an unclosed comment or style block, a partial tag."""
    for opener, closer in (("<!--", "-->"), ("<style", "</style")):
        last_open = chart.lower().rfind(opener)
        if last_open > chart.lower().rfind(closer):
            chart = chart[:last_open]
    return chart[: chart.rfind(">") + 1]


def _digest_date(soup: BeautifulSoup, source: str) -> date:
    """The date of the `<h1>YYYY-MM-DD Papers</h1>` heading (or, failing that, the `<title>`)."""
    has_papers = soup.select_one(".paper-card, .paper-container, .quiz-popup") is not None
    undated_line: int | None = None
    for tag in [*soup.find_all("h1"), *soup.find_all("title")]:
        match = _DIGEST_HEADING.match(_text(tag))
        if match is None:
            continue
        shaped = _DATE_SHAPE.fullmatch(match.group("date") or "")
        if shaped:
            return parse_iso_date(shaped.group(0), source, tag.sourceline)
        if undated_line is None:
            undated_line = tag.sourceline or 1
    if not has_papers:
        raise NotADigestError(
            "HTML page that is not a quiz digest (no 'YYYY-MM-DD Papers' heading)", source, 1
        )
    raise ParseError(
        "digest heading without a date (expected '<h1>YYYY-MM-DD Papers</h1>')",
        source,
        undated_line or 1,
    )


def _visible_tags(root: Tag) -> Iterator[Tag]:
    """Tags in document order, skipping scripts, styles and subtrees in another language or
    hidden inline (the Chinese copies of bilingual pages)."""
    stack: list[Tag] = [root]
    while stack:
        tag = stack.pop()
        if tag is not root:
            if tag.name in ("script", "style", "template", "noscript") or _hidden(tag):
                continue
            yield tag
        stack.extend(reversed([c for c in tag.children if isinstance(c, Tag)]))


def _hidden(tag: Tag) -> bool:
    if tag.name == "html":
        return False  # the pages say lang="zh-CN" on <html> for their Chinese UI chrome
    for attribute in ("data-lang", "lang", "xml:lang"):
        value = tag.get(attribute)
        if isinstance(value, str) and value and not value.lower().startswith("en"):
            return True
    style = tag.get("style")
    return isinstance(style, str) and bool(_HIDDEN_STYLE.search(style))


def _text(tag: Tag) -> str:
    # No separator: inline markup (H<sub>2</sub>O, <b>…</b>) must not split words.
    return collapse_whitespace(tag.get_text())


def _paper_paragraph(paper: _Paper, tag: Tag, source: str) -> None:
    text = _text(tag)
    label, _, value = text.partition(":")
    label = label.strip().lower()
    if label == "published" and paper.published is None:
        shaped = _DATE_SHAPE.match(value.strip())
        if shaped:  # the site writes "No Date" when it has none
            paper.published = parse_iso_date(shaped.group(0), source, tag.sourceline)
    elif label == "link" and paper.link is None:
        anchor = tag.find("a", href=True)
        href = anchor["href"] if anchor is not None else value
        paper.link = str(href).strip() or None
        paper.link_line = tag.sourceline
    elif not paper.title and text:
        paper.title = text


def _own(popup: Tag, class_name: str) -> list[Tag]:
    """Elements of class `class_name` that belong to `popup` itself, not to a popup nested in
    it (which happens when a popup is left unclosed), and are not hidden."""
    # What `find_all(class_=…)` and `find_parent(class_=…)` find, walked by hand: their generic
    # matching was most of a question's time.
    return [
        t
        for t in popup.descendants
        if isinstance(t, Tag)
        and class_name in _classes(t)
        and _popup_around(t) is popup
        and not _hidden_inside(t, popup)
    ]


def _classes(tag: Tag) -> Sequence[str]:
    """The class names of `tag` (the parser splits the attribute into a list)."""
    classes = tag.get("class")
    return classes if isinstance(classes, list) else ()


def _popup_around(tag: Tag) -> Tag | None:
    node = tag.parent
    while node is not None and "quiz-popup" not in _classes(node):
        node = node.parent
    return node


def _hidden_inside(tag: Tag, stop: Tag) -> bool:
    node: Tag | None = tag
    while node is not None and node is not stop:
        if _hidden(node):
            return True
        node = node.parent
    return False


def _question(popup: Tag, fallback_number: int, source: str, warnings: list[str]) -> Question:
    line = popup.sourceline
    prompt_tags = _own(popup, "quiz-question")
    raw_prompt = _text(prompt_tags[0]) if prompt_tags else ""
    number_match = _PROMPT_NUMBER.match(raw_prompt)
    prompt = _PROMPT_NUMBER.sub("", raw_prompt, count=1).strip()
    number = _question_number(popup, number_match, fallback_number)
    if not prompt:
        raise ParseError(f"Q{number} has no question text", source, line)
    choices = _own(popup, "quiz-choice")
    options = tuple(_option_text(c) for c in choices)
    check_option_count(number, len(options), source, line)
    answer = _answer_index(popup, choices)
    if answer is None:
        if popup.get("data-answer"):
            warnings.append(f"line {line}: Q{number}'s data-answer matches none of its options")
        return Question(number=number, prompt=prompt, options=options, line=line)
    return Question(
        number=number,
        prompt=prompt,
        options=options,
        answer=answer,
        answer_source="marked",
        confidence=1.0,
        unsure=False,
        line=line,
    )


_TAG_LIKE = re.compile(r"<[^<>]*>")


def _option_text(choice: Tag) -> str:
    """The option as its author wrote it. The site does not escape options, so a literal such as
    '</think>' vanishes from the element's text as an unknown tag; `data-value` keeps it. It is
    used only when it differs from the text by such tag-like literals alone."""
    text = _text(choice)
    value = choice.get("data-value")
    if isinstance(value, str) and "<" in value:
        literal = collapse_whitespace(value)
        if collapse_whitespace(_TAG_LIKE.sub("", literal)) == collapse_whitespace(text):
            return literal
    return text


def _question_number(popup: Tag, number_match: re.Match[str] | None, fallback: int) -> int:
    tab = popup.find_parent(class_="quiz-tab")
    if tab is not None:
        own_text = "".join(s for s in tab.find_all(string=True, recursive=False))
        tab_match = _TAB_NUMBER.search(own_text)
        if tab_match:
            return int(tab_match.group(1))
    if number_match:
        return int(number_match.group(1))
    return fallback


def _answer_index(popup: Tag, choices: list[Tag]) -> int | None:
    """Which choice `data-answer` names: by `data-value` (both attributes are written from the
    same string), else by the choice's text; None when empty or ambiguous."""
    answer = popup.get("data-answer")
    if not isinstance(answer, str) or not answer.strip():
        return None
    by_value = [i for i, c in enumerate(choices) if c.get("data-value") == answer]
    if len(by_value) == 1:
        return by_value[0]
    wanted = collapse_whitespace(answer)
    by_text = [i for i, c in enumerate(choices) if _text(c) == wanted]
    if len(by_text) == 1:
        return by_text[0]
    return None
