"""What a build keeps of its notes so that the next build can splice into them.

A daily archive grows by one file at a time. When a build's input files are exactly the last
build's plus some added ones, and nothing else that shapes a note changed (code version, answer
key, taxonomy, deck settings: the build's *context*, and the state file the last build wrote),
only the papers of the added files can differ from the last build: a paper is merged across
digests by its key (`PaperGroup.key`), its answers are shared between digests by paper key
(`share_known_answers`), the answer key is read by paper key, and topics, notes and GUIDs are
made from one merged paper. So the build re-reads only the files holding those papers, makes
their notes, and takes every other paper's notes as the last build made them (`flashcards.splice`
does the splice; anything else falls back to a full build).

What the last build leaves for this, in the build cache (JSON entries, see
`flashcards.buildcache`): a *manifest* (the hash of the state it wrote, its context, every input
file as path and sha256 in reading order, and per file the digests it held: source, format,
date, parse warnings and paper keys) and, per paper key, its notes (`NoteGroup`). A note read
back is trusted only once its content hash equals the one the state file records for its GUID:
the state is committed, the cache may come from anyone, and a note's HTML is never re-escaped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flashcards.anki.notes import (
    NoteGroup,
    NoteSpec,
    card_count,
    deck_for,
    hash_content,
    json_string,
)
from flashcards.anki.notetypes import MCQ_FIELDS, SUMMARY_FIELDS
from flashcards.anki.state import NoteState
from flashcards.buildcache import BuildCache, expect_int, expect_str
from flashcards.model import Digest, Format

_FORMATS: dict[Any, Format] = {f: f for f in ("quiz-text", "quiz-html", "markdown-table")}
_FIELD_COUNTS = {"mcq": len(MCQ_FIELDS), "summary": len(SUMMARY_FIELDS)}
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class DigestEntry:
    """What the last build read from one digest, without its papers' text."""

    source: str
    format: Format
    date: date
    warnings: tuple[str, ...]
    keys: tuple[str, ...]  # its papers' keys, in order

    def stub(self) -> Digest:
        """The digest without papers: its date and warnings count, its papers come spliced."""
        return Digest(self.source, self.format, self.date, (), self.warnings)


@dataclass(frozen=True)
class LastBuild:
    """The manifest of the last build (see the module docstring), checked."""

    files: tuple[tuple[str, str], ...]  # every input file (path, sha256), in reading order
    digests: Mapping[str, tuple[DigestEntry, ...]]  # by path; files that gave none are absent

    @property
    def keys(self) -> set[str]:
        """Every paper key of the last build."""
        return {key for entries in self.digests.values() for e in entries for key in e.keys}


def digest_entries(digests: Iterable[Digest]) -> list[DigestEntry]:
    return [
        DigestEntry(d.source, d.format, d.date, d.warnings, tuple(p.key for p in d.papers))
        for d in digests
    ]


def manifest_data(
    state_sha: str,
    context: str,
    files: Sequence[tuple[str, str]],
    digests: Mapping[str, Sequence[DigestEntry]],
) -> dict[str, Any]:
    return {
        "state": state_sha,
        "context": context,
        "files": [list(f) for f in files],
        "digests": {
            path: [
                [e.source, e.format, e.date.isoformat(), list(e.warnings), list(e.keys)]
                for e in entries
            ]
            for path, entries in digests.items()
        },
    }


