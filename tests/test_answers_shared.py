"""Answers shared between digests: a question answered (key or mark) in one digest answers the
same question of the same paper in another, e.g. a text digest beside the quiz page it came
from. Fixtures are written here with the format writers (our own text)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from digest_writers import write_quiz_html, write_quiz_text

from flashcards.anki.notes import build_notes
from flashcards.anki.notetypes import MCQ_FIELDS
from flashcards.answers import AnswerKey, resolve_answers, share_known_answers
from flashcards.cli import main
from flashcards.model import Digest, Paper, Question
from flashcards.parse import parse_paths

DAY = date(2025, 6, 2)

QUESTIONS = (
    Question(
        1,
        "Which signal does the router use to pick an expert for each token?",
        ("A learned gating score", "The token's position", "A random hash of the token"),
        answer=0,
    ),
    Question(
        2,
        "How many experts are active for one token?",
        ("One", "Two", "All of them"),
        answer=1,
    ),
    Question(
        3,
        "What does the auxiliary loss balance?",
        ("The learning rate", "The load across experts", "The vocabulary size"),
        answer=1,
    ),
)

PAPERS = (
    Paper(
        "Routing Tokens Through Few Experts",
        arxiv_id="2506.01001",
        fields={
            "topic": "Sparse mixture-of-experts language models.",
            "methods": "A gating network scores experts; the two best take each token.",
            "results": "The same quality at a third of the compute.",
        },
        questions=QUESTIONS,
    ),
    Paper(
        "A Benchmark Without a Link",
        fields={"problem": "Reading long tables is hard for small models."},
        questions=(
            Question(1, "What is hard for small models?", ("Long tables", "Short poems"), 0),
        ),
    ),
)


def unanswered(paper: Paper) -> Paper:
    return dataclasses.replace(
        paper, questions=tuple(dataclasses.replace(q, answer=None) for q in paper.questions)
    )


def reshuffled(paper: Paper) -> Paper:
    """The page's version of a paper: options reversed, prompts re-spaced and upper-cased, the
    answer still the same option text."""
    questions = []
    for question in paper.questions:
        options = tuple(reversed(question.options))
        assert question.answer is not None
        answer = options.index(question.options[question.answer])
        prompt = "  " + question.prompt.upper().replace(" ", "   ")
        questions.append(
            dataclasses.replace(question, prompt=prompt, options=options, answer=answer)
        )
    return dataclasses.replace(paper, questions=tuple(questions))


def links(papers: tuple[Paper, ...]) -> list[tuple[Paper, str]]:
    return [(p, f"https://arxiv.org/abs/{p.arxiv_id}" if p.arxiv_id else "") for p in papers]


def write_pair(folder: Path) -> tuple[Path, Path]:
    """A text digest that lost its answers, and the quiz page of the same day that has them."""
    text = folder / "text" / f"{DAY.isoformat()}.txt"
    page = folder / "html" / f"{DAY.isoformat()}.html"
    text.parent.mkdir(parents=True)
    page.parent.mkdir(parents=True)
    text.write_text(write_quiz_text(DAY, links(tuple(map(unanswered, PAPERS)))), encoding="utf-8")
    page.write_text(write_quiz_html(DAY, links(tuple(map(reshuffled, PAPERS)))), encoding="utf-8")
    return text, page


def text_questions(digests: list[Digest]) -> list[tuple[Paper, Question]]:
    return [
        (p, q) for d in digests if d.format == "quiz-text" for p in d.papers for q in p.questions
    ]


def right_option(paper: Paper, question: Question) -> str:
    original = next(p for p in PAPERS if p.key == paper.key)
    truth = original.questions[question.number - 1]
    assert truth.answer is not None
    return truth.options[truth.answer]


def test_the_text_digest_takes_every_answer_marked_on_the_page(tmp_path: Path) -> None:
    text, page = write_pair(tmp_path)
    alone = resolve_answers(list(parse_paths([text]).digests))
    assert {q.answer_source for _p, q in text_questions(alone)} == {"inferred"}

    digests = resolve_answers(list(parse_paths([text, page]).digests))
    questions = text_questions(digests)
    assert len(questions) == 4
    for paper, question in questions:
        assert question.answer_source == "marked"
        assert question.confidence == 1.0 and question.unsure is False
        assert question.answer is not None
        # Mapped by the option's text: the page lists the options in the reverse order.
        assert question.options[question.answer] == right_option(paper, question)


def test_parse_json_shows_the_text_questions_marked(tmp_path: Path) -> None:
    write_pair(tmp_path)
    result = CliRunner().invoke(
        main, ["parse", "--json", str(tmp_path / "text"), str(tmp_path / "html")]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    text = [d for d in document["digests"] if d["format"] == "quiz-text"]
    sources = [q["answer_source"] for d in text for p in d["papers"] for q in p["questions"]]
    assert sources == ["marked"] * 4


def test_cards_of_the_text_digest_read_marked_in_the_digest(tmp_path: Path) -> None:
    text, page = write_pair(tmp_path)
    digests = resolve_answers(list(parse_paths([text, page]).digests))
    only_text = [d for d in digests if d.format == "quiz-text"]
    notes = [n for n in build_notes(only_text, deck="D") if n.kind == "mcq"]
    source_field = MCQ_FIELDS.index("AnswerSource")
    assert len(notes) == 4
    assert {n.fields[source_field] for n in notes} == {
        '<div class="fc-source fc-src-marked">Marked in the digest</div>'
    }


def test_the_same_paper_on_another_day_shares_its_answers(tmp_path: Path) -> None:
    first = tmp_path / "2025-06-02.txt"
    later = tmp_path / "2025-06-09.txt"
    first.write_text(write_quiz_text(DAY, links(PAPERS)), encoding="utf-8")
    again = tuple(map(unanswered, PAPERS))
    later.write_text(write_quiz_text(date(2025, 6, 9), links(again)), encoding="utf-8")
    digests = resolve_answers(list(parse_paths([later, first]).digests))
    assert all(q.answer_source == "marked" for _p, q in text_questions(digests))


def test_only_the_same_question_is_answered(tmp_path: Path) -> None:
    """Another option, another prompt, or another paper: nothing is shared."""
    text, _page = write_pair(tmp_path)
    paper = reshuffled(PAPERS[0])
    q1, q2, q3 = paper.questions
    changed = (
        dataclasses.replace(q1, options=(*q1.options[:-1], "A learned gating score, scaled")),
        dataclasses.replace(q2, prompt="How many experts are active for one sentence?"),
        q3,
    )
    other_paper = dataclasses.replace(PAPERS[1], title="Another Benchmark Without a Link")
    page = tmp_path / "page.html"
    page.write_text(
        write_quiz_html(DAY, links((dataclasses.replace(paper, questions=changed), other_paper))),
        encoding="utf-8",
    )
    digests = resolve_answers(list(parse_paths([text, page]).digests))
    sources = {(p.key, q.number): q.answer_source for p, q in text_questions(digests)}
    assert sources == {
        ("arxiv:2506.01001", 1): "inferred",
        ("arxiv:2506.01001", 2): "inferred",
        ("arxiv:2506.01001", 3): "marked",
        ("title:a-benchmark-without-a-link", 1): "inferred",
    }


def test_conflicting_answers_share_nothing(tmp_path: Path) -> None:
    text, page = write_pair(tmp_path)
    paper = PAPERS[0]
    # Another digest marks other options for Q1 and Q2, the same one for Q3.
    answers = (2, 2, 1)
    other_version = dataclasses.replace(
        paper,
        questions=tuple(
            dataclasses.replace(q, answer=a) for q, a in zip(paper.questions, answers, strict=True)
        ),
    )
    other = tmp_path / "other.txt"
    other.write_text(write_quiz_text(date(2025, 6, 3), links((other_version,))), encoding="utf-8")
    digests = resolve_answers(list(parse_paths([text, page, other]).digests))
    text_digest = [d for d in digests if d.source == str(text)]
    sources = [q.answer_source for _p, q in text_questions(text_digest)]
    assert sources == ["inferred", "inferred", "marked", "marked"]


def test_the_key_still_wins_over_a_shared_mark(tmp_path: Path) -> None:
    text, page = write_pair(tmp_path)
    key = AnswerKey("k.yaml", {"arxiv:2506.01001": (2,)})
    digests = resolve_answers(list(parse_paths([text, page]).digests), key)
    first = text_questions(digests)[0][1]
    assert (first.answer, first.answer_source) == (2, "key")


def test_real_text_digests_take_the_answers_of_their_pages(corpus: Path) -> None:
    """The quiz site's text digests lost their answers; beside the HTML pages of the same days
    (which carry them, except a few `data-answer=""`) nearly all are marked again, each with
    the option the page marks."""
    folder = corpus / "daily_paper"
    digests = share_known_answers(list(parse_paths([folder / "text", folder / "html"]).digests))
    marked_on_pages = {
        (p.key, " ".join(q.prompt.split()).casefold()): q.options[q.answer]
        for d in digests
        if d.format == "quiz-html"
        for p in d.papers
        for q in p.questions
        if q.answer is not None
    }
    questions = text_questions(digests)
    marked = [(p, q) for p, q in questions if q.answer_source == "marked"]
    assert len(marked) >= 0.98 * len(questions)
    for paper, question in marked:
        assert question.answer is not None
        page_option = marked_on_pages[paper.key, " ".join(question.prompt.split()).casefold()]
        assert " ".join(question.options[question.answer].split()) == " ".join(page_option.split())
