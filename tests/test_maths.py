"""Maths on cards (issue 13): `$…$`/`$$…$$` become MathJax delimiters, prices stay text, unsafe
maths stays literal, and everything is still escaped, checked on cards rendered by Anki itself."""

from __future__ import annotations

import html
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from anki_helpers import fresh_collection, import_package, rendered_cards
from digest_writers import write_quiz_text
from helpers import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from flashcards.anki.notes import escape_text
from flashcards.build import build
from flashcards.maths import BLOCKED_MACROS, PROCESS_CLASS, Segment, split_maths
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc
from flashcards.visible import visible_text

SPAN = f'<span class="{PROCESS_CLASS}">'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SL$^{2}$A-INR", f"SL{SPAN}\\(^&#123;2&#125;\\)</span>A-INR"),
        ("ratio $\\phi_r$ here", f"ratio {SPAN}\\(\\phi_r\\)</span> here"),
        ("$f$-divergence", f"{SPAN}\\(f\\)</span>-divergence"),
        ("$$a < b$$", f"{SPAN}\\[a &lt; b\\]</span>"),
        ("$x_i =\n y$", "$x_i =<br> y$"),  # inline maths never spans lines
    ],
)
def test_maths_becomes_mathjax_delimiters(text: str, expected: str) -> None:
    assert escape_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "It raised $5M in 2024.",
        "costs $3 to $4",
        "$10–$20 per hour",
        "$5M-$6M",
        "Training Cost: $7,800 (vs DeepSeek R1: $294K)",
        "Fixing 7,400 Bugs for 1$: Cheap Repair",
        "under $0.1 per page, 15 minutes and $0.10",
        "a $ b $ c",
        "an escaped \\$x$ dollar",
        "$ 5 and 6$",
        "$5M$",
    ],
)
def test_prices_and_plain_dollars_stay_text(text: str) -> None:
    assert [segment.maths for segment in split_maths(text)] == [False] * len(split_maths(text))
    assert escape_text(text) == html.escape(text).replace("\n", "<br>")


@pytest.mark.parametrize("macro", sorted(BLOCKED_MACROS))
def test_unsafe_maths_stays_literal(macro: str) -> None:
    text = f"$x^2 \\{macro}{{a}}{{b}}$"
    assert split_maths(text) == [Segment(text)]
    assert "\\(" not in escape_text(text)


@pytest.mark.parametrize("text", ["$a \\) b_1$", "$\\(x_1$", "$$\\[x^2\\]$$"])
def test_maths_holding_delimiters_stays_literal(text: str) -> None:
    assert not any(segment.maths for segment in split_maths(text))


def test_blocked_macros_are_whole_names() -> None:
    # `\delta` starts like `\def`, `\labelled` is not `\label`: both typeset.
    assert split_maths("$\\delta_i$")[0].maths
    assert split_maths("$\\labelled^2$")[0].maths


class _Balance(HTMLParser):
    """Records start and end tags; `open` must be empty and `ok` true for balanced markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.ok = True
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.text.append("\n")
            return
        if (tag, attrs) != ("span", [("class", PROCESS_CLASS)]):
            self.ok = False
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.ok = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _shown(segment: Segment) -> str:
    if not segment.maths:
        return segment.text.replace("\r\n", "\n")
    tex = " ".join(segment.text.split())
    return f"\\[{tex}\\]" if segment.display else f"\\({tex}\\)"


MATHSY = st.text(alphabet="$\\^_{}=<>&\"' ab1\n()[]-–", max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.one_of(MATHSY, st.text(max_size=60)))
def test_output_is_balanced_and_escaped(text: str) -> None:
    out = escape_text(text)
    parser = _Balance()
    parser.feed(out)
    parser.close()
    assert parser.ok and not parser.open, out
    # Only our spans and <br>: no other markup, and the braces stay entities.
    assert "{" not in out and "}" not in out
    shown = "".join(parser.text)
    # What a reader sees is the text itself (without the controls a card drops) with dollars
    # turned into MathJax delimiters.
    expected = "".join(_shown(segment) for segment in split_maths(visible_text(text).strip()))
    assert shown == expected


def test_maths_through_anki_renderer(tmp_path: Path) -> None:
    """A digest with maths and prices, built and imported: Anki's rendered cards hold `\\(…\\)`
    inside an element MathJax processes, and the prices literally."""
    day = date(2025, 7, 14)
    question = Question(
        number=1,
        prompt="What does SL$^{2}$A-INR cost to train?",
        options=("About $5M", "Less than $4", "$x_i = \\frac{1}{M}$ per step"),
        answer=2,
        answer_source="marked",
    )
    paper = Paper(
        title="SL$^{2}$A-INR: Maths on Cards",
        arxiv_id="2507.00301",
        fields={
            "problem": "Each weight is $x_i = \\frac{1}{M}$ and the run costs $3 to $4.",
            "methods": "It uses $$\\sum_i w_i$$ and no $\\href{https://example.com}{link}$.",
        },
        questions=(question,),
    )
    digest = tmp_path / "maths.txt"
    digest.write_text(write_quiz_text(day, [(paper, "https://arxiv.org/abs/2507.00301")]))
    report = build(plan_adhoc([digest], tmp_path / "deck.apkg"), now=NOW)
    with fresh_collection(tmp_path) as col:
        assert import_package(col, report.output).new == report.notes
        cards = {card.template: card for card in rendered_cards(col)}
    mcq = cards["Question"]
    assert f"SL{SPAN}\\(^&#123;2&#125;\\)</span>A-INR" in mcq.question
    assert "About $5M" in mcq.question and "Less than $4" in mcq.question
    assert f"{SPAN}\\(x_i = \\frac&#123;1&#125;&#123;M&#125;\\)</span> per step" in mcq.answer
    problem = cards["Problem"].answer
    assert "costs $3 to $4." in problem and problem.count("\\(") == 2  # title and weight
    methods = cards["Methods"].answer
    assert f"{SPAN}\\[\\sum_i w_i\\]</span>" in methods
    assert "no $\\href&#123;https://example.com&#125;&#123;link&#125;$." in methods
    assert '<a href="https://example.com' not in methods


def test_real_digests(corpus: Path, seeds: Path) -> None:
    """On the real digests: their maths (`SL$^{2}$A-INR`, `$\\phi_r$`, …) is converted, every
    price ("$7,800", "$0.1", "$294K") stays text, and the markup stays balanced."""
    from flashcards.parse import parse_paths

    texts = []
    for digest in parse_paths([corpus, seeds]).digests:
        for paper in digest.papers:
            texts += [paper.title, *paper.fields.values()]
            for question in paper.questions:
                texts += [question.prompt, *question.options]
    with_dollars = [text for text in texts if "$" in text]
    spans = [s for text in with_dollars for s in split_maths(text) if s.maths]
    assert len(spans) >= 15
    assert any(span.text == "^{2}" for span in spans)
    for text in with_dollars:
        plain = "".join(s.text for s in split_maths(text) if not s.maths)
        assert plain.count("$") >= len(re.findall(r"\$\d", text)), text
        parser = _Balance()
        parser.feed(escape_text(text))
        parser.close()
        assert parser.ok and not parser.open, text
