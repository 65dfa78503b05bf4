"""Every identifier Anki uses to match our objects across builds, derived in one place.

Anki matches an imported note to an existing one by GUID only, a note type by its model ID (and the
names of its fields and templates), and a deck by its name. If any of these changed between two
builds of the same deck, the user's collection would get duplicates and lose review history. So:

- Model IDs are fixed constants, chosen once at random. Never change them.
- Field and template IDs are derived from the model ID and the field's or template's *original*
  name. If a field is ever renamed in the UI sense (its label), keep passing the original name here.
- Deck IDs are derived from the deck name (Anki matches decks by name anyway; a stable ID keeps the
  package bytes stable).
- Note GUIDs are derived from the deck's namespace, the paper's identity (`Paper.key`: its arXiv
  id, else its normalised title), the card role ("mcq" / "summary") and, for questions, the
  question number. They are never derived from content, so a fixed typo updates the existing note
  instead of creating a new one. The namespace keeps two decks that share a paper apart: Anki
  would otherwise take the second deck's note for the first's and leave its extra cards blank. A
  deck's namespace is chosen at its first build (`deck_namespace`) and kept in its state file;
  decks first built before namespaces existed keep `LEGACY_NAMESPACE`, whose GUIDs are the ones
  their users imported.
- `MODEL_MOD` is the modification time written on both note types. Anki only updates a local note
  type from a package whose note type is newer, so bump it when the templates or CSS change (a new
  value must be larger than the old one). Field and template *names* must not change at all: Anki
  treats a different set of names as a different note type.

All hashes are SHA-256 over a namespaced, '|'-joined string, so they do not depend on any library's
hashing helper and stay the same across Python and genanki versions.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, date, datetime

#: Namespace mixed into every derived identifier, so ours never collide with another tool's.
NAMESPACE = "flashcards/v1"

MCQ_MODEL_ID = 1655292312
SUMMARY_MODEL_ID = 1282165969

#: Modification time of both note types (seconds since the epoch); see the module docstring.
MODEL_MOD = 1_796_500_000

#: Note ids are multiples of this step: a note's cards take the ids just after it (summary notes
#: have at most six cards), so no two notes' id ranges overlap.
NOTE_ID_STEP = 16

_MS_PER_DAY = 86_400_000

_GUID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join((NAMESPACE, *parts)).encode("utf-8")).digest()


def _positive_int(raw: bytes, bits: int) -> int:
    return int.from_bytes(raw[:8], "big") >> (64 - bits)


def deck_id(name: str) -> int:
    """A deck ID in [2**30, 2**31) (the range genanki recommends), from the full deck name."""
    return (1 << 30) + _positive_int(_digest("deck", name), 30)


def field_id(model_id: int, original_name: str) -> int:
    """ID of a note type's field; 52 bits so that every JSON reader keeps it exact."""
    return _positive_int(_digest("field", str(model_id), original_name), 52) or 1


def template_id(model_id: int, original_name: str) -> int:
    return _positive_int(_digest("template", str(model_id), original_name), 52) or 1


@functools.lru_cache(maxsize=4096)  # a deck's notes share few days; datetime is slow
def day_start(day: date) -> int:
    """Seconds since the epoch at 00:00 UTC of `day`: the modification time of a new note.

    Deriving it from the paper's first digest date instead of the clock makes a first build of the
    same input byte-identical wherever and whenever it runs."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


#: The namespace of decks first built before namespaces existed: GUIDs exactly as they were then.
LEGACY_NAMESPACE = ""


def deck_namespace(deck_name: str, output_name: str) -> str:
    """The namespace a deck gets at its first build: readable, and the same on every machine (the
    package's file name, not its path, tells apart two decks given the same Anki deck name)."""
    return f"{deck_name} ({output_name})"


#: How a deck definition (`identity: legacy`) or `--identity legacy` names `LEGACY_NAMESPACE`.
LEGACY_SETTING = "legacy"


def namespace_from_setting(value: str) -> str:
    """The namespace a user's `identity` setting names; ValueError for one that names none."""
    value = value.strip()
    if not value:
        raise ValueError("expected the namespace recorded in the deck's state, or legacy")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("a namespace cannot contain control characters")
    return LEGACY_NAMESPACE if value == LEGACY_SETTING else value


def note_id_candidate(guid: str, day: date) -> int:
    """Preferred Anki note id of a new note: within its first digest's day (Anki shows the id as
    the date the note was added), at a GUID-derived slot. Callers step by `NOTE_ID_STEP` past
    ids already taken; Anki itself gives an imported note a fresh id if its id is in use."""
    slots = _MS_PER_DAY // NOTE_ID_STEP
    offset = _positive_int(_digest("note-id", guid), 32) % slots
    return day_start(day) * 1000 + offset * NOTE_ID_STEP


@functools.lru_cache(maxsize=64)
def _namespace_hash(namespace: str) -> str:
    return hashlib.sha256(namespace.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=64)
def _note_prefix(namespace: str) -> str:
    """What `_digest` joins in front of a note's parts in `namespace`."""
    if namespace != LEGACY_NAMESPACE:
        # Hashed so that no character of a user-chosen namespace (such as '|') can make two
        # different (namespace, key) pairs join to the same string.
        return f"{NAMESPACE}|deck-note|{_namespace_hash(namespace)}|"
    return f"{NAMESPACE}|note|"


#: Every two base-62 digits, as `note_guid` writes them (the lower digit first), by their value.
_GUID_PAIRS = tuple(low + high for high in _GUID_ALPHABET for low in _GUID_ALPHABET)
_BASE = len(_GUID_ALPHABET)
_PAIR = _BASE**2
_HALF = _BASE**6
_WHOLE = _BASE**12


def note_guid(
    paper_key: str, role: str, number: int | None = None, *, namespace: str = LEGACY_NAMESPACE
) -> str:
    """The GUID of the note for `role` ("mcq" needs the question number) of the paper `paper_key`
    in the deck whose namespace is `namespace`.

    12 base-62 characters (71 bits): collisions are out of reach for any real collection.
    """
    # `_digest` of (namespace hash,) key, role (and number), with the joins written out.
    joined = f"{paper_key}|{role}" if number is None else f"{paper_key}|{role}|{number}"
    raw = hashlib.sha256((_note_prefix(namespace) + joined).encode("utf-8")).digest()
    # The 12 lowest base-62 digits, lowest first, two at a time (a test checks it against one
    # at a time).
    high, low = divmod(int.from_bytes(raw[:12], "big") % _WHOLE, _HALF)
    rest, first = divmod(low, _PAIR)
    third, second = divmod(rest, _PAIR)
    rest, fourth = divmod(high, _PAIR)
    sixth, fifth = divmod(rest, _PAIR)
    pairs = _GUID_PAIRS
    return pairs[first] + pairs[second] + pairs[third] + pairs[fourth] + pairs[fifth] + pairs[sixth]
