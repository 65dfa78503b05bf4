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

The state also records the deck's identity namespace (`identity.deck_namespace`), chosen at the
first build, so that renaming the deck later changes no GUID. Version 1 files had none: a version
1 state that holds notes belongs to a deck first built before namespaces, and keeps the legacy
namespace (the GUIDs its users imported).

For an MCQ note the state also keeps the answer it gave (`answer`, the Answer field, and
`source`, where it came from) and, once that answer has changed between builds, what it was
(`was`): the note then carries the tag `answer::changed` and says so in its `Extra` field, in
every later build, so a learner who memorised the old answer notices. States without these keys
(older files) keep working: their notes are simply not compared the first time.

The state also records which summary fields become cards when the deck definition does not say
(`default_fields`): a new deck starts with `DEFAULT_SUMMARY_FIELD_KEYS` and keeps it; a state
without that record belongs to a deck first built before it, which keeps all of them
(`LEGACY_SUMMARY_FIELD_KEYS`), so that no card it already imported turns blank. Only a default
other than the legacy one is written, so those states stay byte-identical.

The file is JSON with sorted keys and one note per line, so diffs stay readable.
"""

from __future__ import annotations

import dataclasses
import difflib
import html
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flashcards import identity
from flashcards.anki.notes import (
    DEFAULT_SUMMARY_FIELD_KEYS,
    LEGACY_SUMMARY_FIELD_KEYS,
    SUMMARY_FIELD_KEYS,
    NoteSpec,
    escape_text,
)
from flashcards.anki.notetypes import MCQ_FIELDS
from flashcards.atomicfile import replace_files
from flashcards.errors import ConfigError
from flashcards.gcpause import collection_paused
from flashcards.inputfile import NotARegularFile, open_regular_file
from flashcards.model import option_index

STATE_VERSION = 2
_READABLE_VERSIONS = (1, 2)

#: Note ids and modification times must stay below this: every JSON reader keeps them exact, and
#: Anki's 64-bit columns hold them even as milliseconds.
MAX_STATE_INT = 2**53

NoteStatus = Literal["new", "changed", "unchanged"]


@dataclass(frozen=True)
class NoteState:
    hash: str  # NoteSpec.content_hash
    mtime: int  # seconds since the epoch: when the content last changed
    id: int  # Anki note ID (milliseconds since the epoch at first build)
    answer: str | None = None  # MCQ notes: the Answer field last built ("" when unknown)
    source: str | None = None  # MCQ notes: where that answer came from, as the card said it
    was: str | None = None  # MCQ notes whose answer changed: the Extra field saying what it was


@dataclass(frozen=True)
class DeckState:
    notes: Mapping[str, NoteState] = field(default_factory=dict)  # by GUID
    #: The deck's identity namespace; None when none is recorded yet (no state, or an empty one).
    namespace: str | None = None
    #: What `load_state` repaired in the file (the build reports them as warnings).
    warnings: tuple[str, ...] = ()
    #: The summary fields that become cards when the deck definition has no `fields:`: a new
    #: deck's default, or the one its state recorded (the legacy one when it recorded none).
    default_fields: tuple[str, ...] = DEFAULT_SUMMARY_FIELD_KEYS


@dataclass(frozen=True)
class StampedNote:
    spec: NoteSpec
    mtime: int
    note_id: int
    status: NoteStatus


def load_state(path: str | Path) -> DeckState:
    """The state in `path`; a missing file is an empty state (first build, a new deck).

    A damaged file is a ConfigError; two notes sharing one id (a merge of two branches that each
    added a note) are repaired: the later GUID gets a free id, with a warning.
    """
    path = Path(path)
    try:
        # Only a regular file: a state linked to /dev/zero or a FIFO would be read forever.
        with open_regular_file(path) as file:
            text = file.read().decode("utf-8")
    except FileNotFoundError:
        return DeckState()
    except NotARegularFile as exc:
        raise ConfigError(f"cannot read the build state: {exc}", path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the build state: {exc.strerror or exc}", path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the build state: {exc}", path) from None
    # Tens of thousands of objects and no cycle: the collector is not run over them.
    with collection_paused():
        notes, namespace, default_fields, listed_twice = _read_state(text, path)
    notes, warnings = _separate_shared_ids(notes, path)
    warnings = (
        tuple(
            f"{path}: note {guid} is listed twice (a bad merge?); its entry with the later time is "
            "kept"
            for guid in sorted(set(listed_twice))
        )
        + warnings
    )
    return DeckState(notes, namespace, warnings, default_fields)


def _read_state(
    text: str, path: Path
) -> tuple[dict[str, NoteState], str | None, tuple[str, ...], list[str]]:
    """The notes, namespace and default fields of a state file's text, checked, and the GUIDs
    of notes it lists twice."""
    listed_twice: list[str] = []
    try:
        document = json.loads(text)
        # Each note has one "hash" key: more of them than notes means a note listed twice (a
        # merge conflict resolved by keeping both lines), which `json.loads` reads as the last.
        notes_read = document.get("notes") if isinstance(document, dict) else None
        if isinstance(notes_read, dict) and text.count('"hash"') > len(notes_read):
            document = json.loads(text, object_pairs_hook=_latest_of_twice(listed_twice))
        if not isinstance(document, dict) or document.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"expected an object with version {STATE_VERSION}")
        notes = {}
        # One note a line of the file: checked without a generator per note (a large deck's
        # state has tens of thousands).
        for guid, entry in document["notes"].items():
            content, mtime, note_id = entry["hash"], entry["mtime"], entry["id"]
            if not (isinstance(content, str) and type(mtime) is int and type(note_id) is int):
                raise ValueError(f"note {guid}: expected hash (text), mtime and id (integers)")
            if not (0 <= mtime < MAX_STATE_INT and 0 < note_id < MAX_STATE_INT):
                raise ValueError(f"note {guid}: mtime or id out of range (0 to 2**53)")
            answer, source, was = entry.get("answer"), entry.get("source"), entry.get("was")
            if not (
                (answer is None or isinstance(answer, str))
                and (source is None or isinstance(source, str))
                and (was is None or isinstance(was, str))
            ):
                raise ValueError(f"note {guid}: expected answer, source and was as text")
            notes[guid] = NoteState(content, mtime, note_id, answer, source, was)
        namespace = _namespace_of(document, bool(notes))
        default_fields = _default_fields_of(document)
    except RecursionError:
        raise ConfigError(
            "build state is damaged (nested too deeply); restore it from version control", path
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"build state is damaged ({exc}); restore it from version control, or delete it "
            "and pin the deck's identity to the namespace it recorded (README: keep the state "
            "file), so that Anki does not add the deck a second time",
            path,
        ) from None
    return notes, namespace, default_fields, listed_twice


def _latest_of_twice(listed_twice: list[str]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON `object_pairs_hook` keeping, of a note listed twice, the entry with the later
    modification time (the package must not carry a time older than one already imported), and
    noting its GUID in `listed_twice`. Any other key given twice keeps its last value, as usual."""

    def mtime(value: Any) -> int | None:
        if isinstance(value, dict) and type(value.get("mtime")) is int:
            return int(value["mtime"])
        return None

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                old, new = mtime(found[key]), mtime(value)
                if old is not None and new is not None:
                    listed_twice.append(key)
                    if old > new:
                        continue
            found[key] = value
        return found

    return hook


