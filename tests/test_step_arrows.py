"""A flow-chart step whose own text holds an arrow ("Audio → Tokens" in one box) stays one step:
in the `workflow` field, on the Methods card, and in the evidence quoted from the chart."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from anki_helpers import fresh_collection, import_package, rendered_cards
from digest_writers import write_quiz_html
from helpers import NOW

from flashcards.build import build
from flashcards.model import (
    STEP_SEPARATOR,
    Paper,
    Question,
    join_steps,
    split_steps,
    steps_around,
)
from flashcards.parse import parse_paths
from flashcards.plan import plan_adhoc

DAY = date(2026, 3, 10)

# Our own chart: three boxes, the first and last naming a conversion with an arrow inside the
# box, the arrows between boxes drawn as lines.
CHART = """<svg viewBox="0 0 900 200">
  <rect x="10" y="50" width="250" height="80"/>
  <text x="130" y="80" font-size="14" font-weight="bold">Speech Tokenizer</text>
  <text x="130" y="100" font-size="11">Raw audio → discrete tokens</text>
  <line x1="260" y1="90" x2="320" y2="90"/>
  <rect x="320" y="50" width="250" height="80"/>
  <text x="440" y="90" font-size="14">Dialogue language model</text>
  <line x1="570" y1="90" x2="630" y2="90"/>
  <rect x="630" y="50" width="250" height="80"/>
  <text x="750" y="90" font-size="14">Tokens → waveform vocoder</text>
