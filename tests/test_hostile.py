"""Hostile digests (issue 5): text that means something to a browser or to Anki shows literally on
the cards and runs nothing.

Digests full of `<script>`, `onerror=`, `javascript:` links, `{{…}}` template and cloze syntax and
`[sound:…]` tags are written in each format, built into a deck by the real pipeline, imported into
a real collection with the `anki` backend, and every card's question and answer is rendered by
Anki's own template engine. Each hostile card is compared with the same card built from harmless
words in place of the hostile ones: the rendered HTML must have exactly the same elements and
attributes (digest text adds none), and the hostile text must be visible literally.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from anki_helpers import fresh_collection, import_package, rendered_cards
from bs4 import BeautifulSoup
from digest_writers import write_markdown, write_quiz_html, write_quiz_text
from helpers import NOW

from flashcards.anki.notes import escape_text
from flashcards.anki.notetypes import MCQ_SCRIPT
from flashcards.build import build
from flashcards.maths import is_safe
from flashcards.model import Paper, Question
from flashcards.parse import parse_file, parse_paths
from flashcards.plan import plan_adhoc

DAY = date(2025, 7, 14)

HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '<a href="javascript:alert(3)">x</a>',
    "<svg onload=alert(4)>",
    "javascript:alert(5)",
    "{{c1::secret}}",
    "{{FrontSide}}",
    "{{Title}}",
    "}} {{",
    "[sound:x.mp3]",
    "&lt;b&gt;",
    # Anki runs `latex` on these (with LaTeX generation on) and shows an image instead.
    "[latex]\\input{/etc/passwd}[/latex]",
    "[$]x + y[/$]",
    "[$$]y[/$$]",
    "[LaTeX]z[/LaTeX]",
    # MathJax would typeset these: a javascript: link and CSS from the digest.
    "\\(\\href{javascript:alert(7)}{x}\\)",
    "\\[\\style{position:fixed}{y}\\]",
)
# The same text with every hostile piece replaced by a harmless word of its own.
HARMLESS = tuple(f"harmless{i}" for i in range(len(HOSTILE)))


def _text(label: str, pieces: tuple[str, ...]) -> str:
    return f"{label} " + " ".join(pieces)


def _quiz_papers(pieces: tuple[str, ...]) -> list[tuple[Paper, str]]:
    def question(number: int, answer: int | None) -> Question:
        return Question(
            number=number,
            prompt=_text(f"Prompt {number}", pieces),
            # Options differ (the HTML names the right one by its text) and each is hostile.
            options=tuple(f"Option {i} {piece}" for i, piece in enumerate(pieces[:4])),
            answer=answer,
            answer_source="marked" if answer is not None else None,
        )

    fields = {
        name: _text(name, pieces)
        for name in ("topic", "previous_research", "problem", "methods", "results", "workflow")
    }
    first = Paper(
        title=_text("Title", pieces),
        arxiv_id="2507.00101",
        fields=fields,
        questions=(question(1, 1), question(2, None)),
    )
    # A `javascript:` Link: the paper must end up with no link at all.
    second = Paper(title=_text("Second", pieces), fields={"problem": _text("Problem", pieces)})
    return [(first, "http://arxiv.org/pdf/2507.00101"), (second, "javascript:alert(6)")]


def _table_papers(pieces: tuple[str, ...]) -> list[Paper]:
    return [
        Paper(
            title=_text("Title", pieces),
            arxiv_id="2507.00102",
            authors=(_text("Ann", pieces), "Bo Li"),
            fields={"summary": _text("Summary", pieces)},
        ),
        Paper(title=_text("Unlinked", pieces), fields={"summary": _text("More", pieces)}),
    ]


WRITERS = {
    "quiz-text": ("hostile.txt", lambda p: write_quiz_text(DAY, _quiz_papers(p))),
    "quiz-html": ("hostile.html", lambda p: write_quiz_html(DAY, _quiz_papers(p))),
    "markdown-table": ("hostile.md", lambda p: write_markdown([(DAY, _table_papers(p))])),
}


def _deck(tmp_path: Path, name: str, text: str) -> list[tuple[str, str, str]]:
    """Build a deck from one digest file, import it into a fresh collection and render every
    card: [(template name, question HTML, answer HTML)] in study order (digest, paper, question;
    GUIDs and card ids depend on titles, which differ between hostile and harmless decks)."""
    folder = tmp_path / name
    folder.mkdir()
    digest = folder / name
    digest.write_text(text, encoding="utf-8")
    report = build(plan_adhoc([digest], folder / "deck.apkg"), now=NOW)
    with fresh_collection(folder) as col:
        assert import_package(col, report.output).new == report.notes > 0
        cards = []
        for card in rendered_cards(col):
            anki_card = col.get_card(card.card_id)
            # No audio either: `[sound:…]` in a field stays text.
            assert not anki_card.question_av_tags() and not anki_card.answer_av_tags()
            order = (anki_card.due, card.notetype, anki_card.ord)
            cards.append((order, card.template, card.question, card.answer))
    return [(template, question, answer) for _, template, question, answer in sorted(cards)]


def _shape(html: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every element of rendered card HTML with its attribute names, in document order."""
    soup = BeautifulSoup(html, "html.parser")
    return [(tag.name, tuple(sorted(tag.attrs))) for tag in soup.find_all(True)]