def _default_fields_of(document: dict[str, object]) -> tuple[str, ...]:
    if "default_fields" not in document:
        return LEGACY_SUMMARY_FIELD_KEYS  # a deck first built before the record
    value = document["default_fields"]
    if not isinstance(value, list) or not all(k in SUMMARY_FIELD_KEYS for k in value):
        raise ValueError(f"default_fields: expected a list of {', '.join(SUMMARY_FIELD_KEYS)}")
    return tuple(k for k in SUMMARY_FIELD_KEYS if k in value)


def _namespace_of(document: dict[str, object], has_notes: bool) -> str | None:
    if document["version"] == 1:
        # Written before namespaces: a deck with notes was built with the legacy GUIDs.
        return identity.LEGACY_NAMESPACE if has_notes else None
    namespace = document["namespace"]
    if not isinstance(namespace, str):
        raise ValueError("namespace: expected text")
    return namespace


def _separate_shared_ids(
    notes: dict[str, NoteState], path: Path
) -> tuple[dict[str, NoteState], tuple[str, ...]]:
    """Two notes of one package must not share an id (the package could not be written). Anki
    matches imported notes by GUID, not id, so moving the later one to a free id is harmless."""
    owner: dict[int, str] = {}
    warnings: list[str] = []
    taken = {s.id for s in notes.values()}
    for guid in sorted(notes):
        entry = notes[guid]
        if entry.id not in owner:
            owner[entry.id] = guid
            continue
        new_id = entry.id + identity.NOTE_ID_STEP
        while new_id in taken:
            new_id += identity.NOTE_ID_STEP
        taken.add(new_id)
        owner[new_id] = guid
        notes[guid] = dataclasses.replace(entry, id=new_id)
        warnings.append(
            f"{path}: notes {owner[entry.id]} and {guid} had the same id {entry.id} (a bad "
            f"merge?); {guid} now has id {new_id} (Anki matches notes by GUID: nothing is lost)"
        )
    return notes, tuple(warnings)