def last_build(cache: BuildCache, context: str, state_sha: str | None) -> LastBuild | None:
    """The last build's manifest, when it was built in `context` and wrote the state whose
    hash is `state_sha` (the state on disk now); else None."""
    data = cache.notes_manifest()
    if (
        state_sha is None
        or not isinstance(data, dict)
        or data.get("state") != state_sha
        or data.get("context") != context
    ):
        return None
    try:
        files = tuple((expect_str(path), expect_str(sha)) for path, sha in data["files"])
        digests = {
            expect_str(path): tuple(_entry(item) for item in entries)
            for path, entries in data["digests"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return None  # a damaged or forged manifest: build in full
    return LastBuild(files, digests)


def _entry(item: Any) -> DigestEntry:
    source, format_, day, warnings, keys = item
    return DigestEntry(
        expect_str(source),
        _FORMATS[format_],  # KeyError for another
        date.fromisoformat(day),
        tuple(expect_str(w) for w in warnings),
        tuple(expect_str(k) for k in keys),
    )


def group_text(group: NoteGroup) -> str:
    """A paper's notes as one JSON array, one element a line: the paper's order with each
    note's GUID and number, then each note's `content_json` (kind, fields, tags) as it is
    hashed (JSON escapes line breaks). Their deck and card counts follow from the rest."""
    lines = [_head_json(group)]
    for spec in group.specs:
        line = spec.content_json()
        if "content_hash" not in spec.__dict__:  # the cached property, not encoded again
            spec.__dict__["content_hash"] = hash_content(line)
        lines.append(line)
    return "[" + ",\n".join(lines) + "]"


def _head_json(group: NoteGroup) -> str:
    """`json.dumps({"order": [...], "notes": [[guid, number], ...]}, ensure_ascii=False)` of
    `group` (a test checks it), written out: json's encoder is set up anew for every call."""
    first, source, index = group.order
    notes = ", ".join(f"[{json_string(s.guid)}, {int(s.order[3])}]" for s in group.specs)
    return (
        f'{{"order": [{json_string(first)}, {json_string(source)}, {int(index)}], '
        f'"notes": [{notes}]}}'
    )


def group_from_text(
    key: str, text: str, *, deck: str, subdecks: str | None, state: Mapping[str, NoteState]
) -> NoteGroup:
    """`group_text` read back, the notes in `deck` (and its `subdecks`); raises ValueError,
    TypeError or KeyError for text of another shape, or for a note whose line does not hash
    to what `state` (the state the last build wrote) records for its GUID: a forged line
    cannot have that hash. A note the last build flagged (`NoteState.was`) was hashed after
    flagging: the caller checks it once flagged again."""
    head, *contents = json.loads(text)
    digests = line_hashes(text)
    first, source, index = head["order"]
    order = (expect_str(first), expect_str(source), expect_int(index))
    note_deck = deck_for(deck, date.fromisoformat(order[0]), subdecks)
    notes = head["notes"]
    if not len(notes) == len(digests) == len(contents):
        raise ValueError("not the notes of one paper")
    specs = []
    for (guid, number), digest, (kind, fields, tags) in zip(notes, digests, contents, strict=True):
        before = state.get(guid)
        if before is None:
            raise ValueError("a note the last build did not make")
        if digest != before.hash:
            if before.was is None:
                raise ValueError("a note the last build did not make")
            # Checked once flagged; until then it must at least be of the right shape.
            if (
                kind not in _FIELD_COUNTS
                or not isinstance(fields, list)
                or len(fields) != _FIELD_COUNTS[kind]
                or not isinstance(tags, list)
                or not all(type(v) is str for v in (*fields, *tags))
            ):
                raise ValueError("not a note of ours")
        fields = tuple(fields)
        # (Positional: a large archive has tens of thousands of notes to read back.)
        spec = NoteSpec(
            guid, kind, fields, tuple(tags), note_deck, (*order, expect_int(number)),
            card_count(kind, fields),
        )  # fmt: skip
        # The cached property's value, from the stored line rather than encoding it again.
        spec.__dict__["content_hash"] = digest
        specs.append(spec)
    return NoteGroup(key, order, tuple(specs))


def line_hashes(text: str) -> list[str]:
    """`hash_content` of each note's line of a `group_text` (the lines after the head), as
    `[hash_content(line) for line in text[1:-1].split(",\\n")[1:]]` gives them for a text
    that begins and ends with an ASCII character (as JSON does), each hashed where it lies in
    the text's UTF-8 bytes rather than copied out twice (as a line, then its bytes): a large
    archive's cache holds tens of megabytes of them."""
    data = text.encode("utf-8")
    view = memoryview(data)
    end = len(data) - 1  # (a line never holds ",\\n": JSON escapes line breaks in strings)
    digests = []
    position = data.find(b",\n", 1, end)  # the end of the head
    while position >= 0:
        start = position + 2
        position = data.find(b",\n", start, end)
        digests.append(_sha256(view[start : end if position < 0 else position]).hexdigest())
    return digests
