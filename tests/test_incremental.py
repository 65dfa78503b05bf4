"""A build with added digests splices their papers' notes into the last build's: the package,
state and report are those of a build that recomputes everything, and any other change (a file
removed or changed, a new answer key, a damaged or forged cache) builds in full."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from digest_writers import write_markdown, write_quiz_html, write_quiz_text
from helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashcards import build as builder
from flashcards.errors import ConfigError
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc

DAY = 86_400


def _paper(n: int, *, variant: str = "", answers: tuple[int | None, ...] = ()) -> Paper:
    """Made-up paper number `n` (arXiv id 2501.0000n); `variant` changes its text; `answers`
    marks answers (by question, None for none)."""
    topic = "robotics manipulation" if n % 2 else "language model reasoning"
    questions = tuple(
        Question(
            number=q,
            prompt=f"Which component of paper {n} handles step {q}{variant}?",
            options=(f"A planner {n}", f"A critic {q}", "A retriever", "A tokenizer"),
            answer=answers[q - 1] if q - 1 < len(answers) else None,
        )
        for q in (1, 2)
    )
    return Paper(
        title=f"Paper {n}: Studying {topic}{variant}",
        arxiv_id=f"2501.{n:05d}",
        fields={
            "topic": f"The topic is {topic}.",
            "previous_research": f"Earlier work {n} used a planner {n} for this{variant}.",
            "problem": f"Problem {n}: a critic {n} is needed.",
            "methods": f"A planner {n} proposes, a critic 1 checks step 1{variant}.",
            "results": f"The retriever improves results by {n}%.",
        },
        questions=questions,
    )


def _text(day: str, papers: list[Paper]) -> str:
    return write_quiz_text(
        date.fromisoformat(day), [(p, f"https://arxiv.org/abs/{p.arxiv_id}") for p in papers]
    )


def _html(day: str, papers: list[Paper]) -> str:
    return write_quiz_html(
        date.fromisoformat(day), [(p, f"https://arxiv.org/abs/{p.arxiv_id}") for p in papers]
    )


def _table(day: str, papers: list[Paper]) -> str:
    summarised = [
        dataclasses.replace(p, authors=("A. Author",), fields={"summary": p.fields["results"]})
        for p in papers
    ]
    return write_markdown([(date.fromisoformat(day), summarised)])


class Decks:
    """The same digests in two folders: one built with the cache, one without; every build of
    both is compared (package, state, report), and `modes` says how the cached one was built."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.now = NOW
        self.key: str | None = None
        self.settings: dict[str, Any] = {}  # of the plan, e.g. subdecks
        self.delta = False  # also write a delta package (compared too)
        self.modes: list[str] = []
        spliced, full = builder.spliced_notes, builder.full_notes

        def spy_spliced(*args: Any, **kwargs: Any) -> Any:
            notes = spliced(*args, **kwargs)
            self.modes.append("spliced" if notes is not None else "splice refused")
            return notes

        def spy_full(*args: Any, **kwargs: Any) -> Any:
            self.modes.append("full")
            return full(*args, **kwargs)

        monkeypatch.setattr(builder, "spliced_notes", spy_spliced)
        monkeypatch.setattr(builder, "full_notes", spy_full)
        for name in ("cached", "reference"):
            (root / name / "digests").mkdir(parents=True)

    def write(self, name: str, text: str) -> None:
        for folder in ("cached", "reference"):
            (self.root / folder / "digests" / name).write_text(text, encoding="utf-8")

    def remove(self, name: str) -> None:
        for folder in ("cached", "reference"):
            (self.root / folder / "digests" / name).unlink()

    def answer_key(self, text: str) -> None:
        self.key = text
        for folder in ("cached", "reference"):
            (self.root / folder / "key.yaml").write_text(text, encoding="utf-8")

    def build(self) -> list[str]:
        """Build both decks a day after the last build; how the cached one was built."""
        self.now += DAY
        reports = []
        for name in ("reference", "cached"):
            folder = self.root / name
            plan = plan_adhoc(
                [folder / "digests"],
                folder / "deck.apkg",
                cache=name == "cached",
                answers=folder / "key.yaml" if self.key is not None else None,
            )
            plan = dataclasses.replace(plan, **self.settings)
            if self.delta:
                plan = dataclasses.replace(plan, delta=folder / "delta.apkg")
            self.modes.clear()
            reports.append(builder.build(plan, now=self.now))
        reference, cached = (self._outputs(self.root / n) for n in ("reference", "cached"))
        assert cached == reference
        assert _comparable(reports[1]) == _comparable(reports[0])
        assert reports[1].notes > 0
        return list(self.modes)

    @staticmethod
    def _outputs(folder: Path) -> tuple[bytes, ...]:
        names = ("deck.apkg", "deck.state.json", "delta.apkg")
        return tuple((folder / n).read_bytes() for n in names if (folder / n).exists())