# The strings of a JSON encoder with and without `ensure_ascii` (what `json.dumps` uses).
_ascii_string = json.encoder.encode_basestring_ascii
_string = json.encoder.encode_basestring


def _entry_json(s: NoteState) -> str:
    """The JSON object of a note's state, `json.dumps(..., sort_keys=True, ensure_ascii=False)`
    of its fields but those that are None, written out (a state has one line per note)."""
    text = f'"hash": {_string(s.hash)}, "id": {int(s.id)}, "mtime": {int(s.mtime)}'
    if s.answer is not None:
        text = f'"answer": {_string(s.answer)}, {text}'
    if s.source is not None:
        text = f'{text}, "source": {_string(s.source)}'
    if s.was is not None:
        text = f'{text}, "was": {_string(s.was)}'
    return "{" + text + "}"


def state_bytes(state: DeckState) -> bytes:
    notes = state.notes
    # The GUIDs sorted alone: a tuple's comparison would cost twice as much.
    lines = [f"  {_ascii_string(guid)}: {_entry_json(notes[guid])}" for guid in sorted(notes)]
    body = ",\n".join(lines)
    namespace = json.dumps(
        identity.LEGACY_NAMESPACE if state.namespace is None else state.namespace,
        ensure_ascii=False,
    )
    defaults = ""
    if state.default_fields != LEGACY_SUMMARY_FIELD_KEYS:  # absent means legacy: see above
        defaults = f'"default_fields": {json.dumps(list(state.default_fields))},\n'
    text = (
        f'{{\n{defaults}"namespace": {namespace},\n"notes": {{\n{body}\n}},\n'
        f'"version": {STATE_VERSION}\n}}\n'
    )
    return text.encode("utf-8")


def save_state(state: DeckState, path: str | Path) -> bool:
    """Write atomically; returns False (and leaves the file alone) when nothing changed."""
    return bool(replace_files([(Path(path), state_bytes(state))]))


#: The tag of an MCQ note whose answer changed between builds.
CHANGED_TAG = "answer::changed"

_MARKUP = re.compile(r"<[^>]*>")


_ANSWER = MCQ_FIELDS.index("Answer")
_ANSWER_LETTER = MCQ_FIELDS.index("AnswerLetter")
_ANSWER_SOURCE = MCQ_FIELDS.index("AnswerSource")
_OPTIONS = MCQ_FIELDS.index("Options")
_EXTRA = MCQ_FIELDS.index("Extra")

# One option of the Options field (`notes._options_html`): its digest index and its HTML. The
# option's own text is escaped, so it holds no "</li>" of its own.
_OPTION_ITEM = re.compile(r'<li data-o="(\d+)">(.*?)</li>', re.DOTALL)
_NON_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")
#: How alike (difflib's ratio, 0 to 1) an option's old and new text must be to count as the same
#: option edited: a typo or two in a sentence-long option stays well above it ("Tranformer" →
#: "Transformer" in a 35-character option: 0.99; in a lone word: 0.95), another option rarely
#: comes near ("A recurrent decoder" against "A convolutional stem": 0.26; "RNN", "CNN": 0.67).
_SAME_OPTION_RATIO = 0.85


def _plain(field_html: str) -> str:
    """What an Answer or option's HTML says, for comparing: without markup, entities, case,
    punctuation and spacing ("A  Transformer-encoder" and "a transformer encoder" alike)."""
    text = html.unescape(_MARKUP.sub("", field_html))
    words = _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(words.split())


def _same_option(before: str, spec: NoteSpec) -> bool:
    """Whether the answer `before` (an Answer field an earlier build recorded) is the option
    `spec` gives as right, perhaps edited since: a typo fixed in the right option is no
    correction a learner must notice, another option is.

    The same text (`_plain`) is the same option wherever it now stands. An old text that is now
    another option's is that option. An old text that is no option any more was edited: it is
    the option it is most like, provided the two say the same numbers and differ by no more than
    a few typos (`_SAME_OPTION_RATIO`); a rewritten option counts as another.
    """
    old, new = _plain(before), _plain(spec.fields[_ANSWER])
    if old == new:
        return True
    right = option_index(spec.fields[_ANSWER_LETTER])
    options = {int(i): _plain(text) for i, text in _OPTION_ITEM.findall(spec.fields[_OPTIONS])}
    if right is None or old in options.values():
        return False
    if _DIGITS.findall(old) != _DIGITS.findall(new):
        return False
    likeness = {i: difflib.SequenceMatcher(None, old, text).ratio() for i, text in options.items()}
    closest = max(likeness, key=lambda i: (likeness[i], i == right))
    return closest == right and likeness[right] >= _SAME_OPTION_RATIO


