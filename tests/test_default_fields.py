"""Which summary fields become cards when a deck definition does not say (issue 13): a new deck
leaves out the give-away Topic card; a deck first built before that keeps its Topic cards; an
explicit `fields:` always wins. Checked through the real Anki backend."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

from anki.collection import Collection
from anki_helpers import blank_cards, fresh_collection, import_package, rendered_cards
from helpers import NOW, ROOT

from flashcards import build as builder
from flashcards.anki.notes import DEFAULT_SUMMARY_FIELD_KEYS
from flashcards.anki.notetypes import SUMMARY_MODEL_NAME
from flashcards.anki.state import load_state
from flashcards.deckdef import load_deck_definition
from flashcards.plan import plan_adhoc, plan_for_definition
from flashcards.preview import preview_plan

SAMPLES = ROOT / "decks" / "samples"
OLD = Path(__file__).parent / "fixtures" / "reimport"
#: The digest the old fixture deck was built from (its three papers have all five quiz fields).
OLD_DIGEST = SAMPLES / "quiz-2025-01-15.txt"


def _definition(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "papers.yaml"
    path.write_text(
        f"name: Papers\nsources: ['{SAMPLES}/*.txt']\noutput: papers.apkg\ncards: [summary]\n"
        + extra,
        encoding="utf-8",
    )
    return path


def _summary_templates(col: Collection) -> Counter[str]:
    return Counter(c.template for c in rendered_cards(col) if c.notetype == SUMMARY_MODEL_NAME)


def test_a_new_deck_has_no_topic_cards_and_keeps_its_default(tmp_path: Path) -> None:
    definition = _definition(tmp_path / "decks")
    (report,) = builder.build_definitions([definition], now=NOW)
    state = definition.with_name("papers.state.json")
    recorded = json.loads(state.read_text(encoding="utf-8"))["default_fields"]
    assert recorded == list(DEFAULT_SUMMARY_FIELD_KEYS) and "topic" not in recorded
    plan = plan_for_definition(load_deck_definition(definition))
    assert preview_plan(plan).cards == report.cards  # the preview shows the same cards

    with fresh_collection(tmp_path) as col:
        assert import_package(col, report.output).new == report.notes
        templates = _summary_templates(col)
        assert "Topic" not in templates and templates["Problem"] == report.notes
        assert sum(templates.values()) == report.cards
        assert blank_cards(col) == []

    # The next build keeps the deck's default: nothing changes, the state stays byte-identical.
    before = state.read_bytes()
    (again,) = builder.build_definitions([definition], now=NOW + 86_400, cache=False)
    assert (again.new, again.changed, again.written) == (0, 0, False)
    assert state.read_bytes() == before


def test_an_explicit_fields_setting_wins(tmp_path: Path) -> None:
    definition = _definition(tmp_path / "decks", "fields: [topic, results]\n")
    (report,) = builder.build_definitions([definition], now=NOW)
    with fresh_collection(tmp_path) as col:
        import_package(col, report.output)
        assert set(_summary_templates(col)) == {"Topic", "Results"}
    # The new deck still records the default it started with, for when `fields:` goes.
    state = load_state(definition.with_name("papers.state.json"))
    assert state.default_fields == DEFAULT_SUMMARY_FIELD_KEYS


def test_a_deck_built_before_keeps_its_topic_cards(tmp_path: Path) -> None:
    """`shuffled.apkg` and its state were built by an earlier version (see
    test_reimport_upgrade.py): all six fields were cards and the state records no default."""
    state = tmp_path / "old.state.json"
    shutil.copyfile(OLD / "shuffled.state.json", state)
    assert "default_fields" not in json.loads(state.read_text(encoding="utf-8"))
    with fresh_collection(tmp_path) as col:
        import_package(col, OLD / "shuffled.apkg")
        topics_before = _summary_templates(col)["Topic"]
        assert topics_before == 3
        cards_before = col.card_count()

        # The same deck's summaries rebuilt today from its state, with no `fields` given.
        plan = plan_adhoc([OLD_DIGEST], tmp_path / "old.apkg", deck="AI Papers")
        plan = dataclasses.replace(plan, state=state, cards=("summary",))
        report = builder.build(plan, now=NOW)
        assert (report.new, report.changed, report.unchanged) == (0, 0, 3)
        again = import_package(col, report.output)
        assert (again.new, again.updated, again.duplicate, again.conflicting) == (0, 0, 3, 0)
        assert _summary_templates(col)["Topic"] == topics_before
        assert col.card_count() == cards_before and blank_cards(col) == []
    # Its state still records no default (nothing to write): older decks stay as they were.
    assert "default_fields" not in json.loads(state.read_text(encoding="utf-8"))


def test_the_bundled_deck_keeps_its_topic_cards_in_build_and_preview(tmp_path: Path) -> None:
    definition = load_deck_definition(ROOT / "decks" / "ai-papers.yaml")
    assert definition.fields is None  # the default applies
    state = tmp_path / "state.json"
    shutil.copyfile(definition.state, state)
    plan = dataclasses.replace(
        plan_for_definition(definition), output=tmp_path / "deck.apkg", state=state
    )
    report = builder.build(plan, now=NOW)
    topics = sum("topic" in p.fields for d in builder.read_inputs(plan).digests for p in d.papers)
    assert topics > 0
    preview = preview_plan(plan_for_definition(definition))
    assert preview.cards == report.cards
    assert preview.html.count('data-template="Topic"') == topics
