"""Flow charts read as steps: the SVG charts of quiz pages (boxes of text lines, phases, a title)
and charts flattened to one line in quiz text (split only where the text marks steps)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from anki_helpers import fresh_collection, import_package, rendered_cards
from bs4 import BeautifulSoup
from digest_writers import write_quiz_text
from helpers import FIXTURES, NOW, without_hanging

from flashcards.build import build
from flashcards.model import Paper, Question
from flashcards.parse import parse_paths, parse_text
from flashcards.parse.flowchart import STEP_SEPARATOR, chart_steps, text_steps
from flashcards.plan import plan_adhoc

QUIZ = FIXTURES / "quiz"

# Our own chart in the site's hand-drawn style: a title, a phase (a big box around boxes) with a
# header, boxes with a bold name over smaller details, a caption under a box, arrows drawn as
# lines and as text, a numbered badge, a group moved by translate(), a label wrapped by dy.
CHART = """<svg viewBox="0 0 1000 600">
  <rect width="1000" height="600" fill="#fafafa"/>
  <text x="500" y="30" font-size="22" font-weight="bold">Pond Sweeper Workflow</text>
  <rect x="40" y="60" width="900" height="260" rx="10"/>
  <text x="60" y="85" font-size="16" font-weight="bold">Training Phase</text>
  <rect x="80" y="100" width="160" height="90"/>
  <text x="160" y="125" font-size="13" font-weight="bold">Sonar</text>
  <text x="160" y="140" font-size="13" font-weight="bold">Encoding</text>
  <text x="160" y="158" font-size="10">Echo Maps &amp; Depth</text>
  <text x="160" y="173" font-size="10">Noise <tspan font-style="italic">Filter</tspan></text>
  <text x="160" y="215" font-size="10">Raw pings in</text>
  <line x1="240" y1="145" x2="300" y2="145" marker-end="url(#arrow)"/>
  <text x="270" y="140">→</text>
  <circle cx="310" cy="105" r="9"/><text x="310" y="109">2</text>
  <g transform="translate(300, 100)">
    <rect x="20" y="0" width="160" height="90"/>
    <text x="100" y="30" font-size="13" font-weight="bold">Route Planner</text>
    <text x="100" y="50" font-size="10">Avoids <tspan>lily pads</tspan></text>
  </g>
  <text x="700" y="400" font-size="12">Sweeps the pond
    <tspan x="700" dy="14">twice a day</tspan></text>