def _changed_html(answer: str, source: str) -> str:
    """The Extra field of a note whose answer changed: what it was (both already escaped)."""
    said = f" ({source})" if source else ""
    return (
        '<div class="fc-changed"><span class="fc-label">Answer changed</span>'
        f"{escape_text('An earlier version of this card gave:')} {answer}{said}</div>"
    )


def flag_changed_answers(specs: Sequence[NoteSpec], previous: DeckState) -> list[NoteSpec]:
    """`specs` with every MCQ note whose answer differs from the one `previous` recorded (or
    that changed in an earlier build) tagged `answer::changed`, its Extra saying what it was.

    Only a different option counts (`_same_option`): the same option confirmed by a key, or with
    a typo fixed, is no correction, and a question that had no answer before had nothing to
    unlearn.
    """
    flagged = []
    for spec in specs:
        before = previous.notes.get(spec.guid)
        if spec.kind != "mcq" or before is None:
            flagged.append(spec)
            continue
        answer = spec.fields[_ANSWER]
        was = before.was
        if (
            before.answer
            and answer
            and before.answer != answer
            and not _same_option(before.answer, spec)
        ):
            was = _changed_html(before.answer, before.source or "")
        if was:
            fields = list(spec.fields)
            fields[_EXTRA] = was
            tags = tuple(sorted({*spec.tags, CHANGED_TAG}))
            spec = dataclasses.replace(spec, fields=tuple(fields), tags=tags)
        flagged.append(spec)
    return flagged


def _with_answer(entry: NoteState, spec: NoteSpec) -> NoteState:
    """`entry` recording the answer of `spec` (an MCQ note), for the next build to compare."""
    if spec.kind != "mcq":
        return entry
    answer = spec.fields[_ANSWER]
    source = _MARKUP.sub("", spec.fields[_ANSWER_SOURCE])
    was = spec.fields[_EXTRA] if CHANGED_TAG in spec.tags else None
    if (entry.answer, entry.source, entry.was) == (answer, source, was):
        return entry  # recorded already (every note built since answers were recorded)
    return NoteState(entry.hash, entry.mtime, entry.id, answer, source, was)


def stamp_notes(
    specs: Sequence[NoteSpec],
    previous: DeckState,
    now: int,
    *,
    namespace: str = identity.LEGACY_NAMESPACE,
    ids: Mapping[str, int] | None = None,
) -> tuple[list[StampedNote], DeckState]:
    """Give each note its modification time and ID from `previous`; return the new state, which
    records `namespace` (the one `specs` were built in). A new note's id is the first free one
    from its `identity.note_id_candidate`, which `ids` may give by GUID (computed already).

    `now` (whole seconds since the epoch) only dates changed notes; pass it explicitly in tests.
    The deck's default fields are kept as `previous` recorded them.
    """
    with collection_paused():  # a note and its state made per note, no cycle
        return _stamp(specs, previous, now, namespace, ids)


def _stamp(
    specs: Sequence[NoteSpec],
    previous: DeckState,
    now: int,
    namespace: str,
    ids: Mapping[str, int] | None,
) -> tuple[list[StampedNote], DeckState]:
    notes = dict(previous.notes)
    taken = {s.id for s in notes.values()}
    stamped: list[StampedNote] = []
    for spec in specs:
        before = notes.get(spec.guid)
        content = spec.content_hash
        if before is None:
            day = spec.first_date
            note_id = ids.get(spec.guid, 0) if ids else 0
            if not note_id:
                note_id = identity.note_id_candidate(spec.guid, day)
            while note_id in taken:
                note_id += identity.NOTE_ID_STEP
            taken.add(note_id)
            entry = NoteState(content, identity.day_start(day), note_id)
            status: NoteStatus = "new"
        elif before.hash == content:
            entry = before
            status = "unchanged"
        else:
            entry = NoteState(content, max(now, before.mtime + 1), before.id)
            status = "changed"
        # The answer is recorded even when unchanged, so that an older state learns it.
        entry = _with_answer(entry, spec)
        notes[spec.guid] = entry
        stamped.append(StampedNote(spec, entry.mtime, entry.id, status))
    return stamped, DeckState(notes, namespace, default_fields=previous.default_fields)