def _check_inert(html: str) -> None:
    """Nothing in a rendered side can run: no script but the template's own, no event handler
    attribute, no link but http(s), no cloze markup."""
    without_ours = html.replace(MCQ_SCRIPT, "")
    assert "<script" not in without_ours.lower()
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        assert not [a for a in tag.attrs if a.lower().startswith("on")], tag
        for attribute in ("href", "src", "action", "formaction", "xlink:href"):
            value = tag.get(attribute)
            if value is not None:
                assert str(value).startswith(("http://", "https://")), tag
    assert not soup.select(".cloze")


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_hostile_text_shows_literally_and_runs_nothing(tmp_path: Path, fmt: str) -> None:
    name, write = WRITERS[fmt]
    hostile = _deck(tmp_path, name, write(HOSTILE))
    harmless_cards = _deck(_subfolder(tmp_path, "harmless"), name, write(HARMLESS))
    assert [t for t, _, _ in hostile] == [t for t, _, _ in harmless_cards]

    shown = ""
    for (template, *sides), (_, *harmless_sides) in zip(hostile, harmless_cards, strict=True):
        for html, harmless_html in zip(sides, harmless_sides, strict=True):
            _check_inert(html)
            # Digest text adds no element and no attribute anywhere on the card.
            assert _shape(html) == _shape(harmless_html), template
            shown += BeautifulSoup(html, "html.parser").get_text() + "\n"
    for piece in HOSTILE:
        assert piece in shown, piece  # shown as written, entities and braces included


def _typeset_by_mathjax(html: str) -> list[str]:
    """The text nodes of a rendered side that MathJax would search for maths, by its own rule
    (HTMLDomStrings.find): skip a node with an ignored class above it, unless an element of a
    process class sits between; `tex2jax_*` are the names older MathJax versions use."""
    ignore = {"mathjax_ignore", "tex2jax_ignore"}
    process = {"mathjax_process", "tex2jax_process"}
    soup = BeautifulSoup(html, "html.parser")
    searched = []
    for text in soup.find_all(string=True):
        ignored = False
        for parent in reversed(list(text.parents)):  # from the root down to the text
            classes = set(parent.get("class") or []) if parent.name else set()
            if classes & process:
                ignored = False
            elif classes & ignore:
                ignored = True
        if not ignored and text.parent.name not in ("script", "style") and text.strip():
            searched.append(str(text))
    return searched


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_no_digest_text_is_typeset_as_maths(tmp_path: Path, fmt: str) -> None:
    name, write = WRITERS[fmt]
    for _template, *sides in _deck(tmp_path, name, write(HOSTILE)):
        for html in sides:
            assert "latex-" not in html  # no image from Anki's LaTeX
            # MathJax only reads text outside the fields: the template's own words.
            for text in _typeset_by_mathjax(html):
                assert "\\(" not in text and "\\[" not in text and "alert" not in text, text


def test_the_mathjax_check_can_fail() -> None:
    assert _typeset_by_mathjax("<div>\\(x\\)</div>") == ["\\(x\\)"]
    assert _typeset_by_mathjax('<div class="a mathjax_ignore"><b>\\(x\\)</b></div>') == []
    processed = '<div class="tex2jax_ignore">a<span class="mathjax_process">\\(x\\)</span></div>'
    assert _typeset_by_mathjax(processed) == ["\\(x\\)"]


@pytest.mark.parametrize(
    "tex",
    [
        "\\href{javascript:alert(1)}{x}",
        "\\style{color:red}{x}",
        "\\class{fc-correct}{x}",
        "\\cssId{fc-back}{x}",
        "\\unicode[Comic Sans]{x41}",
        "\\require{html}",
        "\\bbox[background:url(http://x)]{x}",
        "\\mmlToken{mi}[href='javascript:1']{x}",
        "\\def\\h{\\hre}\\h f{x}",
        "\\newcommand{\\x}{y}",
        "\\DeclarePairedDelimiter\\frac{(}{)}",  # mathtools: a definition too
    ],
)
def test_maths_that_could_act_on_the_card_is_not_typeset(tex: str) -> None:
    assert not is_safe(tex)
    assert is_safe("x^2 + \\frac{a}{b}")