def _comparable(report: builder.BuildReport) -> dict[str, Any]:
    fields = dataclasses.asdict(report)
    for name in ("output", "state", "delta"):
        fields.pop(name)
    fields["warnings"] = [w.replace("/reference/", "/cached/") for w in fields["warnings"]]
    return fields


@pytest.fixture
def decks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Decks:
    return Decks(tmp_path, monkeypatch)


@pytest.mark.slow
def test_added_digests_are_spliced_into_the_last_build(decks: Decks) -> None:
    decks.write("2025-03-10.txt", _text("2025-03-10", [_paper(1), _paper(2), _paper(3)]))
    decks.write("2025-03-11.md", _table("2025-03-11", [_paper(10), _paper(11)]))
    assert decks.build() == ["full"]  # nothing to splice into yet

    # New papers only.
    decks.write("2025-03-12.txt", _text("2025-03-12", [_paper(4), _paper(5)]))
    assert decks.build() == ["spliced"]

    # A new digest repeating a paper of an older one, corrected: one note, both dates' tags,
    # the latest text; the older digest's other papers are untouched.
    decks.write("2025-03-13.txt", _text("2025-03-13", [_paper(2, variant=" (v2)"), _paper(6)]))
    assert decks.build() == ["spliced"]

    # The HTML page of an older text digest's day marks its answers: the text's questions
    # take them ("Marked in the digest").
    decks.write("2025-03-10.html", _html("2025-03-10", [_paper(1, answers=(2, 0))]))
    assert decks.build() == ["spliced"]

    # A digest dated before all others (a backfill), repeating a paper: it moves the paper's
    # first date, its order among new cards and its date tags.
    decks.write("2025-03-01.md", _table("2025-03-01", [_paper(3), _paper(20)]))
    assert decks.build() == ["spliced"]

    # Nothing new and an unchanged package: the last build is reused whole; a deleted package
    # is rebuilt from the spliced notes alone.
    assert decks.build() == []
    (decks.root / "cached" / "deck.apkg").unlink()
    (decks.root / "reference" / "deck.apkg").unlink()
    assert decks.build() == ["spliced"]

    # A file that is no digest, and a digest without papers, added in the folder: warnings.
    decks.write("notes.txt", "just some notes\n")
    decks.write("2025-03-14.txt", "2025-03-14 Papers\n\n")
    assert decks.build() == ["spliced"]

    # Any other change builds in full: a changed file, a removed one, a new answer key.
    decks.write("2025-03-12.txt", _text("2025-03-12", [_paper(4, variant=" (fixed)"), _paper(5)]))
    assert decks.build() == ["full"]
    decks.remove("2025-03-11.md")
    assert decks.build() == ["full"]
    decks.answer_key('"2501.00004": [D, D]\n')  # not what was inferred: answers changed
    assert decks.build() == ["full"]
    state = (decks.root / "cached" / "deck.state.json").read_text()
    assert '"was"' in state
    decks.write("2025-03-15.txt", _text("2025-03-15", [_paper(4, variant=" (again)"), _paper(7)]))
    assert decks.build() == ["spliced"]  # the key read by paper key, as the reference does
    # Notes flagged as changed in an earlier build are reused flagged.
    decks.write("2025-03-16.txt", _text("2025-03-16", [_paper(30)]))
    assert decks.build() == ["spliced"]


def test_spliced_notes_keep_their_subdeck_and_settings(decks: Decks) -> None:
    decks.settings = {"subdecks": "month", "shuffle": False, "tags": ("papers",)}
    decks.write("2025-03-10.txt", _text("2025-03-10", [_paper(1), _paper(2)]))
    assert decks.build() == ["full"]
    decks.write("2025-04-02.md", _table("2025-04-02", [_paper(3), _paper(2)]))
    assert decks.build() == ["spliced"]
    decks.write("2025-02-27.txt", _text("2025-02-27", [_paper(3)]))  # moves it to February
    assert decks.build() == ["spliced"]
    decks.settings["subdecks"] = "date"
    assert decks.build() == ["full"]


