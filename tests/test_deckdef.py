"""Deck definitions (decks/*.yaml): loading, defaults, path rules, and every validation message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from flashcards.deckdef import (
    DECK_KEYS,
    DeckDefinition,
    find_deck_definitions,
    load_deck_definition,
    load_deck_definitions,
)
from flashcards.errors import ConfigError
from flashcards.model import Digest
from flashcards.parse import parse_paths
from flashcards.topics import load_taxonomy

BUNDLED = ROOT / "decks" / "ai-papers.yaml"
KEYS = ", ".join(DECK_KEYS)


@pytest.fixture
def decks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as cwd, with decks/samples/{a.txt,b.md,sub/c.txt} to point globs at."""
    monkeypatch.chdir(tmp_path)
    samples = tmp_path / "decks" / "samples"
    (samples / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.md", "sub/c.txt"):
        (samples / name).write_text("2025-01-01 Papers\n", encoding="utf-8")
    return Path("decks")


def write(folder: Path, text: str, name: str = "x.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = "name: AI\nsources: [samples/*.txt]\n"


def test_minimal_definition_gets_the_documented_defaults(decks: Path) -> None:
    definition = load_deck_definition(write(decks, MINIMAL))
    assert definition == DeckDefinition(
        path=Path("decks/x.yaml"),
        name="AI",
        sources=("samples/*.txt",),
        output=Path("dist/x.apkg"),  # under the current directory
        state=Path("decks/x.state.json"),  # beside the definition
        cards=("mcq", "summary"),
        subdecks=None,
        tags=(),
        answers=None,
        taxonomy=None,
        unsure_threshold=None,
        cache=Path("decks/x.cache"),  # beside the state
    )
    assert definition.source_files() == [Path("decks/samples/a.txt")]


def test_every_key_is_read_and_paths_resolve_against_the_yaml_directory(decks: Path) -> None:
    (decks / "key.yaml").write_text("{}\n", encoding="utf-8")
    (decks / "topics.yaml").write_text("{}\n", encoding="utf-8")
    text = """\
name: "AI::Papers"
sources: ["samples/*.md", "samples/**/*.txt"]
output: ../out/papers.apkg
state: state/papers.json
cards: [summary, mcq]
subdecks: month
shuffle: false
fields: [results, problem]
tags: [ai, "source::samples"]
answers: key.yaml
taxonomy: topics.yaml
unsure_threshold: 0.75
"""
    definition = load_deck_definition(write(decks, text))
    assert definition.name == "AI::Papers"
    assert definition.output == Path("out/papers.apkg")
    assert definition.state == Path("decks/state/papers.json")
    assert definition.cards == ("mcq", "summary")  # canonical order, whatever the file's
    assert definition.subdecks == "month"
    assert definition.shuffle is False
    assert definition.fields == ("problem", "results")  # card order, whatever the file's
    assert definition.tags == ("ai", "source::samples")
    assert definition.answers == Path("decks/key.yaml")
    assert definition.taxonomy == Path("decks/topics.yaml")
    assert definition.unsure_threshold == 0.75
    assert definition.cache == Path("decks/state/papers.cache")  # beside the state
    assert definition.source_files() == [
        Path("decks/samples/a.txt"),
        Path("decks/samples/b.md"),
        Path("decks/samples/sub/c.txt"),
    ]


def test_relative_paths_do_not_depend_on_the_working_directory(
    decks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(decks, MINIMAL + "output: ../dist/x.apkg\n").resolve()
    monkeypatch.chdir(path.parent / "samples")
    definition = load_deck_definition(path)
    assert definition.output == path.parent.parent / "dist" / "x.apkg"
    assert definition.source_files() == [path.parent / "samples" / "a.txt"]


def test_a_directory_glob_contributes_the_digest_files_under_it(decks: Path) -> None:
    definition = load_deck_definition(write(decks, "name: AI\nsources: [samples, samples/*]\n"))
    # Overlapping globs give each file once, sorted.
    assert definition.source_files() == [
        Path("decks/samples/a.txt"),
        Path("decks/samples/b.md"),
        Path("decks/samples/sub/c.txt"),
    ]


def test_absolute_paths_are_kept(decks: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "deck.apkg"
    text = f"name: AI\nsources: ['{tmp_path}/decks/samples/*.md']\noutput: '{target}'\n"
    definition = load_deck_definition(write(decks, text))
    assert definition.output == target
    assert definition.source_files() == [tmp_path / "decks" / "samples" / "b.md"]


def test_subdeck_names(decks: Path) -> None:
    from datetime import date

    from flashcards.anki.notes import deck_for

    day = date(2025, 3, 12)
    plain = load_deck_definition(write(decks, MINIMAL))
    monthly = load_deck_definition(write(decks, MINIMAL + "subdecks: month\n", "m.yaml"))
    daily = load_deck_definition(write(decks, MINIMAL + "subdecks: date\n", "d.yaml"))
    assert [deck_for(d.name, day, d.subdecks) for d in (plain, monthly, daily)] == [
        "AI",
        "AI::2025-03",
        "AI::2025-03-12",
    ]


# Each case: the file's text, then the exact message (the file is decks/x.yaml).
INVALID = {
    "unknown key": (
        "name: AI\nsources: [samples/*.txt]\nsourcez: [x]\n",
        f"decks/x.yaml:3: sourcez: unknown key (expected one of: {KEYS})",
    ),
    "cards not a list": (
        MINIMAL + "cards: all\n",
        "decks/x.yaml:3: cards: expected a list of mcq/summary, got 'all'",
    ),
    "unknown card kind": (
        MINIMAL + "cards:\n  - mcq\n  - cloze\n",
        "decks/x.yaml:5: cards: 'cloze' is not a card kind (expected mcq/summary)",
    ),
    "no card kind": (
        MINIMAL + "cards: []\n",
        "decks/x.yaml:3: cards: expected at least one of mcq/summary, got an empty list",
    ),
    "glob matching nothing": (
        "name: AI\nsources:\n  - samples/*.txt\n  - foo/*.md\n",
        "decks/x.yaml:4: sources: 'foo/*.md' matches no file",
    ),
    "sources as a string": (
        "name: AI\nsources: samples/*.txt\n",
        "decks/x.yaml:2: sources: expected a list of globs, got 'samples/*.txt' "
        "(write it as a list: [samples/*.txt])",
    ),
    "sources empty": (
        "name: AI\nsources: []\n",
        "decks/x.yaml:2: sources: expected at least one glob, got an empty list",
    ),
    "source not a string": (
        "name: AI\nsources: [samples/*.txt, 7]\n",
        "decks/x.yaml:2: sources: expected a glob, got 7",
    ),
    "name missing": ("sources: [samples/*.txt]\n", "decks/x.yaml: name: missing (required)"),
    "sources missing": ("name: AI\n", "decks/x.yaml: sources: missing (required)"),
    "name not a string": (
        "name: 42\nsources: [samples/*.txt]\n",
        "decks/x.yaml:1: name: expected a string, got 42",
    ),
    "name empty": (
        "name: '  '\nsources: [samples/*.txt]\n",
        "decks/x.yaml:1: name: must not be empty",
    ),
    "name with an empty level": (
        "name: 'AI::'\nsources: [samples/*.txt]\n",
        "decks/x.yaml:1: name: 'AI::' has an empty part between '::'",
    ),
    "subdecks unknown": (
        MINIMAL + "subdecks: weekly\n",
        "decks/x.yaml:3: subdecks: expected month, date or null, got 'weekly'",
    ),
    "fields unknown": (
        MINIMAL + "fields: [problem, title]\n",
        "decks/x.yaml:3: fields: 'title' is not a summary field (expected topic, "
        "previous_research, problem, methods, results, summary)",
    ),
    "fields empty": (
        MINIMAL + "fields: []\n",
        "decks/x.yaml:3: fields: expected at least one of topic, previous_research, problem, "
        "methods, results, summary, got an empty list (drop summary from cards: for none)",
    ),
    "shuffle not a boolean": (
        MINIMAL + "shuffle: sometimes\n",
        "decks/x.yaml:3: shuffle: expected true or false, got 'sometimes'",
    ),
    "tag with a space": (
        MINIMAL + "tags: [ok, two words]\n",
        "decks/x.yaml:3: tags: 'two words' contains a space or a quote "
        "(Anki tags cannot; use - or ::)",
    ),
    "tags not a list": (
        MINIMAL + "tags: papers\n",
        "decks/x.yaml:3: tags: expected a list of tags, got 'papers'",
    ),
    "tag not a string": (
        MINIMAL + "tags: [{a: b}]\n",
        "decks/x.yaml:3: tags: expected a tag, got a mapping",
    ),
    "threshold above 1": (
        MINIMAL + "unsure_threshold: 1.5\n",
        "decks/x.yaml:3: unsure_threshold: expected a number between 0 and 1, got 1.5",
    ),
    "threshold a boolean": (
        MINIMAL + "unsure_threshold: yes\n",
        "decks/x.yaml:3: unsure_threshold: expected a number between 0 and 1, got true",
    ),
    "answers file missing": (
        MINIMAL + "answers: missing.yaml\n",
        "decks/x.yaml:3: answers: 'missing.yaml' is not a file (looked for decks/missing.yaml)",
    ),
    "taxonomy file missing": (
        MINIMAL + "taxonomy: ../topics.yaml\n",
        "decks/x.yaml:3: taxonomy: '../topics.yaml' is not a file (looked for topics.yaml)",
    ),
    "output not a package": (
        MINIMAL + "output: deck.txt\n",
        "decks/x.yaml:3: output: 'deck.txt' should end in .apkg",
    ),
    "output a number": (
        MINIMAL + "output: 3\n",
        "decks/x.yaml:3: output: expected a file path, got 3",
    ),
    "state a directory": (
        MINIMAL + "state: samples\n",
        "decks/x.yaml:3: state: 'samples' is a directory, expected a file path",
    ),
    "duplicate key": (
        MINIMAL + "name: Other\n",
        "decks/x.yaml:3: name: duplicate key",
    ),
    "empty file": (
        "# nothing yet\n",
        "decks/x.yaml: empty deck definition (expected a mapping with name and sources)",
    ),
    "a list, not a mapping": (
        "- name: AI\n",
        "decks/x.yaml:1: expected a mapping of keys (name, sources, ...), got a list",
    ),
}


@pytest.mark.parametrize("text, message", INVALID.values(), ids=INVALID.keys())
def test_invalid_definitions_name_file_line_and_key(decks: Path, text: str, message: str) -> None:
    path = write(decks, text)
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "text",
    [
        (ROOT / "flashcards" / "taxonomy.yaml").read_text(encoding="utf-8"),
        '"2504.17761": [B, C, A]\n"title:some-paper": [A, ?]\n',
    ],
    ids=["taxonomy", "answer key"],
)
def test_a_companion_without_its_second_suffix_is_named_as_such(decks: Path, text: str) -> None:
    """A taxonomy or answer key saved as `decks/my-topics.yaml` is read as a deck definition by
    `flashcards build`; the error must say why and what to rename, not list its first key as
    an unknown deck key."""
    path = write(decks, text)
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert str(caught.value) == (
        "decks/x.yaml: not a deck definition (no name or sources): every decks/*.yaml is built "
        "as a deck, so a taxonomy or answer key kept beside them needs a second suffix, e.g. "
        "x.taxonomy.yaml or x.answers.yaml"
    )


def test_malformed_yaml_gives_its_line(decks: Path) -> None:
    path = write(decks, "name: AI\nsources: [samples/*.txt\ncards: [mcq]\n")
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert caught.value.path == "decks/x.yaml"
    assert caught.value.line == 3
    assert caught.value.message.startswith("invalid YAML: ")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2025-02-30", "'2025-02-30' is not a date (day is out of range for month)"),
        ("2025-13-01", "'2025-13-01' is not a date (month must be in 1..12)"),
        ("2025-06-01T25:00:00", "'2025-06-01T25:00:00' is not a date (hour must be in 0..23)"),
    ],
)
def test_an_impossible_date_is_an_error_at_its_line(decks: Path, value: str, problem: str) -> None:
    """YAML reads an unquoted YYYY-MM-DD as a date: a typo in one ended every command reading
    the file in a ValueError traceback."""
    text = "name: AI\nsources: [samples/*.txt]\npull:\n  - source: daily-paper\n    into: q\n"
    path = write(decks, f"{text}    since: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert str(caught.value) == f"decks/x.yaml:6: invalid YAML: {problem}"
    taxonomy = decks / "t.yaml"
    taxonomy.write_text(f"topics: {{}}\nwhen: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^decks/t\.yaml:2: invalid YAML: .* is not a date"):
        load_taxonomy(taxonomy)


def test_unreadable_and_undecodable_files(decks: Path) -> None:
    with pytest.raises(ConfigError, match=r"^decks/none\.yaml: cannot read: No such file"):
        load_deck_definition(decks / "none.yaml")
    path = decks / "latin1.yaml"
    path.write_bytes(b"name: Caf\xe9\nsources: [samples/*.txt]\n")
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert str(caught.value) == "decks/latin1.yaml:1: not UTF-8 text; save the file as UTF-8"


def test_a_control_character_is_a_one_line_error_with_its_line(decks: Path) -> None:
    path = write(decks, "name: AI\nsources: [samples/*.txt]\ntags: [a\x01]\n")
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert str(caught.value) == (
        "decks/x.yaml:3: invalid YAML: unacceptable #x0001 (special characters are not allowed)"
    )


def test_utf8_bom_and_crlf_are_accepted(decks: Path) -> None:
    path = decks / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: Caf\xc3\xa9\r\nsources: [samples/*.txt]\r\n")
    assert load_deck_definition(path).name == "Café"


def test_source_files_rechecks_the_globs(decks: Path) -> None:
    definition = load_deck_definition(write(decks, "name: AI\nsources: [samples/*.md]\n"))
    (decks / "samples" / "b.md").unlink()
    with pytest.raises(ConfigError) as caught:
        definition.source_files()
    assert str(caught.value) == "decks/x.yaml: sources: 'samples/*.md' matches no file"


def test_find_deck_definitions_skips_companion_files(decks: Path) -> None:
    write(decks, MINIMAL, "b.yaml")
    write(decks, MINIMAL, "a.yaml")
    write(decks, '"2501.00001": [A]\n', "a.answers.yaml")
    write(decks, "topics: {}\n", "my.taxonomy.yaml")
    write(decks, "not yaml", "notes.txt")
    assert find_deck_definitions(decks) == [decks / "a.yaml", decks / "b.yaml"]
    assert find_deck_definitions(decks / "missing") == []


def test_two_definitions_writing_the_same_package_are_refused(decks: Path) -> None:
    first = write(decks, MINIMAL + "output: ../dist/same.apkg\n", "a.yaml")
    second = write(decks, MINIMAL + "output: ../dist/./same.apkg\n", "b.yaml")
    with pytest.raises(ConfigError) as caught:
        load_deck_definitions([first, second])
    assert str(caught.value) == (
        "decks/b.yaml: output: 'dist/same.apkg' is also the output of decks/a.yaml"
    )


# --- the bundled default deck ---------------------------------------------------------------


def test_bundled_deck_loads_and_writes_to_dist_from_the_repository_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    assert Path("decks/ai-papers.yaml") in find_deck_definitions()
    definition = load_deck_definition("decks/ai-papers.yaml")
    assert definition.name == "AI Papers"
    assert definition.output == Path("dist/ai-papers.apkg")
    assert definition.state == Path("decks/ai-papers.state.json")
    assert definition.answers == Path("decks/ai-papers.answers.yaml")
    assert definition.taxonomy is None
    assert [p.name for p in definition.source_files()] == [
        "quiz-2025-01-15.txt",
        "quiz-2025-02-12.txt",
        "table-2025-03-12.md",
        "table-2025-04-09.md",
    ]
    assert all(p.is_file() for p in definition.source_files())


def _bundled_digests() -> tuple[Digest, ...]:
    return parse_paths(load_deck_definition(BUNDLED).source_files()).digests


def test_bundled_samples_parse_with_the_expected_counts() -> None:
    digests = _bundled_digests()
    assert [(d.format, d.date.isoformat(), len(d.papers)) for d in digests] == [
        ("quiz-text", "2025-01-15", 3),
        ("quiz-text", "2025-02-12", 3),
        ("markdown-table", "2025-03-12", 5),
        ("markdown-table", "2025-04-09", 6),
    ]
    quiz = [p for d in digests if d.format == "quiz-text" for p in d.papers]
    five = ("topic", "previous_research", "problem", "methods", "results", "workflow")
    for paper in quiz:
        assert all(paper.fields.get(name) for name in five), paper.title
        assert paper.published is not None
        assert [len(q.options) for q in paper.questions] == [3, 3, 3]
        assert [q.number for q in paper.questions] == [1, 2, 3]
    table = [p for d in digests if d.format == "markdown-table" for p in d.papers]
    for paper in table:
        assert paper.authors and paper.fields.get("summary"), paper.title
        assert paper.url == f"https://arxiv.org/abs/{paper.arxiv_id}"
    titles = {p.title for p in table}
    # The wrapped rows come back whole.
    assert "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale" in titles
    assert "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks" in titles
    assert any("Christopher Ré" in p.authors for p in table)
    # Every paper is a distinct, real arXiv id.
    ids = [p.arxiv_id for d in digests for p in d.papers]
    assert len(ids) == len(set(ids)) == 17
    assert all(i and len(i.split(".")[1]) in (4, 5) for i in ids)


def test_answer_key_covers_every_sample_quiz_question_exactly() -> None:
    definition = load_deck_definition(BUNDLED)
    assert definition.answers is not None
    key = yaml.safe_load(definition.answers.read_text(encoding="utf-8"))
    quiz = {p.arxiv_id: p for d in _bundled_digests() for p in d.papers if p.questions}
    assert all(isinstance(k, str) for k in key)  # quoted: 1706.03762 unquoted is a float
    assert set(key) == set(quiz)
    for arxiv_id, letters in key.items():
        questions = quiz[arxiv_id].questions
        assert len(letters) == len(questions), arxiv_id
        for letter, question in zip(letters, questions, strict=True):
            assert letter in "ABC"[: len(question.options)]
    # Spot checks that the key points at the right option, not just a valid one.
    attention = quiz["1706.03762"].questions
    assert attention[2].options["ABC".index(key["1706.03762"][2])] == "28.4"
    ddpm = quiz["2006.11239"].questions
    assert ddpm[2].options["ABC".index(key["2006.11239"][2])] == "3.17"
    answers = [letter for letters in key.values() for letter in letters]
    assert {answers.count(letter) for letter in "ABC"} != {len(answers)}  # not all one letter


def test_answer_key_is_accepted_by_the_answer_key_loader() -> None:
    from flashcards.answers import load_answer_key

    definition = load_deck_definition(BUNDLED)
    assert definition.answers is not None
    key = load_answer_key(definition.answers)
    assert len(key.answers) == 6
    assert all(len(v) == 3 for v in key.answers.values())


def test_bundled_definition_keys_are_all_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deck definitions and topics", 1)[1]
    for key in DECK_KEYS:
        assert f"`{key}`" in section, key


def test_paths_in_messages_are_as_given(decks: Path) -> None:
    path = Path(os.path.join(".", "decks", "x.yaml"))
    write(decks, "name: AI\nsources: [nope/*]\n")
    with pytest.raises(ConfigError) as caught:
        load_deck_definition(path)
    assert caught.value.path == str(path)
