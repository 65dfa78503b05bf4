"""Each deck has its own identity namespace (issue 9, item 1): two decks sharing papers import
into one collection without blank cards or lost notes, the namespace is kept in the state so a
renamed deck keeps its GUIDs, and decks built before namespaces keep theirs."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest
from anki_helpers import (
    blank_cards,
    fresh_collection,
    guids,
    import_package,
    note_by_guid,
    rendered_cards,
    review_card,
    schedule,
)
from click.testing import CliRunner
from digest_writers import write_markdown, write_quiz_text
from helpers import NOW

from flashcards import identity
from flashcards.anki.notes import LEGACY_SUMMARY_FIELD_KEYS
from flashcards.anki.state import load_state
from flashcards.build import build, build_definitions
from flashcards.cli import main
from flashcards.errors import ConfigError
from flashcards.model import Paper, Question
from flashcards.plan import plan_adhoc

DAY = date(2025, 3, 4)

_SHARED = [("2503.00101", "Sparse Lanterns for Long Context"), ("2503.00102", "Tiny Routers")]


def _quiz_paper(arxiv_id: str, title: str) -> Paper:
    fields = {
        "topic": f"QUIZ-TOPIC {title} studies routing.",
        "problem": f"QUIZ-PROBLEM {title} is slow.",
        "methods": f"QUIZ-METHODS {title} prunes heads.",
    }
    question = Question(1, f"What does {title} prune?", ("Heads", "Layers"), answer=0)
    return Paper(title=title, arxiv_id=arxiv_id, fields=fields, questions=(question,))


def _table_paper(arxiv_id: str, title: str) -> Paper:
    return Paper(title=title, arxiv_id=arxiv_id, fields={"summary": f"TABLE-SUMMARY of {title}."})


def _write_digests(root: Path) -> tuple[Path, Path]:
    """A quiz digest and a markdown archive that share two papers (and each have one more)."""
    quiz, table = root / "quiz", root / "table"
    quiz.mkdir(parents=True)
    table.mkdir(parents=True)
    quiz_papers = [_quiz_paper(*p) for p in [*_SHARED, ("2503.00103", "Only In The Quiz")]]
    (quiz / "day.txt").write_text(
        write_quiz_text(DAY, [(p, f"https://arxiv.org/abs/{p.arxiv_id}") for p in quiz_papers]),
        encoding="utf-8",
    )
    table_papers = [_table_paper(*p) for p in [*_SHARED, ("2503.00104", "Only In The Table")]]
    (table / "day.md").write_text(write_markdown([(DAY, table_papers)]), encoding="utf-8")
    return quiz, table


def _two_decks(root: Path, identity_setting: str | None = None):
    quiz, table = _write_digests(root)
    out = root / "out"
    return (
        build(plan_adhoc([quiz], out / "quiz.apkg", identity_setting=identity_setting), now=NOW),
        build(
            plan_adhoc([table], out / "archive.apkg", identity_setting=identity_setting), now=NOW
        ),
    )


@pytest.mark.parametrize("order", ["quiz first", "table first"])
def test_two_decks_sharing_papers_import_into_one_collection(tmp_path: Path, order: str) -> None:
    quiz, table = _two_decks(tmp_path)
    first, second = (quiz, table) if order == "quiz first" else (table, quiz)
    with fresh_collection(tmp_path) as col:
        for report in (first, second):
            result = import_package(col, report.output)
            assert (result.new, result.updated, result.duplicate, result.conflicting) == (
                report.notes,
                0,
                0,
                0,
            )
        assert len(guids(col)) == quiz.notes + table.notes  # no note lost
        assert len(col.find_cards("")) == quiz.cards + table.cards
        assert blank_cards(col) == []
        answers = " ".join(card.answer for card in rendered_cards(col))
        for title in ("Sparse Lanterns for Long Context", "Tiny Routers"):
            assert f"TABLE-SUMMARY of {title}." in answers
            assert f"QUIZ-PROBLEM {title} is slow." in answers
    # Note ids differ too (derived from the namespaced GUIDs).
    quiz_ids = {n["id"] for n in json.loads(quiz.state.read_text())["notes"].values()}
    table_ids = {n["id"] for n in json.loads(table.state.read_text())["notes"].values()}
    assert not quiz_ids & table_ids


def test_without_namespaces_the_same_decks_collide(tmp_path: Path) -> None:
    """The failure the namespaces prevent (both decks pinned to the legacy GUIDs): the test above
    would catch a return of it."""
    quiz, table = _two_decks(tmp_path, identity_setting="legacy")
    with fresh_collection(tmp_path) as col:
        import_package(col, quiz.output)
        result = import_package(col, table.output)
        assert result.new < table.notes
        assert len(guids(col)) < quiz.notes + table.notes


def test_first_build_records_a_namespace_that_a_rename_keeps(tmp_path: Path) -> None:
    quiz, _table = _write_digests(tmp_path)
    out = tmp_path / "out" / "papers.apkg"
    first = build(plan_adhoc([quiz], out, deck="Papers"), now=NOW)
    state = load_state(first.state)
    assert state.namespace == identity.deck_namespace("Papers", "papers.apkg")
    package = out.read_bytes()
    key = "arxiv:2503.00101"
    assert identity.note_guid(key, "summary", namespace=state.namespace) in state.notes
    assert identity.note_guid(key, "summary") not in state.notes  # not the legacy GUID

    renamed = build(plan_adhoc([quiz], out, deck="Renamed Papers"), now=NOW)
    assert (renamed.new, renamed.unchanged) == (0, renamed.notes)
    assert load_state(first.state) == state
    assert out.read_bytes() != package  # the new deck name is in it


def test_first_build_is_the_same_on_any_machine(tmp_path: Path) -> None:
    packages = []
    for place in ("a", "b/c"):
        quiz, _table = _write_digests(tmp_path / place)
        packages.append(build(plan_adhoc([quiz], tmp_path / place / "d.apkg"), now=NOW))
    assert packages[0].output.read_bytes() == packages[1].output.read_bytes()


def _as_version_1(state_path: Path) -> None:
    """The state file exactly as versions before namespaces wrote it."""
    document = json.loads(state_path.read_text(encoding="utf-8"))
    assert document.pop("namespace") == ""
    lines = [
        f"  {json.dumps(guid)}: {json.dumps(entry, sort_keys=True)}"
        for guid, entry in sorted(document["notes"].items())
    ]
    body = ",\n".join(lines)
    state_path.write_text(f'{{\n"notes": {{\n{body}\n}},\n"version": 1\n}}\n', encoding="utf-8")


def test_a_deck_built_before_namespaces_keeps_its_guids(tmp_path: Path) -> None:
    quiz, _table = _write_digests(tmp_path)
    out = tmp_path / "out" / "old.apkg"
    # As those versions built it: with the legacy GUIDs and every summary field as a card.
    plan = plan_adhoc([quiz], out, identity_setting="legacy")
    old = build(dataclasses.replace(plan, fields=LEGACY_SUMMARY_FIELD_KEYS), now=NOW)
    _as_version_1(old.state)
    old_package = out.read_bytes()
    assert identity.note_guid("arxiv:2503.00101", "mcq", 1) in load_state(old.state).notes

    with fresh_collection(tmp_path) as col:
        import_package(col, out)
        card_id = note_by_guid(col, identity.note_guid("arxiv:2503.00101", "mcq", 1)).card_ids()[0]
        reviewed = schedule(review_card(col, card_id))

        upgraded = build(plan_adhoc([quiz], out), now=NOW + 86_400)  # no identity given
        assert (upgraded.new, upgraded.changed, upgraded.written) == (0, 0, False)
        assert out.read_bytes() == old_package
        assert load_state(old.state).namespace == identity.LEGACY_NAMESPACE
        assert json.loads(old.state.read_text())["version"] == 2

        again = import_package(col, out)
        assert (again.new, again.updated, again.duplicate) == (0, 0, old.notes)
        assert schedule(col.get_card(card_id)) == reviewed


def test_a_lost_state_is_pinned_again_with_identity(tmp_path: Path) -> None:
    quiz, _table = _write_digests(tmp_path)
    out = tmp_path / "out" / "d.apkg"
    first = build(plan_adhoc([quiz], out, deck="First Name"), now=NOW)
    namespace = load_state(first.state).namespace
    assert namespace is not None
    package = out.read_bytes()
    first.state.unlink()
    # Renamed since, so the namespace a new first build would derive is another one.
    build(plan_adhoc([quiz], out, deck="First Name", identity_setting=namespace), now=NOW)
    assert out.read_bytes() == package

    with pytest.raises(ConfigError) as error:
        build(plan_adhoc([quiz], out, identity_setting="something else"), now=NOW)
    assert "differs from the one this deck's notes were built with" in str(error.value)
    assert out.read_bytes() == package


def test_identity_in_a_deck_definition(tmp_path: Path) -> None:
    _write_digests(tmp_path)
    deck = tmp_path / "d.yaml"
    deck.write_text("name: D\nsources: [quiz/*.txt]\noutput: d.apkg\nidentity: legacy\n")
    build_definitions([deck], now=NOW)
    state = load_state(tmp_path / "d.state.json")
    assert state.namespace == identity.LEGACY_NAMESPACE
    assert identity.note_guid("arxiv:2503.00102", "summary") in state.notes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "d.yaml:3: identity: expected the namespace recorded in the deck's state"),
        ('""', "d.yaml:3: identity: expected the namespace recorded in the deck's state"),
        ('"a\\tb"', "d.yaml:3: identity: a namespace cannot contain control characters"),
    ],
)
def test_bad_identity_setting(tmp_path: Path, value: str, message: str) -> None:
    _write_digests(tmp_path)
    deck = tmp_path / "d.yaml"
    deck.write_text(f"name: D\nsources: [quiz/*.txt]\nidentity: {value}\n")
    result = CliRunner().invoke(main, ["build", str(deck)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {tmp_path}/{message}")
    assert not (tmp_path / "d.state.json").exists()


def test_identity_on_the_command_line(tmp_path: Path) -> None:
    quiz, _table = _write_digests(tmp_path)
    out = tmp_path / "x.apkg"
    runner = CliRunner()
    result = runner.invoke(main, ["build", "-i", str(quiz), "-o", str(out), "--identity", "NS"])
    assert result.exit_code == 0, result.output
    assert load_state(tmp_path / "x.state.json").namespace == "NS"
    result = runner.invoke(main, ["build", "-i", str(quiz), "-o", str(out), "--identity", " "])
    assert (result.exit_code, result.output.splitlines()[0][:18]) == (2, "error: --identity:")