def test_a_delta_package_holds_the_spliced_build_s_changes(decks: Decks) -> None:
    decks.delta = True
    decks.write("2025-03-10.txt", _text("2025-03-10", [_paper(1), _paper(2)]))
    assert decks.build() == ["full"]
    decks.write("2025-03-11.txt", _text("2025-03-11", [_paper(2, variant=" (v2)"), _paper(3)]))
    assert decks.build() == ["spliced"]
    assert decks.build() == ["spliced"]  # nothing new: an empty delta, not the last one again


def test_answer_key_entries_for_added_papers_are_checked(decks: Decks) -> None:
    decks.answer_key('"2501.00001": [A]\n"2501.00008": [B, C]\n')
    with pytest.raises(ConfigError, match="matches no paper"):
        decks.build()
    decks.write("2025-03-10.txt", _text("2025-03-10", [_paper(1), _paper(2)]))
    decks.write("2025-03-12.txt", _text("2025-03-12", [_paper(8)]))
    assert decks.build() == ["full"]
    # A new digest of paper 8 with a third question: its key entry still gives two letters,
    # the third question's answer is inferred, as without the cache.
    third = dataclasses.replace(
        _paper(8),
        questions=(
            *_paper(8).questions,
            Question(3, "Which part of paper 8 is new?", ("A critic 3", "A planner 8")),
        ),
    )
    decks.write("2025-03-13.txt", _text("2025-03-13", [third]))
    assert decks.build() == ["spliced"]
    # The key is checked against a paper's first occurrence in reading order: an added file
    # read before the others (its name sorts first) whose question has too few options for
    # the key's letter is the same error as without the cache, and nothing is written.
    two = dataclasses.replace(
        _paper(8),
        questions=(_paper(8).questions[0], Question(2, "Which one?", ("A critic 2", "A planner"))),
    )
    decks.write("2025-03-01.txt", _text("2025-03-01", [two]))
    for folder in ("cached", "reference"):
        before = (decks.root / folder / "deck.apkg").read_bytes()
        plan = plan_adhoc(
            [decks.root / folder / "digests"],
            decks.root / folder / "deck.apkg",
            answers=decks.root / folder / "key.yaml",
        )
        with pytest.raises(ConfigError, match="answer C for Q2 is out of range"):
            builder.build(plan, now=decks.now)
        assert (decks.root / folder / "deck.apkg").read_bytes() == before
    decks.remove("2025-03-01.txt")
    decks.write("2025-03-02.txt", _text("2025-03-02", [_paper(9)]))
    assert decks.build() == ["spliced"]


def _forge_groups(cache: Path, change: Callable[[list[Any]], None]) -> int:
    """Apply `change` to every note ([kind, fields, tags]) the cache keeps; how many papers'
    notes there were."""
    connection = sqlite3.connect(cache / "entries.sqlite")
    try:
        rows = connection.execute("SELECT key, value FROM entries WHERE key LIKE 'group%'")
        forged = []
        for key, value in rows.fetchall():
            head, *notes = json.loads(value)
            for note in notes:
                change(note)
            lines = (json.dumps(item, ensure_ascii=False) for item in (head, *notes))
            text = "[" + ",\n".join(lines) + "]"
            forged.append((text, key))
        connection.executemany("UPDATE entries SET value = ? WHERE key = ?", forged)
        connection.commit()
    finally:
        connection.close()
    return len(forged)


