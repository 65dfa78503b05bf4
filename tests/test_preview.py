"""`flashcards preview` (issue 13): one page with every card's front and back as Anki renders them.

The template renderer is checked on its own and against Anki's: the bundled deck is built,
imported into a real collection, and every card's question and answer from Anki's template
engine must equal ours once Anki's `<style>` prefix is removed.
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import date
from pathlib import Path

import pytest
from anki_helpers import fresh_collection, import_package, rendered_cards
from bs4 import BeautifulSoup
from click.testing import CliRunner
from digest_writers import write_markdown, write_quiz_text
from helpers import NOW, ROOT

from flashcards.anki.notes import SUMMARY_FIELD_KEYS
from flashcards.anki.notetypes import MCQ_SCRIPT
from flashcards.build import build, plan_notes
from flashcards.cli import main
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc
from flashcards.preview import (
    MATHJAX_URL,
    field_is_empty,
    preview_cards,
    preview_page,
    render_template,
)

BUNDLED = ROOT / "decks" / "ai-papers.yaml"


# --- the renderer -----------------------------------------------------------------------------


def test_fields_and_sections() -> None:
    template = "<p>{{A}}</p>{{#B}}[b={{B}}]{{/B}}{{^B}}[no b]{{/B}}{{#A}}{{^C}}nested{{/C}}{{/A}}"
    assert render_template(template, {"A": "<i>x</i>", "B": "", "C": ""}) == (
        "<p><i>x</i></p>[no b]nested"
    )
    assert render_template(template, {"A": "", "B": "y", "C": "z"}) == "<p></p>[b=y]"


def test_front_side_and_spaces_in_tags() -> None:
    assert render_template("{{FrontSide}}<hr>{{ A }}", {"A": "a"}, front_side="F") == "F<hr>a"


@pytest.mark.parametrize("value", ["", " ", "<br>", "<div><br/></div>\n"])
def test_empty_fields_as_anki_sees_them(value: str) -> None:
    assert field_is_empty(value)
    assert render_template("{{#A}}shown{{/A}}", {"A": value}) == ""


@pytest.mark.parametrize(
    "template",
    ["{{Missing}}", "{{#A}}open", "{{/A}}", "{{#A}}x{{/B}}", "{{text:A}}", "{{#Nope}}{{/Nope}}"],
)
def test_what_the_templates_do_not_use_is_an_error(template: str) -> None:
    with pytest.raises(ValueError):
        render_template(template, {"A": "a", "B": "b"})


# --- the same HTML as Anki ----------------------------------------------------------------------


def test_cards_render_as_in_anki(tmp_path: Path) -> None:
    """Every card of the bundled deck and of the maths digests below (both note types, every
    template, key, marked and inferred answers): our front and back equal Anki's question and
    answer without its `<style>`."""
    inputs = [ROOT / "decks" / "samples", *_digests(tmp_path)]
    # Every summary field, so that every template is compared (a new deck has no Topic card).
    plan = dataclasses.replace(
        plan_adhoc(inputs, tmp_path / "deck.apkg"), fields=SUMMARY_FIELD_KEYS
    )
    report = build(plan, now=NOW)
    specs, _ = plan_notes(plan)
    ours = {(card.note.guid, card.ordinal): card for card in preview_cards(specs)}
    with fresh_collection(tmp_path) as col:
        import_package(col, report.output)
        theirs = [(card, col.get_card(card.card_id).ord) for card in rendered_cards(col)]
    assert len(theirs) == len(ours) == report.cards
    assert {card.template for card, _ in theirs} >= {"Question", "Topic", "Methods", "Summary"}
    for card, ordinal in theirs:
        mine = ours[(card.guid, ordinal)]
        assert mine.template == card.template
        style = f"<style>{mine.css}</style>"
        assert card.question == style + mine.front
        assert card.answer == style + mine.back


# --- the page -----------------------------------------------------------------------------------

DAY1 = date(2025, 7, 14)
DAY2 = date(2025, 7, 15)


def _digests(folder: Path) -> list[Path]:
    """A quiz digest (maths, a marked and an unknown answer) and a table digest a day later."""
    questions = (
        Question(
            number=1,
            prompt="Which weight does SL$^{2}$A-INR give each expert?",
            options=("$x_i = \\frac{1}{M}$", "A learned gate", "None of the above"),
            answer=0,
            answer_source="marked",
        ),
        Question(number=2, prompt="What does it cost?", options=("$5M", "$3 to $4")),
    )
    quiz = Paper(
        title="SL$^{2}$A-INR <b>Maths</b>",
        arxiv_id="2507.00401",
        fields={"problem": "Experts are averaged.", "methods": "Tokens -> experts -> merge."},
        questions=questions,
    )
    table = Paper(
        title="A Table Paper",
        arxiv_id="2507.00402",
        authors=("Cy Person",),
        fields={"summary": "A benchmark of tiny tasks."},
    )
    quiz_path = folder / "quiz.txt"
    quiz_path.write_text(write_quiz_text(DAY1, [(quiz, "https://arxiv.org/abs/2507.00401")]))
    table_path = folder / "table.md"
    table_path.write_text(write_markdown([(DAY2, [table])]))
    return [quiz_path, table_path]


def _frames(soup: BeautifulSoup, selector: str) -> list[BeautifulSoup]:
    return [BeautifulSoup(frame["srcdoc"], "html.parser") for frame in soup.select(selector)]


def test_page_groups_cards_by_date_with_tags_and_sources(tmp_path: Path) -> None:
    specs, _ = plan_notes(plan_adhoc(_digests(tmp_path), tmp_path / "x.apkg"))
    cards = preview_cards(specs)
    soup = BeautifulSoup(preview_page(specs, "Mine"), "html.parser")
    assert soup.title.string == "Mine"
    days = soup.select("section.pv-day")
    assert [day.h2.string for day in days] == ["2025-07-14", "2025-07-15"]
    assert (
        len(soup.select("article.pv-card")) == len(cards) == 5
    )  # 2 MCQ, problem, methods, summary
    assert len(days[1].select("article.pv-card")) == 1
    first, second = soup.select('article.pv-card[data-kind="mcq"]')
    assert "Marked in the digest" in first.select_one(".pv-source").text
    assert "nferred, " in second.select_one(".pv-source").text
    tags = [tag.text for tag in first.select(".pv-tag")]
    assert "date::2025-07-14" in tags and "arxiv::2507.00401" in tags
    assert soup.select_one("#pv-night") is not None
    # Each side is a whole card document: the note type's CSS, Anki's body class, our HTML.
    fronts, backs = _frames(soup, "iframe.pv-front"), _frames(soup, "iframe.pv-back")
    assert len(fronts) == len(backs) == len(cards)
    for card, front, back in zip(cards, fronts, backs, strict=True):
        assert front.body["class"] == ["card", f"card{card.ordinal + 1}"]
        assert front.style.string == card.css
        assert front.select_one("#qa").decode_contents() == str(
            BeautifulSoup(card.front, "html.parser")
        )
        assert back.select_one("#qa").decode_contents() == str(
            BeautifulSoup(card.back, "html.parser")
        )
    # Digest markup stays text inside the frames; MathJax loads only where there is maths.
    assert "&lt;b&gt;Maths&lt;/b&gt;" in first.select_one("iframe.pv-front")["srcdoc"]
    assert MATHJAX_URL in first.select_one("iframe.pv-front")["srcdoc"]
    table_card = days[1].select_one("iframe.pv-front")["srcdoc"]
    assert "A Table Paper" in table_card and MATHJAX_URL not in table_card


def test_page_needs_no_other_file(tmp_path: Path) -> None:
    specs, _ = plan_notes(plan_adhoc(_digests(tmp_path), tmp_path / "x.apkg"))
    page = preview_page(specs)
    documents = [page] + [html.unescape(m) for m in re.findall(r'srcdoc="([^"]*)"', page)]
    for document in documents:
        soup = BeautifulSoup(document, "html.parser")
        for element in soup.find_all(["script", "link", "img"]):
            source = element.get("src") or element.get("href")
            assert source in (None, MATHJAX_URL), element
    # The card script is the note type's own, unchanged.
    assert MCQ_SCRIPT in html.unescape(page)


def test_cli_preview(tmp_path: Path) -> None:
    inputs = _digests(tmp_path)
    out = tmp_path / "preview.html"
    runner = CliRunner()
    args = ["preview", "-i", str(inputs[0]), "-i", str(inputs[1]), "-o", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{out}: 4 notes, 5 cards"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    result = runner.invoke(main, ["preview", str(BUNDLED), "-o", str(tmp_path / "b.html")])
    assert result.exit_code == 0, result.output
    assert "35 notes" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.html"], "not both or neither"),
        ([str(BUNDLED), "-i", "x", "-o", "x.html"], "not both or neither"),
        ([str(BUNDLED), "--deck", "X", "-o", "x.html"], "--deck: only with -i"),
    ],
)
def test_cli_preview_usage(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["preview", *args])
    assert result.exit_code == 2 and message in result.output


def test_cli_preview_bad_digest_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00broken")
    out = tmp_path / "p.html"
    result = CliRunner().invoke(main, ["preview", "-i", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {bad}")
    assert not out.exists()


def _deck_copy(tmp_path: Path) -> Path:
    """The bundled deck definition, its samples, key and state, in a folder of their own."""
    decks = tmp_path / "decks"
    decks.mkdir()
    (decks / "samples").mkdir()
    for sample in (ROOT / "decks" / "samples").iterdir():
        (decks / "samples" / sample.name).write_bytes(sample.read_bytes())
    for name in ("ai-papers.yaml", "ai-papers.answers.yaml", "ai-papers.state.json"):
        (decks / name).write_bytes((ROOT / "decks" / name).read_bytes())
    (decks / "topics.yaml").write_bytes((ROOT / "flashcards" / "taxonomy.yaml").read_bytes())
    with (decks / "ai-papers.yaml").open("a", encoding="utf-8") as definition:
        definition.write("taxonomy: topics.yaml\ndelta: ../dist/today.apkg\n")
    return decks / "ai-papers.yaml"


@pytest.mark.parametrize(
    "target",
    [
        "samples/quiz-2025-01-15.txt",  # a digest
        "ai-papers.yaml",  # the deck definition itself
        "ai-papers.answers.yaml",  # the answer key a person checked
        "ai-papers.state.json",  # the state: lost, the deck's notes get new GUIDs
        "topics.yaml",  # the taxonomy
        "../dist/ai-papers.apkg",  # the package the build writes
        "../dist/today.apkg",  # and its delta
        "samples/preview.txt",  # new, but `samples/*.txt` would read it as a digest
    ],
)
def test_preview_never_writes_over_a_file_of_its_deck(tmp_path: Path, target: str) -> None:
    """`-o` naming a file the deck is made of (or one its build writes) must not replace it
    with the page: the digest, the checked key or the state would be lost."""
    definition = _deck_copy(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["build", str(definition)]).exit_code == 0
    out = definition.parent / target
    before = out.read_bytes() if out.exists() else None
    result = runner.invoke(main, ["preview", str(definition), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {out}: ") and "nothing was written" in result.stderr
    assert (out.read_bytes() if out.exists() else None) == before
    # Beside the digests but of a kind its globs do not read is fine.
    beside = definition.parent / "samples" / "preview.html"
    result = runner.invoke(main, ["preview", str(definition), "-o", str(beside)])
    assert result.exit_code == 0, result.output


def test_adhoc_preview_never_writes_over_its_inputs_or_into_their_folders(
    tmp_path: Path,
) -> None:
    """Ad hoc: not over a digest, key or taxonomy it reads, and not as a page inside a folder
    given as input, where the next build would read it as a (broken) quiz HTML digest."""
    definition = _deck_copy(tmp_path)
    decks = definition.parent
    samples = decks / "samples"
    runner = CliRunner()
    base = ["preview", "-i", str(samples), "--answers", str(decks / "ai-papers.answers.yaml")]
    base += ["--taxonomy", str(decks / "topics.yaml")]
    for out in (
        samples / "table-2025-03-12.md",
        decks / "ai-papers.answers.yaml",
        decks / "topics.yaml",
        samples / "preview.html",
        samples / "sub" / "preview.html",
    ):
        before = out.read_bytes() if out.exists() else None
        result = runner.invoke(main, [*base, "-o", str(out)])
        assert result.exit_code == 2, (out, result.output)
        assert result.stderr.startswith(f"error: {out}: "), result.stderr
        assert (out.read_bytes() if out.exists() else None) == before
    # Beside the inputs, not among them, is fine.
    result = runner.invoke(main, [*base, "-o", str(decks / "preview.html")])
    assert result.exit_code == 0, result.output
