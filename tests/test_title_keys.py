"""Papers without a link are named by their normalised title (issue 9, items 2–4): titles that
differ only outside ASCII must not share a key, the key of an ASCII title must not change (it is
in users' GUIDs), a key read back names the same paper, and the same paper or question twice in
one quiz digest is an error naming the line."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_writers import write_quiz_html, write_quiz_text
from hypothesis import given
from hypothesis import strategies as st

from flashcards.answers import load_answer_key, paper_key_of
from flashcards.cli import main
from flashcards.errors import ParseError
from flashcards.model import Paper, Question, normalise_title, paper_key
from flashcards.parse import parse_text

DAY = date(2025, 5, 6)


def _ascii_key_of_earlier_versions(title: str) -> str:
    """How versions before issue 9 normalised every title (kept here as the reference that ASCII
    titles must still match: their keys are in GUIDs already imported)."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^0-9a-z]+", "-", folded).strip("-")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Мир трансформеров", "Свет и тень"),
        ("注意力就是一切", "大模型推理"),
        ("α-Net", "β-Net"),
        ("C++ for LLMs", "C for LLMs"),
        ("C# for LLMs", "C for LLMs"),
        ("🙂", "🚀"),
    ],
)
def test_titles_that_differ_outside_ascii_get_different_keys(first: str, second: str) -> None:
    assert normalise_title(first) != normalise_title(second)
    assert normalise_title(first) and normalise_title(second)


def test_unicode_keys_are_readable_words() -> None:
    assert normalise_title("Мир  Трансформеров!") == "мир-трансформеров"
    assert normalise_title("α-Net") == "α-net"
    assert normalise_title("C++ for LLMs") == "c-plus-plus-for-llms"
    assert normalise_title("C# Tricks") == "c-sharp-tricks"
    assert normalise_title("🙂 🙂").startswith("untitled-")
    assert normalise_title("🙂 🙂") == normalise_title("🙂\n🙂")  # wrapping never matters


# Titles whose letters all fold to ASCII, as real titles are: letters with accents, digits,
# punctuation other than + and #, and symbols without letters.
_FOLDABLE = st.text(
    alphabet=st.sampled_from([*"abcXYZ019 -:,.()'!?/_&%$@", "é", "ü", "Å", "ﬁ", "²", "—"]),
    max_size=40,
)


@given(_FOLDABLE)
def test_ascii_titles_keep_the_keys_of_earlier_versions(title: str) -> None:
    before = _ascii_key_of_earlier_versions(title)
    if before:  # a title with no word at all had the empty key, which named nothing
        assert normalise_title(title) == before


@given(st.text(max_size=60))
def test_normalising_is_idempotent_and_never_empty(title: str) -> None:
    key = normalise_title(title)
    assert key
    assert normalise_title(key) == key
    assert paper_key_of(paper_key(None, title)) == paper_key(None, title)


@given(st.text(max_size=30), st.text(max_size=30))
def test_titles_with_different_words_get_different_keys(first: str, second: str) -> None:
    def words(title: str) -> list[str]:
        folded = unicodedata.normalize("NFKC", title).casefold()
        return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", folded))

    # Keys may only merge titles whose words (NFKC, case-folded) are the same, up to accents.
    if normalise_title(first) == normalise_title(second) and words(first) and words(second):
        strip = [
            [unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode() for w in words(t)]
            for t in (first, second)
        ]
        assert strip[0] == strip[1] or words(first) == words(second)


# -- quiz digests: the same paper or question twice ------------------------------------------


def _paper(title: str, numbers: tuple[int, ...] = (1,)) -> Paper:
    questions = tuple(
        Question(number=n, prompt=f"What does {title} study?", options=("Sight", "Sound"))
        for n in numbers
    )
    return Paper(title=title, fields={"topic": f"{title} is about attention."}, questions=questions)


@pytest.mark.parametrize("writer", [write_quiz_text, write_quiz_html])
def test_same_title_twice_in_a_quiz_digest_is_an_error(writer) -> None:
    text = writer(DAY, [(_paper("Lantern Routing"), ""), (_paper("Lantern routing!"), "")])
    with pytest.raises(ParseError) as error:
        parse_text(text, "q")
    message = str(error.value)
    assert "title 'Lantern routing!' appears twice in this digest (first at line" in message
    if writer is write_quiz_text:  # a paper starts at its "Paper N" line
        lines = text.splitlines()
        first, second = lines.index("Paper 1") + 1, lines.index("Paper 2") + 1
        assert message == (
            f"q:{second}: title 'Lantern routing!' appears twice in this digest "
            f"(first at line {first})"
        )


@pytest.mark.parametrize("writer", [write_quiz_text, write_quiz_html])
def test_unicode_titles_in_one_quiz_digest_stay_apart(writer) -> None:
    titles = ["Мир трансформеров", "Свет и тень", "α-Net", "β-Net", "C++ for LLMs", "C for LLMs"]
    digest = parse_text(writer(DAY, [(_paper(t), "") for t in titles]), "q")[0]
    assert [p.title for p in digest.papers] == titles
    assert len({p.key for p in digest.papers}) == len(titles)


@pytest.mark.parametrize("writer", [write_quiz_text, write_quiz_html])
def test_same_question_number_twice_is_an_error(writer) -> None:
    text = writer(DAY, [(_paper("Lantern Routing", (1, 2, 1)), "https://arxiv.org/abs/2501.00001")])
    with pytest.raises(ParseError) as error:
        parse_text(text, "q")
    assert "Q1 appears twice in this paper" in str(error.value)
    if writer is write_quiz_text:
        lines = text.splitlines()
        second = [i + 1 for i, line in enumerate(lines) if line == "Q1"][1]
        assert str(error.value).startswith(f"q:{second}: ")
        assert f"(first at line {lines.index('Q1') + 1})" in str(error.value)


# -- the answer-key round trip ---------------------------------------------------------------


def test_answer_key_round_trip_with_title_keys(tmp_path: Path) -> None:
    titles = ["Мир трансформеров", "注意力就是一切", "🙂🙂", "C++ for LLMs", "Plain Old Title"]
    digest = tmp_path / "today.txt"
    digest.write_text(write_quiz_text(DAY, [(_paper(t), "") for t in titles]), encoding="utf-8")
    key = tmp_path / "key.yaml"
    runner = CliRunner()
    first = runner.invoke(main, ["answers", str(digest), "-o", str(key), "--guess-unsure"])
    assert first.exit_code == 0, first.output
    text = key.read_text(encoding="utf-8")
    for title in titles:
        assert f'"title:{normalise_title(title)}":' in text
    # The key names every paper, and reading it again (the next day's run) accepts it.
    loaded = load_answer_key(key)
    assert set(loaded.answers) == {paper_key(None, t) for t in titles}
    # A person checks the guesses: removing each `~` makes them the key's.
    assert text.count("  - ~") == len(titles)
    key.write_text(text.replace("  - ~", "  - "), encoding="utf-8")
    again = runner.invoke(main, ["answers", str(digest), "-o", str(key)])
    assert again.exit_code == 0, again.output
    assert "5 answers (5 from the key" in again.output, again.output
    out = tmp_path / "out.apkg"
    built = runner.invoke(main, ["build", "-i", str(digest), "-o", str(out), "--answers", str(key)])
    assert built.exit_code == 0, built.output
    assert out.is_file()