def test_reused_notes_must_be_those_the_state_records(decks: Decks) -> None:
    """The cache may come from anyone: a note read back whose content is not what the state
    records for it (here a script in its title) is not used; the build is done in full."""
    decks.write("2025-03-10.txt", _text("2025-03-10", [_paper(1), _paper(2)]))
    assert decks.build() == ["full"]
    cache = decks.root / "cached" / "deck.cache"

    def script(note: list[Any]) -> None:
        note[1][1] = "<script>alert(1)</script>"

    assert _forge_groups(cache, script)
    decks.write("2025-03-11.txt", _text("2025-03-11", [_paper(3)]))
    assert decks.build() == ["splice refused", "full"]
    package = (decks.root / "cached" / "deck.apkg").read_bytes()
    assert b"<script>alert" not in package

    # Wrong shapes, and a missing manifest, are no error either.
    def shape(note: list[Any]) -> None:
        note[1] = "fields"

    assert _forge_groups(cache, shape)
    decks.write("2025-03-12.txt", _text("2025-03-12", [_paper(4)]))
    assert decks.build() == ["splice refused", "full"]

    # The same content written otherwise (its hash is that of the bytes the state hashed).
    assert _forge_groups(cache, lambda note: note.append(None) or note.pop())
    connection = sqlite3.connect(cache / "entries.sqlite")
    connection.execute("UPDATE entries SET value = replace(value, '\", \"', '\",\"')")
    connection.commit()
    connection.close()
    decks.write("2025-03-12b.txt", _text("2025-03-12", [_paper(7)]))
    assert decks.build() == ["splice refused", "full"]
    connection = sqlite3.connect(cache / "entries.sqlite")
    connection.execute("DELETE FROM entries WHERE key LIKE 'notes%'")
    connection.commit()
    connection.close()
    decks.write("2025-03-13.txt", _text("2025-03-13", [_paper(5)]))
    assert decks.build() == ["full"]
    decks.write("2025-03-14.txt", _text("2025-03-14", [_paper(6)]))
    assert decks.build() == ["spliced"]


_POOL = st.integers(min_value=1, max_value=6)
_DIGEST = st.tuples(
    st.sampled_from(["text", "html", "table"]),
    st.integers(min_value=1, max_value=20),  # day of March 2025
    st.lists(_POOL, min_size=1, max_size=3, unique=True),
    st.booleans(),  # a variant of the papers' text
    st.booleans(),  # answers marked (quiz pages and text)
)


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_DIGEST, min_size=2, max_size=4))
def test_any_sequence_of_added_digests_builds_as_without_the_cache(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    added: list[tuple[str, int, list[int], bool, bool]],
) -> None:
    writers = {"text": (_text, "txt"), "html": (_html, "html"), "table": (_table, "md")}
    with monkeypatch.context() as patch:
        decks = Decks(tmp_path_factory.mktemp("decks"), patch)
        for step, (kind, day, numbers, variant, marked) in enumerate(added):
            write, suffix = writers[kind]
            papers = [
                _paper(n, variant=" (v2)" if variant else "", answers=(1, 0) if marked else ())
                for n in numbers
            ]
            iso = f"2025-03-{day:02d}"
            decks.write(f"{iso}-{step}.{suffix}", write(iso, papers))
            assert decks.build() == (["full"] if step == 0 else ["spliced"])


_JSON_TEXT = st.text(alphabet=st.sampled_from('ab "\\\n\t\x00\x1f\x7fé€😀{}<>&,'), max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    order=st.tuples(st.text(max_size=10), _JSON_TEXT, st.integers(0, 10**6)),
    notes=st.lists(st.tuples(_JSON_TEXT, st.integers(0, 99)), max_size=5),
)
def test_a_cache_text_head_is_what_json_dumps_writes(
    order: tuple[str, str, int], notes: list[tuple[str, int]]
) -> None:
    from flashcards.anki.notes import NoteGroup, NoteSpec
    from flashcards.incremental import _head_json

    specs = tuple(NoteSpec(guid, "mcq", (), (), "D", (*order, number), 1) for guid, number in notes)
    head = {"order": list(order), "notes": [[guid, number] for guid, number in notes]}
    assert _head_json(NoteGroup("k", order, specs)) == json.dumps(head, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(',\n[]"\\ aé€😀\x00'), max_size=12).map(
            lambda line: line.replace(",\n", ", ")  # a line never holds one (JSON escapes \n)
        ),
        max_size=5,
    ),
    st.sampled_from(["[", " ", "x"]),
    st.sampled_from(["]", " ", "y"]),
)
def test_line_hashes_are_those_of_the_lines_split_out(
    lines: list[str], first: str, last: str
) -> None:
    """Hashing each line where it lies in the text's bytes gives what hashing each line split
    out of the text gives, whatever the lines hold (many-byte characters, brackets, commas,
    line breaks of their own)."""
    from flashcards.anki.notes import hash_content
    from flashcards.incremental import line_hashes

    text = first + ",\n".join(['{"order": []}', *lines]) + last
    assert line_hashes(text) == [hash_content(line) for line in text[1:-1].split(",\n")[1:]]
    head_only = first + ",\n".join(lines) + last  # the first line is the head: not hashed
    assert line_hashes(head_only) == [
        hash_content(line) for line in head_only[1:-1].split(",\n")[1:]
    ]
