"""Step 4a, the build state: per note GUID, the hash of its content, when that content last
changed, and its note ID. Committed next to the deck definition, it makes builds deterministic:

- unchanged content keeps its recorded modification time, so an identical rebuild gives a
  byte-identical package and Anki sees "duplicate" (nothing to update);
- changed content gets `max(now, previous + 1)`, strictly later than before even when two builds
  fall within one second, so Anki's "update if newer" rule delivers the change;
- a new note gets the start of its first digest's day (UTC) and a note ID within that day derived
  from its GUID (`identity.note_id_candidate`), so a first build never depends on the clock: the
  same input gives the same package on any machine, state file or not.

Notes that disappear from the input stay in the state: an import never deletes notes from a
collection anyway, and if the paper comes back its note keeps its ID and, if unchanged, its time.

The file is JSON with sorted keys and one note per line, so diffs stay readable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from flashcards import identity
from flashcards.anki.notes import NoteSpec
from flashcards.atomicfile import replace_files
from flashcards.errors import ConfigError

STATE_VERSION = 1

NoteStatus = Literal["new", "changed", "unchanged"]


@dataclass(frozen=True)
class NoteState:
    hash: str  # NoteSpec.content_hash
    mtime: int  # seconds since the epoch: when the content last changed
    id: int  # Anki note ID (milliseconds since the epoch at first build)


@dataclass(frozen=True)
class DeckState:
    notes: Mapping[str, NoteState] = field(default_factory=dict)  # by GUID


@dataclass(frozen=True)
class StampedNote:
    spec: NoteSpec
    mtime: int
    note_id: int
    status: NoteStatus


def load_state(path: str | Path) -> DeckState:
    """The state in `path`; a missing file is an empty state (first build)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DeckState()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the build state: {exc}", path) from None
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
            raise ValueError(f"expected an object with version {STATE_VERSION}")
        notes = {}
        for guid, entry in document["notes"].items():
            values = (entry["hash"], entry["mtime"], entry["id"])
            if not (isinstance(values[0], str) and all(type(v) is int for v in values[1:])):
                raise ValueError(f"note {guid}: expected hash (text), mtime and id (integers)")
            notes[guid] = NoteState(*values)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"build state is damaged ({exc}); restore it from version control, or delete it "
            "to start afresh (every note then counts as new and updates once in Anki)",
            path,
        ) from None
    return DeckState(notes)


def state_bytes(state: DeckState) -> bytes:
    lines = [
        f"  {json.dumps(guid)}: "
        + json.dumps({"hash": s.hash, "id": s.id, "mtime": s.mtime}, sort_keys=True)
        for guid, s in sorted(state.notes.items())
    ]
    body = ",\n".join(lines)
    text = f'{{\n"notes": {{\n{body}\n}},\n"version": {STATE_VERSION}\n}}\n'
    return text.encode("utf-8")


def save_state(state: DeckState, path: str | Path) -> bool:
    """Write atomically; returns False (and leaves the file alone) when nothing changed."""
    return bool(replace_files([(Path(path), state_bytes(state))]))


def stamp_notes(
    specs: Sequence[NoteSpec], previous: DeckState, now: int
) -> tuple[list[StampedNote], DeckState]:
    """Give each note its modification time and ID from `previous`; return the new state.

    `now` (whole seconds since the epoch) only dates changed notes; pass it explicitly in tests.
    """
    notes = dict(previous.notes)
    taken = {s.id for s in notes.values()}
    stamped: list[StampedNote] = []
    for spec in specs:
        before = notes.get(spec.guid)
        content = spec.content_hash
        if before is None:
            note_id = identity.note_id_candidate(spec.guid, spec.first_date)
            while note_id in taken:
                note_id += identity.NOTE_ID_STEP
            taken.add(note_id)
            entry = NoteState(content, identity.day_start(spec.first_date), note_id)
            status: NoteStatus = "new"
        elif before.hash == content:
            entry = before
            status = "unchanged"
        else:
            entry = NoteState(content, max(now, before.mtime + 1), before.id)
            status = "changed"
        notes[spec.guid] = entry
        stamped.append(StampedNote(spec, entry.mtime, entry.id, status))
    return stamped, DeckState(notes)
