"""The build state (modification times, note ids) and the deterministic package."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from build_samples import digest, package_db, question, quiz_paper, table_paper
from helpers import NOW
from hypothesis import given
from hypothesis import strategies as st

from flashcards import identity
from flashcards.anki.apkgzip import ZIP_DATE
from flashcards.anki.export import build_package
from flashcards.anki.notes import (
    DEFAULT_SUMMARY_FIELD_KEYS,
    LEGACY_SUMMARY_FIELD_KEYS,
    NoteSpec,
    build_notes,
)
from flashcards.anki.notetypes import MCQ_FIELDS
from flashcards.anki.state import (
    CHANGED_TAG,
    DeckState,
    NoteState,
    flag_changed_answers,
    load_state,
    save_state,
    stamp_notes,
    state_bytes,
)
from flashcards.errors import ConfigError

DAY = date(2025, 4, 28)


def _specs() -> list[NoteSpec]:
    return build_notes([digest(DAY, quiz_paper(), table_paper())], deck="AI Papers")


def _retitled(specs: list[NoteSpec], index: int, title: str = "Fixed") -> list[NoteSpec]:
    changed = dataclasses.replace(specs[index], fields=(title, *specs[index].fields[1:]))
    return [changed if i == index else s for i, s in enumerate(specs)]


# --- stamping ----------------------------------------------------------------------------------


def test_first_build_depends_on_the_input_only_not_on_the_clock() -> None:
    stamped, state = stamp_notes(_specs(), DeckState(), NOW)
    assert [s.status for s in stamped] == ["new"] * 5
    day_start = 1_745_798_400  # 2025-04-28T00:00:00Z, the digest's day
    assert {s.mtime for s in stamped} == {day_start}
    ids = [s.note_id for s in stamped]
    assert len(set(ids)) == 5
    assert all(day_start * 1000 <= i < (day_start + 86_400) * 1000 for i in ids)
    assert all(i % identity.NOTE_ID_STEP == 0 for i in ids)
    assert set(state.notes) == {s.spec.guid for s in stamped}
    later, _ = stamp_notes(_specs(), DeckState(), NOW + 12_345)
    assert [(s.mtime, s.note_id) for s in later] == [(s.mtime, s.note_id) for s in stamped]


def test_new_note_ids_step_past_ids_already_taken() -> None:
    specs = _specs()
    wanted = identity.note_id_candidate(specs[0].guid, DAY)
    squatter = NoteState("other", NOW, wanted)
    stamped, _ = stamp_notes(specs[:1], DeckState({"someone-else": squatter}), NOW)
    assert stamped[0].note_id == wanted + identity.NOTE_ID_STEP


def test_unchanged_notes_keep_their_time_and_changed_ones_move_forward() -> None:
    specs = _specs()
    _, first = stamp_notes(specs, DeckState(), NOW)
    # Same second as the first build: the changed note must still get a later time.
    stamped, second = stamp_notes(_retitled(specs, 1), first, NOW)
    statuses = [s.status for s in stamped]
    assert statuses == ["unchanged", "changed", "unchanged", "unchanged", "unchanged"]
    first_time = first.notes[specs[0].guid].mtime
    assert [s.mtime for s in stamped] == [first_time, NOW, first_time, first_time, first_time]
    assert [s.note_id for s in stamped] == [first.notes[s.spec.guid].id for s in stamped]
    # Changed again within the same second: still strictly later.
    same, _ = stamp_notes(_retitled(specs, 1, "Fixed twice"), second, NOW)
    assert same[1].mtime == NOW + 1
    # A later build with yet another change: now wins over previous + 1.
    again, _ = stamp_notes(_retitled(_retitled(specs, 1), 2), second, NOW + 100)
    assert [s.mtime for s in again] == [first_time, NOW, NOW + 100, first_time, first_time]
    # A clock that went backwards still moves a changed note forward.
    back, _ = stamp_notes(specs, second, NOW - 500)
    assert back[1].mtime == NOW + 1


def test_vanished_notes_stay_in_state_and_new_ids_never_reuse_old_ones() -> None:
    specs = _specs()
    _, first = stamp_notes(specs, DeckState(), NOW)
    _, second = stamp_notes(specs[:2], first, NOW - 10)  # clock behind the old ids
    assert set(second.notes) == set(first.notes)
    extra = build_notes([digest(DAY, table_paper("2503.00003", "Third"))], deck="AI Papers")
    new, _ = stamp_notes(extra, second, NOW - 10)
    assert new[0].status == "new"
    assert new[0].note_id not in {s.id for s in first.notes.values()}


# --- state file --------------------------------------------------------------------------------


def test_state_file_round_trips_and_is_sorted(tmp_path: Path) -> None:
    _, state = stamp_notes(_specs(), DeckState(), NOW)
    path = tmp_path / "deck.state.json"
    assert save_state(state, path) is True
    assert load_state(path) == state
    document = json.loads(path.read_text())
    assert list(document) == ["default_fields", "namespace", "notes", "version"]
    assert document["default_fields"] == list(DEFAULT_SUMMARY_FIELD_KEYS)
    assert list(document["notes"]) == sorted(state.notes)
    assert path.read_bytes() == state_bytes(state)


def test_unchanged_state_is_not_rewritten(tmp_path: Path) -> None:
    _, state = stamp_notes(_specs(), DeckState(), NOW)
    path = tmp_path / "deck.state.json"
    save_state(state, path)
    stamp = path.stat().st_mtime_ns
    assert save_state(load_state(path), path) is False
    assert path.stat().st_mtime_ns == stamp


def test_missing_state_is_empty(tmp_path: Path) -> None:
    assert load_state(tmp_path / "nothing.json") == DeckState()


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '{"version": 2, "notes": {}}',  # version 2 records the namespace
        '{"version": 2, "namespace": 7, "notes": {}}',
        '{"version": 3, "namespace": "", "notes": {}}',
        '{"version": 1}',
        '{"version": 1, "notes": {"g": {"hash": "h", "mtime": "soon", "id": 1}}}',
        '{"version": 1, "notes": {"g": {"hash": "h", "mtime": 1}}}',
        '{"version": 2, "namespace": "", "notes": {}, "default_fields": "problem"}',
        '{"version": 2, "namespace": "", "notes": {}, "default_fields": ["problem", "title"]}',
    ],
)
def test_damaged_state_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deck.state.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_state(path)
    assert info.value.path == str(path)
    assert "build state is damaged" in info.value.message


@pytest.mark.parametrize(
    ("text", "namespace"),
    [
        ('{"version": 1, "notes": {"g": {"hash": "h", "mtime": 1, "id": 2}}}', ""),
        ('{"version": 1, "notes": {}}', None),  # nothing built yet: a first build picks one
        ('{"version": 2, "namespace": "D (d.apkg)", "notes": {}}', "D (d.apkg)"),
        ('{"version": 2, "namespace": "", "notes": {}}', ""),
    ],
)
def test_namespace_of_each_state_version(tmp_path: Path, text: str, namespace: str | None) -> None:
    path = tmp_path / "deck.state.json"
    path.write_text(text)
    assert load_state(path).namespace == namespace


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        # Written before the record: the deck keeps every summary card it had.
        ('{"version": 1, "notes": {}}', LEGACY_SUMMARY_FIELD_KEYS),
        ('{"version": 2, "namespace": "", "notes": {}}', LEGACY_SUMMARY_FIELD_KEYS),
        (
            '{"version": 2, "namespace": "", "notes": {}, "default_fields": ["results", "topic"]}',
            ("topic", "results"),  # in card order
        ),
        ('{"version": 2, "namespace": "", "notes": {}, "default_fields": []}', ()),
    ],
)
def test_default_fields_of_each_state(tmp_path: Path, text: str, fields: tuple[str, ...]) -> None:
    path = tmp_path / "deck.state.json"
    path.write_text(text)
    state = load_state(path)
    assert state.default_fields == fields
    _, again = stamp_notes(_specs(), state, NOW)
    assert again.default_fields == fields  # kept from build to build
    assert load_state(tmp_path / "new.state.json").default_fields == DEFAULT_SUMMARY_FIELD_KEYS
    assert "topic" not in DEFAULT_SUMMARY_FIELD_KEYS and "topic" in LEGACY_SUMMARY_FIELD_KEYS


@pytest.mark.parametrize(
    "entry",
    [
        '{"hash": "h", "mtime": 9223372036854775808, "id": 2}',
        '{"hash": "h", "mtime": -1, "id": 2}',
        '{"hash": "h", "mtime": 1, "id": 9223372036854775807}',
        '{"hash": "h", "mtime": 1, "id": 0}',
        '{"hash": "h", "mtime": 1, "id": -5}',
        '{"hash": "h", "mtime": 1, "id": 1e400}',
    ],
)
def test_state_numbers_out_of_range_are_a_config_error(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "deck.state.json"
    path.write_text(f'{{"version": 2, "namespace": "", "notes": {{"g": {entry}}}}}')
    with pytest.raises(ConfigError, match="build state is damaged"):
        load_state(path)


def test_deeply_nested_state_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deck.state.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_state(path)
    path.write_text('{"version": 2, "namespace": "", "notes": ' + "{" * 100_000)
    with pytest.raises(ConfigError, match="build state is damaged"):
        load_state(path)


def test_notes_sharing_an_id_are_given_a_free_one(tmp_path: Path) -> None:
    """After a merge of two branches that each added a note: the package must still be writable
    (one id per note). Anki matches notes by GUID, so a new id changes nothing in a collection."""
    specs = _specs()
    _, state = stamp_notes(specs, DeckState(), NOW)
    guids = sorted(state.notes)
    notes = dict(state.notes)
    taken = notes[guids[0]].id
    notes[guids[3]] = dataclasses.replace(notes[guids[3]], id=taken)
    path = tmp_path / "deck.state.json"
    path.write_bytes(state_bytes(DeckState(notes, "")))

    loaded = load_state(path)
    ids = [s.id for s in loaded.notes.values()]
    assert len(set(ids)) == len(ids)
    assert loaded.notes[guids[0]].id == taken  # the first keeps its id, the later one moves
    assert loaded.notes[guids[3]].id != taken
    assert len(loaded.warnings) == 1
    assert f"{guids[0]} and {guids[3]} had the same id {taken}" in loaded.warnings[0]
    stamped, _ = stamp_notes(specs, loaded, NOW)
    assert build_package(stamped).notes == len(specs)  # writable: no sqlite IntegrityError


def test_note_state_is_plain_data() -> None:
    state = DeckState({"g": NoteState("h", 1, 2)}, "Ré (d.apkg)")
    expected = [
        "{",
        '"default_fields": ["previous_research", "problem", "methods", "results", "summary"],',
        '"namespace": "Ré (d.apkg)",',
        '"notes": {',
        '  "g": {"hash": "h", "id": 2, "mtime": 1}',
        "},",
        '"version": 2',
        "}",
        "",
    ]
    assert state_bytes(state) == "\n".join(expected).encode()
    # A deck first built before the record keeps its state's bytes: legacy is not written.
    legacy = dataclasses.replace(state, default_fields=LEGACY_SUMMARY_FIELD_KEYS)
    assert state_bytes(legacy) == "\n".join([expected[0], *expected[2:]]).encode()


# --- corrections flagged -------------------------------------------------------------------------


def _answered(answer: int, source: str) -> list[NoteSpec]:
    q = question(1, answer=answer, answer_source=source, confidence=0.9, unsure=False)
    return build_notes([digest(DAY, quiz_paper(questions=[q]))], deck="D", kinds=["mcq"])


def _build(specs: list[NoteSpec], state: DeckState, now: int) -> tuple[NoteSpec, DeckState, str]:
    flagged = flag_changed_answers(specs, state)
    stamped, new_state = stamp_notes(flagged, state, now)
    return stamped[0].spec, new_state, stamped[0].status


def test_a_changed_answer_is_tagged_and_says_what_it_was(tmp_path: Path) -> None:
    extra = MCQ_FIELDS.index("Extra")
    first, state, _ = _build(_answered(0, "inferred"), DeckState(), NOW)
    assert CHANGED_TAG not in first.tags and first.fields[extra] == ""
    # The same answer confirmed by a key is no correction.
    confirmed, state, status = _build(_answered(0, "key"), state, NOW + 10)
    assert status == "changed" and CHANGED_TAG not in confirmed.tags
    # A fixed key gives another option: flagged, and the back says what it was and where from.
    fixed, state, status = _build(_answered(1, "key"), state, NOW + 20)
    assert status == "changed" and CHANGED_TAG in fixed.tags
    assert "Answer changed" in fixed.fields[extra]
    assert "A sparse router (From your answer key)" in fixed.fields[extra]
    # The flag survives the next builds (through the state file), without changing the note.
    save_state(state, tmp_path / "s.json")
    again, _, status = _build(_answered(1, "key"), load_state(tmp_path / "s.json"), NOW + 30)
    assert status == "unchanged" and again == fixed


def test_an_old_state_without_answers_keeps_working(tmp_path: Path) -> None:
    specs = _answered(0, "inferred")
    _, state, _ = _build(specs, DeckState(), NOW)
    # What a state written before answers were recorded holds.
    old = DeckState(
        {g: NoteState(s.hash, s.mtime, s.id) for g, s in state.notes.items()}, state.namespace
    )
    (tmp_path / "old.json").write_bytes(state_bytes(old))
    loaded = load_state(tmp_path / "old.json")
    spec, new_state, status = _build(_answered(1, "key"), loaded, NOW + 10)
    assert status == "changed" and CHANGED_TAG not in spec.tags  # nothing to compare yet
    assert next(iter(new_state.notes.values())).answer == "A dense adapter"


# --- package -----------------------------------------------------------------------------------


def test_package_is_deterministic_compressed_and_stamped_per_note() -> None:
    specs = _specs()
    stamped, state = stamp_notes(specs, DeckState(), NOW)
    first = build_package(stamped)
    assert build_package(stamped).data == first.data
    assert (first.notes, first.cards) == (5, 5 + 1 + 3)  # two summaries' cards, 3 questions

    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["collection.anki2", "media"]
        assert all(i.date_time == ZIP_DATE for i in infos)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert archive.read("media") == b"{}"
        assert infos[0].compress_size * 4 < infos[0].file_size

    later, _ = stamp_notes(_retitled(specs, 3), state, NOW + 60)
    db = package_db(build_package(later).data)
    rows = db.execute("select guid, mod, id from notes order by id").fetchall()
    assert rows == sorted(((s.spec.guid, s.mtime, s.note_id) for s in later), key=lambda r: r[2])
    day_start = identity.day_start(DAY)
    assert {guid: mod for guid, mod, _id in rows} == {
        s.spec.guid: NOW + 60 if i == 3 else day_start for i, s in enumerate(later)
    }
    models = json.loads(db.execute("select models from col").fetchone()[0])
    assert {m["mod"] for m in models.values()} == {identity.MODEL_MOD}


def test_new_cards_are_due_in_digest_then_paper_then_question_order() -> None:
    later = digest(date(2025, 5, 1), quiz_paper("2505.00001", questions=[question(2), question(1)]))
    earlier = digest(DAY, table_paper(), quiz_paper("2504.00009", questions=[question(1)]))
    specs = build_notes([later, earlier], deck="D")
    stamped, _ = stamp_notes(specs, DeckState(), NOW)
    db = package_db(build_package(stamped).data)
    rows = db.execute(
        "select n.guid, c.due, c.ord from cards c join notes n on n.id = c.nid"
        " order by c.due, c.ord"
    ).fetchall()
    order = [(guid, due) for guid, due, _ord in rows]
    expected_guids = [
        identity.note_guid("arxiv:2502.00002", "summary"),
        *[identity.note_guid("arxiv:2504.00009", "summary")] * 5,
        identity.note_guid("arxiv:2504.00009", "mcq", 1),
        *[identity.note_guid("arxiv:2505.00001", "summary")] * 5,
        identity.note_guid("arxiv:2505.00001", "mcq", 1),
        identity.note_guid("arxiv:2505.00001", "mcq", 2),
    ]
    assert [g for g, _ in order] == expected_guids
    dues = [d for _, d in order]
    assert dues == sorted(dues) and dues[0] == 1 and dues[-1] == 6


_TEXT = st.one_of(st.none(), st.text(max_size=20))


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.builds(
            NoteState,
            st.text(max_size=8),
            st.integers(0, 2**53 - 1),
            st.integers(1, 2**53 - 1),
            _TEXT,
            _TEXT,
            _TEXT,
        ),
        max_size=5,
    )
)
def test_state_lines_are_what_json_dumps_gives(notes: dict[str, NoteState]) -> None:
    """Each note's line is written out by hand (it is most of a build's state cost): the
    same text as `json.dumps` with sorted keys."""
    lines = []
    for guid, entry in sorted(notes.items()):
        fields = {k: v for k, v in dataclasses.asdict(entry).items() if v is not None}
        lines.append(
            f"  {json.dumps(guid)}: " + json.dumps(fields, sort_keys=True, ensure_ascii=False)
        )
    expected = '{\n"namespace": "n",\n"notes": {\n' + ",\n".join(lines) + '\n},\n"version": 2\n}\n'
    state = DeckState(notes, "n", default_fields=LEGACY_SUMMARY_FIELD_KEYS)
    assert state_bytes(state) == expected.encode()


def test_a_note_listed_twice_keeps_its_latest_entry(tmp_path: Path) -> None:
    """After a merge whose conflict was resolved by keeping both lines of a note: JSON readers
    silently keep the last one, which may be the older. The package must carry a modification
    time at least as new as any build's of that note (else Anki keeps the other build's copy
    and skips every later fix that does not change the note again), and say so."""
    specs = _specs()
    _, state = stamp_notes(specs, DeckState(), NOW)
    path = tmp_path / "deck.state.json"
    path.write_bytes(state_bytes(state))
    guid = sorted(state.notes)[1]
    entry = state.notes[guid]
    newer = dataclasses.replace(entry, hash="0" * 64, mtime=entry.mtime + 86_400)
    lines = path.read_text().splitlines(keepends=True)
    (line,) = [n for n, text in enumerate(lines) if text.startswith(f'  "{guid}"')]
    newer_line = (
        lines[line].replace(entry.hash, newer.hash).replace(str(entry.mtime), str(newer.mtime))
    )
    # The newer build's line first, the older one's after it (as a merge tool may put them).
    path.write_text("".join([*lines[:line], newer_line, *lines[line:]]))

    loaded = load_state(path)
    assert loaded.notes[guid] == newer
    assert len(loaded.notes) == len(state.notes)
    assert [w for w in loaded.warnings if guid in w and "twice" in w]