</svg>"""
STEPS = [
    "Speech Tokenizer: Raw audio → discrete tokens",
    "Dialogue language model",
    "Tokens → waveform vocoder",
]


def _plain(text: str) -> str:
    """What a reader sees of some HTML text: entities read, any spaces as one."""
    return " ".join(html.unescape(text).split())


def _quiz_page(folder: Path) -> Path:
    paper = Paper(
        title="Talking Ponds",
        arxiv_id="2603.00042",
        fields={
            "methods": "A speech model that listens and answers in real time.",
            "workflow": "CHART",
        },
        questions=(
            Question(1, "What turns raw audio into tokens?", ("A vocoder", "A speech tokenizer")),
        ),
    )
    page = write_quiz_html(DAY, [(paper, "https://arxiv.org/abs/2603.00042")])
    page = re.sub(r"<svg.*?</svg>", CHART, page, flags=re.DOTALL)
    path = folder / f"{DAY.isoformat()}.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_a_step_holding_an_arrow_stays_one_step(tmp_path: Path) -> None:
    page = _quiz_page(tmp_path)
    [paper] = parse_paths([page]).digests[0].papers
    steps = split_steps(paper.fields["workflow"])
    assert [_plain(step) for step in steps] == STEPS
    # The field still reads as the chart does, arrows and all.
    assert _plain(paper.fields["workflow"]) == " → ".join(STEPS)


def test_the_methods_card_lists_a_step_with_an_arrow_as_one_item(tmp_path: Path) -> None:
    report = build(plan_adhoc([_quiz_page(tmp_path)], tmp_path / "deck.apkg"), now=NOW)
    with fresh_collection(tmp_path) as col:
        import_package(col, report.output)
        methods = next(c for c in rendered_cards(col) if c.template == "Methods")
    steps = re.search(r'<ol class="fc-list fc-steps">(.*?)</ol>', methods.answer, re.DOTALL)
    assert steps is not None
    items = re.findall(r"<li>(.*?)</li>", steps.group(1))
    assert [_plain(item) for item in items] == [html.escape(s, quote=False) for s in STEPS]


def test_quiz_text_numbered_steps_keep_their_arrows(tmp_path: Path) -> None:
    digest = tmp_path / "2026-03-10.txt"
    digest.write_text(
        "2026-03-10 Papers\n\nPaper 1\nPond Sweepers\nPublished: 2026-03-01\n\n"
        "1. 📘 Topic and Domain: Robots that clean ponds.\n\nPond Sweepers\n\n"
        "1. Read every sonar ping from the four hull sensors → one depth map "
        "2. Plan a route around the lily pads 3. Sweep\n"
        "Q1\n1. What comes first?\nMap\nSweep\n",
        encoding="utf-8",
    )
    [paper] = parse_paths([digest]).digests[0].papers
    assert [_plain(s) for s in split_steps(paper.fields["workflow"])] == [
        "Read every sonar ping from the four hull sensors → one depth map",
        "Plan a route around the lily pads",
        "Sweep",
    ]


def test_joining_and_splitting_steps_give_them_back() -> None:
    steps = ["A → B", "C", "D → E → F", " spaced   out "]
    assert split_steps(join_steps(steps)) == [
        s.replace(STEP_SEPARATOR, "\u00a0→\u00a0") for s in ["A → B", "C", "D → E → F"]
    ] + ["spaced out"]
    assert [_plain(s) for s in split_steps(join_steps(steps))] == [
        "A → B",
        "C",
        "D → E → F",
        "spaced out",
    ]


def test_evidence_from_the_chart_quotes_whole_steps(tmp_path: Path) -> None:
    """An inferred answer whose best run of steps begins after a step's own arrow quotes that
    step whole, not its second half as if it were a step."""
    first = (
        "Collect pond sonar sweeps from twelve small boats across three seasons "
        "and clean every echo of noise → depth maps"
    )
    workflow = join_steps(
        [first, "Train a route planner that steers the boats around floating lily pads"]
    )
    question = Question(
        1,
        "What does the route planner steer the boats around?",
        ("Floating lily pads", "Fishing lines", "Sleeping ducks"),
    )
    paper = Paper(
        title="Pond Sweepers",
        arxiv_id="2603.00043",
        fields={"methods": "Boats that clean ponds.", "workflow": workflow},
        questions=(question,),
    )
    from flashcards.answers.model import infer_answer

    inference = infer_answer(paper, question)
    assert inference.answer == 0
    assert inference.evidence is not None and "lily pads" in inference.evidence
    # The quote starts where a step starts: at the first one, not after its own arrow.
    assert inference.evidence.startswith("Collect pond sonar sweeps"), inference.evidence


def test_every_corpus_step_stays_one_step(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step the chart readers find in the real digests is one step of the field, as read:
    none is cut at its own arrows (about 170 steps hold one)."""
    import flashcards.parse as parse
    import flashcards.parse.quiz_html as quiz_html
    import flashcards.parse.quiz_text as quiz_text

    found: list[str] = []

    def recording(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def steps(chart: Any) -> Any:
            result = read(chart)
            found.extend(result)
            return result

        return steps

    monkeypatch.setattr(quiz_html, "chart_steps", recording(quiz_html.chart_steps))
    monkeypatch.setattr(quiz_text, "text_steps", recording(quiz_text.text_steps))
    monkeypatch.setattr(parse, "PARALLEL_MIN_FILES", 10**9)  # in this process, to record
    pages = corpus / "daily_paper"
    digests = parse_paths([pages / "html", pages / "text"]).digests
    fields = [p.fields["workflow"] for d in digests for p in d.papers if "workflow" in p.fields]
    assert len(fields) > 500
    shown = sorted(_plain(step) for field in fields for step in split_steps(field))
    assert shown == sorted(_plain(step) for step in found)
    assert sum(" → " in step for step in shown) > 150


def test_a_step_too_long_to_quote_whole_is_quoted_in_part() -> None:
    """Widening a quote to whole steps stops at the longest quote inference makes: a step of
    eighty words (a chart read as one box) is quoted in a window, as any long text is."""
    long_step = (
        " ".join(f"word{i}" for i in range(40)) + " → " + " ".join(f"tail{i}" for i in range(40))
    )
    workflow = join_steps([long_step, "Short step"])
    quote = " ".join(f"tail{i}" for i in range(40))  # the step's half after its own arrow
    assert steps_around(quote, workflow, max_words=40) == quote
    assert steps_around(quote, workflow) == long_step  # no limit: the whole step