def _subfolder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


@pytest.mark.parametrize("fmt", ["quiz-text", "quiz-html"])
def test_a_javascript_link_leaves_the_paper_without_a_link(tmp_path: Path, fmt: str) -> None:
    name, write = WRITERS[fmt]
    path = tmp_path / name
    path.write_text(write(HOSTILE), encoding="utf-8")
    (digest,) = parse_file(path)
    linked, unlinked = digest.papers
    assert linked.url == "https://arxiv.org/abs/2507.00101"
    assert (unlinked.url, unlinked.arxiv_id, unlinked.links) == (None, None, ())


# --- raw markup inside the digest itself -------------------------------------------------------

# A page whose generator wrote markup where text belongs, and a markdown table with raw HTML and
# `javascript:` links in its cells: whatever the parsers keep of it must still be inert on a card.
RAW_HTML = """<!DOCTYPE html>
<html><head><title>2025-07-14 Papers</title><script>alert("page")</script></head>
<body onload="alert('body')">
<h1>2025-07-14 Papers</h1>
<h2>Paper 1</h2>
<p><strong>Raw <iframe src="javascript:alert(1)"></iframe>Title<script>alert(2)</script>
</strong></p>
<p><strong>Link: </strong><a href="javascript:alert(3)" onclick="alert(4)">javascript:alert(3)
</a></p>
<div class="category-chunk">3. <strong>❓ Problem:</strong> Text <img src=x onerror=alert(5)> and
<script>alert(6)</script> and <b onmouseover="alert(7)">bold</b> {{c1::secret}}</div>
<div class="quiz-tabs"><div class="quiz-tab">Q1
<div class="quiz-popup" data-answer="Yes <b>">
<div class="quiz-question">1. Which? <svg onload=alert(8)></svg></div>
<div class="quiz-choices"><div class="quiz-choice" data-value="Yes <b>" onclick="alert(9)">Yes <b>
</div><div class="quiz-choice" data-value="{{FrontSide}}">{{FrontSide}}</div></div>
</div></div></div>
</body>
</html>
"""
RAW_MARKDOWN = """## Papers for 2025-07-14

| Title | Authors | Summary |
|-------|---------|---------|
| Raw <script>alert(1)</script> Title (Read more on [arXiv](javascript:alert(2))) | <img src=x onerror=alert(3)> Ann | Uses [a link](javascript:alert(4)), ![img](javascript:alert(5)), <javascript:alert(6)>, <a href="javascript:alert(7)" onclick="alert(8)">x</a> and {{c1::secret}} [sound:y.mp3]. |
"""  # noqa: E501 (a table row is one line)


@pytest.mark.parametrize(
    ("name", "text"), [("raw.html", RAW_HTML), ("raw.md", RAW_MARKDOWN)], ids=["html", "markdown"]
)
def test_raw_markup_in_a_digest_runs_nothing(tmp_path: Path, name: str, text: str) -> None:
    cards = _deck(tmp_path, name, text)
    for digest in parse_paths([tmp_path / name / name]).digests:
        for paper in digest.papers:
            assert paper.url is None and paper.links == ()  # only javascript: links were given
    shown = ""
    for _template, *sides in cards:
        for html in sides:
            _check_inert(html)
            assert "<img" not in html and "<iframe" not in html and "<svg" not in html
            shown += BeautifulSoup(html, "html.parser").get_text()
    assert "{{c1::secret}}" in shown


def test_check_inert_can_fail() -> None:
    """The checks above are not vacuous: they reject what they are meant to reject."""
    for html in (
        "<div><script>alert(1)</script></div>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<span class="cloze">secret</span>',
    ):
        with pytest.raises(AssertionError):
            _check_inert(html)
    _check_inert(f'<div>{MCQ_SCRIPT}<a href="https://arxiv.org/abs/1">x</a></div>')
    assert _shape("<div>a</div>") != _shape("<div>a<b>b</b></div>")


def test_anki_latex_tags_are_neutralised_even_around_maths() -> None:
    # `$]x^2[/$` reads as `$…$` maths, which splits the text around it: no tag survives.
    for text in ("[$]x^2[/$]", "[$$]x_1[/$$]", "[LATEX]a[/latex]", "[latex]\\input{x}[/latex]"):
        html = escape_text(text)
        assert not re.search(r"\[/?(?:latex|\$\$?)\]", html, re.IGNORECASE), html