</svg>"""


def _svg(markup: str) -> BeautifulSoup:
    svg = BeautifulSoup(markup, "html.parser").find("svg")
    assert svg is not None
    return svg


def test_chart_steps_group_the_lines_of_each_box() -> None:
    assert chart_steps(_svg(CHART)) == (
        "Training Phase",
        "Sonar Encoding: Echo Maps & Depth, Noise Filter",
        "Raw pings in",
        "Route Planner: Avoids lily pads",
        "Sweeps the pond twice a day",
    )


def test_detail_lines_read_as_sentences_and_items() -> None:
    """A detail line in lower case goes on the sentence above it; a bulleted one is a new item,
    its bullet replaced by the comma; a name keeps what it says, bullet and all."""
    svg = _svg(
        '<svg><rect x="0" y="0" width="300" height="200"/>'
        '<text x="10" y="20" font-weight="bold">Sweep Planner</text>'
        '<text x="10" y="40">Plans a loop that</text>'
        '<text x="10" y="55">covers the pond</text>'
        '<text x="10" y="70">• Avoids reeds</text>'
        '<text x="10" y="85">• Docks at night</text>'
        '<rect x="0" y="300" width="300" height="100"/>'
        '<text x="10" y="320">• One bullet</text></svg>'
    )
    assert chart_steps(svg) == (
        "Sweep Planner: Plans a loop that covers the pond, Avoids reeds, Docks at night",
        "• One bullet",
    )


def test_a_chart_without_coordinates_is_one_step_a_line_not_one_run() -> None:
    svg = _svg("<svg><text>Read</text><text>Think</text><text>Answer</text></svg>")
    assert chart_steps(svg) == ("Read", "Think", "Answer")


def test_a_lone_line_is_kept_even_when_it_looks_like_a_title_or_an_arrow() -> None:
    assert chart_steps(_svg('<svg><text x="5" y="5">Sweeper Pipeline</text></svg>')) == (
        "Sweeper Pipeline",
    )
    assert chart_steps(_svg('<svg><text x="5" y="5">→</text></svg>')) == ("→",)


def test_the_title_is_dropped_only_at_the_top() -> None:
    # A line that names the chart but sits below another one is a step, not the title.
    svg = _svg(
        '<svg><text x="10" y="50">Collect</text><text x="10" y="90">Cleaning pipeline</text></svg>'
    )
    assert chart_steps(svg) == ("Collect", "Cleaning pipeline")


LONG_RUN = "Sonar Encoding Echo Maps (near -> far) then a long run of labels that goes on and on"


@pytest.mark.parametrize(
    ("line", "steps"),
    [
        ("Tokens -> router -> experts -> merge", ["Tokens", "router", "experts", "merge"]),
        (
            "Pond Flow 1. Map the pond 2. Plan a route 3) Sweep",
            ["Pond Flow", "Map the pond", "Plan a route", "Sweep"],
        ),
        ("- Map - Plan - Sweep", ["Map", "Plan", "Sweep"]),
        # No marks, or marks that do not structure the whole line: kept as written.
        ("Map the pond Plan a route Sweep", ["Map the pond Plan a route Sweep"]),
        (LONG_RUN, [LONG_RUN]),
        ("Step 2. Plan 1. Map", ["Step 2. Plan 1. Map"]),  # numbers out of order
        ("Map - Plan - Sweep", ["Map - Plan - Sweep"]),  # dashes, not a bulleted line
        ("", []),
    ],
)
def test_text_steps_split_only_where_the_text_marks_steps(line: str, steps: list[str]) -> None:
    assert text_steps(line) == steps


def test_no_step_begins_or_ends_with_the_arrow_that_linked_it() -> None:
    """Numbered items joined by arrows ("1. Map → 2. Plan") are cut before each number, and a
    chart may draw a label as "→ Sweep": the arrow points at a neighbouring step, which the list
    of steps shows already, so it is not part of either step. Arrows inside a step stay."""
    line = (
        "Pond Sweeper Cycle with a title long enough to be more than a label "
        "1. Map the pond from the bank → 2. Plan a loop around the reeds => "
        "3. Sweep the surface (A -> B) 4. Dock"
    )
    assert text_steps(line) == [
        "Pond Sweeper Cycle with a title long enough to be more than a label",
        "Map the pond from the bank",
        "Plan a loop around the reeds",
        "Sweep the surface (A -> B)",
        "Dock",
    ]
    assert text_steps("→ Report to the owner") == ["Report to the owner"]
    svg = _svg(
        '<svg><rect x="0" y="0" width="200" height="60"/><text x="10" y="20">Map</text>'
        '<rect x="0" y="100" width="200" height="60"/><text x="10" y="120">→ Sweep ⟶</text>'
        '<text x="10" y="300">→</text></svg>'
    )
    assert chart_steps(svg) == ("Map", "Sweep")
    assert text_steps("→ ->") == ["→ ->"]  # only arrows: kept, as a lone arrow label is


def test_a_step_of_a_million_arrows_does_not_hang() -> None:
    """Stripping the arrows at a step's ends is linear: a run of arrows ending in a word (which
    a backtracking regex would rescan from every arrow) reads in a moment."""
    line = "→" * 1_000_000 + "x"
    assert without_hanging(lambda: text_steps(line)) == ["x"]


def test_quiz_text_keeps_each_line_of_a_chart_as_a_step(tmp_path: Path) -> None:
    digest = tmp_path / "2026-05-04.txt"
    digest.write_text(
        "2026-05-04 Papers\n\nPaper 1\nPond Sweepers\nPublished: 2026-05-01\n\n"
        "1. 📘 Topic and Domain: Robots that clean ponds.\n\nPond Sweepers\n\n"
        "Map -> Plan -> Sweep\nReport to the owner\nQ1\n1. What comes first?\nMap\nSweep\n",
        encoding="utf-8",
    )
    [paper] = parse_paths([digest]).digests[0].papers
    assert paper.fields["workflow"].split(STEP_SEPARATOR) == [
        "Map",
        "Plan",
        "Sweep",
        "Report to the owner",
    ]


def test_every_corpus_chart_reads_as_steps(corpus: Path) -> None:
    """Every chart of the real pages gives steps: none empty, and none that is the whole chart
    run together (a chart of some size has several steps, none holding half its words), and no
    step begins or ends with the arrow that linked it to the next."""
    pages = parse_paths([corpus / "daily_paper" / "html"]).digests
    charts = [p.fields["workflow"] for d in pages for p in d.papers if "workflow" in p.fields]
    assert len(charts) > 250
    text_pages = parse_paths([corpus / "daily_paper" / "text"]).digests
    flattened = [
        p.fields["workflow"] for d in text_pages for p in d.papers if "workflow" in p.fields
    ]
    assert len(flattened) > 250
    for chart in flattened:
        steps = chart.split(STEP_SEPARATOR)
        assert not any(step.startswith("→") or step.endswith("→") for step in steps), chart
    for chart in charts:
        steps = chart.split(STEP_SEPARATOR)
        assert all(step.strip() for step in steps), chart
        assert not any(step.startswith("→") or step.endswith("→") for step in steps), chart
        words = len(chart.split())
        if words >= 20:
            assert len(steps) >= 3, chart
            assert max(len(step.split()) for step in steps) < words / 2, chart


def test_cards_show_the_steps_escaped_and_evidence_quotes_them(tmp_path: Path) -> None:
    """Through the real Anki backend: the Methods card lists the chart's steps, one a line and
    escaped; an answer found in the chart quotes its step(s) with the arrows between them."""
    question = Question(
        number=1,
        prompt="What does the pond robot collect debris with?",
        options=("A trawl net", "A vacuum pump", "A magnet"),
    )
    workflow = STEP_SEPARATOR.join(
        ["Sonar mapping of the <pond>", "Route planning {{Title}}", "Debris netting: trawl net"]
    )
    paper = Paper(
        title="Pond Sweepers",
        arxiv_id="2605.00101",
        fields={"methods": "A small boat maps and cleans ponds.", "workflow": workflow},
        questions=(question,),
    )
    digest = tmp_path / "2026-05-04.txt"
    digest.write_text(
        write_quiz_text(date(2026, 5, 4), [(paper, "https://arxiv.org/abs/2605.00101")])
    )
    report = build(plan_adhoc([digest], tmp_path / "deck.apkg"), now=NOW)
    with fresh_collection(tmp_path) as col:
        assert import_package(col, report.output).new == report.notes
        cards = {card.template: card for card in rendered_cards(col)}
    assert (
        '<ol class="fc-list fc-steps"><li>Sonar mapping of the &lt;pond&gt;</li>'
        "<li>Route planning &#123;&#123;Title&#125;&#125;</li>"
        "<li>Debris netting: trawl net</li></ol>"
    ) in cards["Methods"].answer
    back = cards["Question"].answer
    assert "Route planning &#123;&#123;Title&#125;&#125; → Debris netting: trawl net" in back
    assert "<pond>" not in back and "<pond>" not in cards["Methods"].answer


@pytest.mark.slow
def test_a_chart_of_thousands_of_boxes_does_not_hang() -> None:
    """Each line is looked for in each box: a page within the limits can hold 12,000 boxes and
    12,000 labels (and a label of 24,000 tspans), minutes of work before the boxes were ignored
    past a budget. Guarded by `without_hanging` (60 s), not timed."""
    page = (QUIZ / "svg_inline_markup.html").read_text(encoding="utf-8")
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    boxes = "".join(
        f'<rect x="{i}" y="{i}" width="5" height="5"/><text x="{i}" y="{i}">L{i}</text>\n'
        for i in range(12_000)
    )
    spans = "".join(f'<tspan x="1" dy="{i % 3}">S{i}</tspan>\n' for i in range(24_000))
    for chart in (boxes, f'<text x="1" y="1">{spans}</text>'):
        text = page[:start] + f'<svg viewBox="0 0 9 9">{chart}</svg>' + page[end:]
        [digest] = without_hanging(lambda text=text: parse_text(text, "huge.html"))
        assert digest.papers[0].fields["workflow"].startswith(("L0", "S0"))
