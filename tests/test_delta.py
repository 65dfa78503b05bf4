"""`--delta`: a package of only the notes new or changed in a build. Proven with the real Anki
backend: a collection that imports full day 1 + delta day 2 ends exactly like one that imports
full day 1 + full day 2 (notes, fields, tags, cards, scheduling and review history)."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from anki.collection import Collection
from anki_helpers import fresh_collection, import_package, note_by_guid, review_card
from click.testing import CliRunner
from test_daily_workflow import ADAM, BATCHNORM, DROPOUT, FIXED, RESNET, TYPO, _digest_text

from flashcards.cli import main
from flashcards.identity import deck_namespace, note_guid

MON, TUE = date(2025, 3, 3), date(2025, 3, 4)


def _build(digests: Path, out: Path, *extra: str) -> str:
    args = ["build", "-i", str(digests), "-o", str(out / "full.apkg"), *extra]
    result = CliRunner().invoke(main, [*args, "--delta", str(out / "delta.apkg")])
    assert result.exit_code == 0, result.output
    return result.stdout


def _collection_state(col: Collection) -> dict[str, Any]:
    """Everything an import may change, in a form two collections can be compared by."""
    notes = col.db.all("select id, guid, mid, mod, tags, flds from notes order by id")
    cards = col.db.all(
        "select c.id, c.nid, c.ord, d.name, c.type, c.queue, c.due, c.ivl, c.factor, c.reps, "
        "c.lapses, c.left, c.odue from cards c join decks d on d.id = c.did order by c.id"
    )
    revlog = col.db.all(
        "select id, cid, ease, ivl, lastIvl, factor, time, type from revlog order by id"
    )
    # A fresh collection's stock note types get clock-based ids: compare ours.
    notetypes = sorted((m["id"], m["name"]) for m in col.models.all() if "Paper" in m["name"])
    return {"notes": notes, "cards": cards, "revlog": revlog, "notetypes": notetypes}


def test_full_then_delta_equals_full_then_full(tmp_path: Path) -> None:
    digests = tmp_path / "digests"
    digests.mkdir()
    (digests / "mon.txt").write_text(_digest_text(MON, RESNET, BATCHNORM), encoding="utf-8")
    out = tmp_path / "out"
    day1 = _build(digests, out)
    assert "(new and changed only) → " in day1
    full1 = (out / "full.apkg").read_bytes()
    # On the first build every note is new: the delta holds the whole deck.
    assert "7 notes, 13 cards" in day1.splitlines()[1]  # no Topic cards: a new deck

    # Day 1 in one collection, studied, then copied: both start from the same history (two
    # separate reviews would differ by their clock second).
    namespace = deck_namespace("AI Papers", "full.apkg")  # what a first build records
    reviewed = note_guid(RESNET.key, "mcq", 1, namespace=namespace)
    with fresh_collection(tmp_path) as col:
        (out / "day1.apkg").write_bytes(full1)
        assert import_package(col, out / "day1.apkg").new == 7
        review_card(col, note_by_guid(col, reviewed).card_ids()[0])
        day1_folder = Path(col.path).parent
    copy_folder = tmp_path / "copy"
    shutil.copytree(day1_folder, copy_folder)
    a = Collection(str(day1_folder / "collection.anki2"))
    b = Collection(str(copy_folder / "collection.anki2"))
    try:
        # Day 2: a new digest with two new papers and Monday's ResNet again (a new date tag),
        # and a typo fixed in Monday's digest.
        monday = (digests / "mon.txt").read_text(encoding="utf-8")
        (digests / "mon.txt").write_text(monday.replace(TYPO, FIXED), encoding="utf-8")
        (digests / "tue.txt").write_text(_digest_text(TUE, ADAM, DROPOUT, RESNET), encoding="utf-8")
        day2 = _build(digests, out)
        assert "; 6 new, 5 changed, 2 unchanged" in day2.splitlines()[0]
        assert "→ " + str(out / "delta.apkg") + ": 11 notes" in day2.splitlines()[1]

        full_result = import_package(a, out / "full.apkg")
        delta_result = import_package(b, out / "delta.apkg")
        assert (full_result.new, full_result.updated, full_result.duplicate) == (6, 5, 2)
        assert (delta_result.new, delta_result.updated, delta_result.duplicate) == (6, 5, 0)
        state_a, state_b = _collection_state(a), _collection_state(b)
        assert state_a == state_b
        assert len(state_a["notes"]) == 13 and len(state_a["revlog"]) == 1
        fixed = note_guid(BATCHNORM.key, "mcq", 1, namespace=namespace)
        assert FIXED in note_by_guid(b, fixed)["Prompt"]

        # Day 3, nothing new: the delta is an empty package, and importing it changes nothing.
        day3 = _build(digests, out)
        assert "0 notes, 0 cards" in day3.splitlines()[1]
        with zipfile.ZipFile(out / "delta.apkg") as archive:
            assert "collection.anki2" in archive.namelist()
        empty = import_package(b, out / "delta.apkg")
        assert (empty.new, empty.updated, empty.duplicate) == (0, 0, 0)
        assert _collection_state(b) == state_b
    finally:
        a.close()
        b.close()


def test_delta_is_only_for_ad_hoc_builds_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", "--delta", str(tmp_path / "d.apkg")])
    assert result.exit_code == 2
    assert "--delta: only for ad-hoc builds" in result.output
    digests = tmp_path / "digests"
    digests.mkdir()
    (digests / "mon.txt").write_text(_digest_text(MON, RESNET), encoding="utf-8")
    same = CliRunner().invoke(
        main,
        ["build", "-i", str(digests), "-o", str(tmp_path / "d.apkg"), "--delta", "d.txt"],
    )
    assert same.exit_code == 2 and "must be an .apkg file" in same.stderr


def test_a_deck_definition_writes_its_delta(tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    (decks / "digests").mkdir(parents=True)
    (decks / "digests" / "mon.txt").write_text(_digest_text(MON, RESNET), encoding="utf-8")
    definition = decks / "daily.yaml"
    definition.write_text(
        "name: Daily\nsources: [digests/*.txt]\noutput: ../dist/daily.apkg\n"
        "delta: ../dist/daily-new.apkg\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["build", str(definition), "--json"])
    assert result.exit_code == 0, result.output
    assert '"delta": {\n' in result.stdout
    assert (tmp_path / "dist" / "daily-new.apkg").is_file()
    with fresh_collection(tmp_path) as col:
        assert import_package(col, tmp_path / "dist" / "daily-new.apkg").new == 4


def test_a_delta_that_is_a_deck_output_is_an_error(tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    (decks / "digests").mkdir(parents=True)
    (decks / "digests" / "mon.txt").write_text(_digest_text(MON, RESNET), encoding="utf-8")
    definition = decks / "daily.yaml"
    definition.write_text(
        "name: Daily\nsources: [digests/*.txt]\noutput: out.apkg\ndelta: out.apkg\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["build", str(definition)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {definition}: delta: '{decks / 'out.apkg'}' is also the output of {definition}\n"
    )
    assert not (decks / "out.apkg").exists()
