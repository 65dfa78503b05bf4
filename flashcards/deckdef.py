"""Deck definitions: the `decks/*.yaml` files that say what each deck is built from.

A deck definition is validated entirely on load, before anything is built, so a mistake in it
stops the build with `file:line: key: what is wrong` and nothing is written.

Path rules (documented in the README):
- every path *written in the file* (`sources`, `output`, `state`, `answers`, `taxonomy`) is
  relative to the file's own directory, so a definition means the same from any working directory;
- when `output` is omitted the deck goes to `dist/<file stem>.apkg` under the current directory
  (like a build tool's default output folder);
- when `state` is omitted it lives next to the definition as `<file stem>.state.json`, meant to
  be committed with it: it is what keeps note modification times stable across clones.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flashcards.anki.notes import (
    CARD_KINDS,
    SUBDECK_MODES,
    SUMMARY_FIELD_KEYS,
)
from flashcards.buildcache import default_cache_path
from flashcards.errors import ConfigError, FlashcardsError
from flashcards.identity import namespace_from_setting
from flashcards.inputfile import file_key
from flashcards.parse import DIGEST_SUFFIXES, find_digest_files
from flashcards.sources import PullTarget, check_template, source_named
from flashcards.yamlfile import YamlDocument, describe, read_yaml

#: Every key a deck definition may hold, in the order the README documents them.
DECK_KEYS = (
    "name",
    "sources",
    "output",
    "state",
    "cards",
    "fields",
    "subdecks",
    "shuffle",
    "tags",
    "answers",
    "taxonomy",
    "unsure_threshold",
    "identity",
    "delta",
    "pull",
    "cache",
)
REQUIRED_KEYS = ("name", "sources")

DEFAULT_OUTPUT_DIR = Path("dist")

# Anki splits tags on whitespace; quotes would be stripped or mangled by its search syntax.
_BAD_TAG_CHARS = re.compile(r"[\s\"]")


@dataclass(frozen=True)
class DeckDefinition:
    path: Path  # the YAML file; relative paths inside it resolve against its directory
    name: str  # Anki deck name, "::" for nesting
    sources: tuple[str, ...]  # globs, as written (relative to path.parent)
    output: Path
    state: Path  # where note content hashes and modification times are kept
    cards: tuple[str, ...] = CARD_KINDS
    subdecks: str | None = None  # None or "month" (subdeck per digest month) or "date"
    shuffle: bool = True  # MCQ options in a fixed per-note order rather than the digest's
    #: Summary fields that become cards; None: the deck's default, which its state records.
    fields: tuple[str, ...] | None = None
    tags: tuple[str, ...] = ()  # extra tags on every note
    answers: Path | None = None  # answer-key file
    taxonomy: Path | None = None  # taxonomy file; None → the bundled one
    unsure_threshold: float | None = None  # None → flashcards.answers.DEFAULT_UNSURE_THRESHOLD
    identity: str | None = None  # pinned identity namespace; None → the state's (or a new one)
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # of each key, for messages
    delta: Path | None = None  # package of the notes new or changed in a build, if wanted
    pull: tuple[PullTarget, ...] = ()  # what `flashcards pull` brings in for this deck
    cache: Path | None = None  # the build cache (flashcards.buildcache); None: no cache

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def source_files(self) -> list[Path]:
        """Files matched by `sources`, sorted; a glob that matches nothing is a ConfigError.

        A glob may also match directories: they contribute the digest files found under them,
        as `flashcards parse DIR` would read them. The deck's own package, state and delta are
        not among them unless they are named like a digest: a glob like `digests/*` would
        otherwise match them from the second build on, and refuse what the first build wrote;
        a state named like a digest (`day.txt`) stays, so the build refuses to overwrite it.
        """
        own = {
            os.path.realpath(path)
            for path in (self.output, self.state, self.delta)
            if path is not None and path.suffix.lower() not in DIGEST_SUFFIXES
        }
        files: set[Path] = set()
        for pattern in self.sources:
            matched = _expand_source(self.base_dir, pattern)
            if not matched:
                raise ConfigError(f"sources: {pattern!r} matches no file", self.path)
            files.update(path for path in matched if os.path.realpath(path) not in own)
        return sorted(files)


def is_valid_deck_name(name: str) -> bool:
    """Anki nests decks by '::'; an empty or blank part would make a nameless deck."""
    return all(part.strip() for part in name.split("::"))


def find_deck_definitions(directory: str | Path = "decks") -> list[Path]:
    """The deck definitions in `directory` (not recursive), sorted. A missing directory has none.

    Files with a second suffix (`ai-papers.answers.yaml`, `my.taxonomy.yaml`) are companions of a
    deck, kept beside it, not deck definitions.
    """
    return sorted(p for p in Path(directory).glob("*.yaml") if p.is_file() and "." not in p.stem)


def load_deck_definition(path: str | Path) -> DeckDefinition:
    """Read and validate one deck definition; any problem raises ConfigError naming file and key."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(
            "not a deck definition (a .yaml file); to build from digest files directly, "
            "use: flashcards build -i PATH -o OUT.apkg",
            path,
        )
    doc = read_yaml(path)
    data = doc.data
    if data is None:
        raise ConfigError("empty deck definition (expected a mapping with name and sources)", path)
    if not isinstance(data, dict):
        raise doc.error(f"expected a mapping of keys (name, sources, ...), got {describe(data)}")

    if _looks_like_a_companion(data):
        raise ConfigError(
            "not a deck definition (no name or sources): every decks/*.yaml is built as a deck, "
            "so a taxonomy or answer key kept beside them needs a second suffix, e.g. "
            f"{path.stem}.taxonomy.yaml or {path.stem}.answers.yaml",
            path,
        )
    doc.check_keys(data, DECK_KEYS)
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ConfigError(f"{key}: missing (required)", path)

    base = path.parent
    v = _Validator(doc, path)
    stem = path.stem
    output = v.path_value("output", base, suffix=".apkg")
    state = v.path_value("state", base)
    delta = v.path_value("delta", base, suffix=".apkg")
    state = state if state is not None else _join(base, f"{stem}.state.json")
    definition = DeckDefinition(
        path=path,
        name=v.deck_name(),
        sources=v.sources(base),
        output=output if output is not None else DEFAULT_OUTPUT_DIR / f"{stem}.apkg",
        state=state,
        cards=v.cards(),
        subdecks=v.subdecks(),
        shuffle=v.boolean("shuffle", default=True),
        fields=v.fields(),
        tags=v.tags(),
        answers=v.path_value("answers", base, must_exist=True),
        taxonomy=v.path_value("taxonomy", base, must_exist=True),
        unsure_threshold=v.threshold(),
        identity=v.identity(),
        lines={k: line for k in data if isinstance(k, str) and (line := doc.line(k)) is not None},
        delta=delta,
        pull=v.pull(base),
        cache=v.cache(base, state),
    )
    return definition


def _looks_like_a_companion(data: dict[Any, Any]) -> bool:
    """A taxonomy (`topics:`) or an answer key (paper → list of letters) saved without the
    second suffix that keeps it from being read as a deck: no key of a deck definition at all."""
    if not data or any(key in DECK_KEYS for key in data):
        return False
    return "topics" in data or all(isinstance(v, list | None) for v in data.values())


def load_pull_targets(path: str | Path) -> tuple[PullTarget, ...]:
    """The `pull:` entries of a deck definition, validated like `load_deck_definition` checks
    them, without the rest of the deck: its sources may not exist before the first pull."""
    path = Path(path)
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        return load_deck_definition(path).pull  # raises the same message as a build would
    doc.check_keys(doc.data, DECK_KEYS)
    return _Validator(doc, path).pull(path.parent)


def load_deck_definitions(paths: list[Path]) -> list[DeckDefinition]:
    """Load several definitions; two that write the same deck file are an error (a `delta`
    package counts as a deck file too)."""
    definitions = [load_deck_definition(p) for p in paths]
    seen: dict[str, Path] = {}
    for definition in definitions:
        written = [("output", definition.output)]
        if definition.delta is not None:
            written.append(("delta", definition.delta))
        for key, path in written:
            target = file_key(path)
            if target in seen:
                raise ConfigError(
                    f"{key}: {str(path)!r} is also the output of {seen[target]}",
                    definition.path,
                )
            seen[target] = definition.path
    return definitions


def check_beside(definitions: Sequence[DeckDefinition]) -> None:
    """Refuse a definition built without the others beside it (in its folder) that writes one
    of their files: a shared state would give both decks one identity namespace, so Anki would
    take one deck's notes for the other's (blank cards), and the two builds would rewrite each
    other's state. Built together (`flashcards build`), `plan.check_paths` finds the same.
    A definition beside them that cannot be read is its own problem, reported when it is
    built or checked."""
    given = {file_key(d.path) for d in definitions}
    for folder in sorted({d.path.parent for d in definitions}):
        for path in find_deck_definitions(folder):
            if file_key(path) in given:
                continue
            try:
                other = load_deck_definition(path)
            except FlashcardsError:
                continue
            theirs = {file_key(written): role for role, written in _written_files(other)}
            if other.cache is not None:  # a folder its build writes files in
                theirs.setdefault(file_key(other.cache), "cache")
            for definition in definitions:
                mine = _written_files(definition)
                if definition.cache is not None:
                    mine.append(("cache", definition.cache))
                for role, written in mine:
                    key = file_key(written)
                    # Two decks may share one cache folder (each build checks what it reads).
                    if key in theirs and (role, theirs[key]) != ("cache", "cache"):
                        raise ConfigError(
                            f"{role}: {str(written)!r} is also the {theirs[key]} "
                            f"of {path}; nothing was written",
                            definition.path,
                            definition.lines.get(role),
                        )


def _written_files(definition: DeckDefinition) -> list[tuple[str, Path]]:
    written = [("output", definition.output), ("state", definition.state)]
    return written + ([("delta", definition.delta)] if definition.delta is not None else [])


class _Validator:
    """One check per key; each returns the validated value or raises ConfigError at its line."""

    def __init__(self, doc: YamlDocument, path: Path) -> None:
        self.doc = doc
        self.data: dict[Any, Any] = doc.data
        self.path = path

    def error(self, message: str, *keys: str | int) -> ConfigError:
        return self.doc.error(message, *keys)

    def deck_name(self) -> str:
        value = self.data["name"]
        if not isinstance(value, str):
            raise self.error(f"name: expected a string, got {describe(value)}", "name")
        if not value.strip():
            raise self.error("name: must not be empty", "name")
        if not is_valid_deck_name(value):
            raise self.error(f"name: {value!r} has an empty part between '::'", "name")
        return value.strip()

    def sources(self, base: Path) -> tuple[str, ...]:
        value = self.data["sources"]
        if isinstance(value, str):
            raise self.error(
                f"sources: expected a list of globs, got {describe(value)} "
                f"(write it as a list: [{value}])",
                "sources",
            )
        if not isinstance(value, list):
            raise self.error(f"sources: expected a list of globs, got {describe(value)}", "sources")
        if not value:
            raise self.error("sources: expected at least one glob, got an empty list", "sources")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(
                    f"sources: expected a glob, got {describe(item)}", "sources", index
                )
            if not _expand_source(base, item):
                raise self.error(f"sources: {item!r} matches no file", "sources", index)
        return tuple(value)

    def path_value(
        self, key: str, base: Path, *, must_exist: bool = False, suffix: str | None = None
    ) -> Path | None:
        if key not in self.data or self.data[key] is None:
            return None
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{key}: expected a file path, got {describe(value)}", key)
        if suffix is not None and not value.endswith(suffix):
            raise self.error(f"{key}: {value!r} should end in {suffix}", key)
        resolved = _join(base, value)
        try:
            if must_exist and not resolved.is_file():
                raise self.error(f"{key}: {value!r} is not a file (looked for {resolved})", key)
            if not must_exist and resolved.is_dir():
                raise self.error(f"{key}: {value!r} is a directory, expected a file path", key)
        except OSError as exc:  # a name too long for the file system, a folder not readable
            raise self.error(f"{key}: {value!r}: {exc.strerror or exc}", key) from None
        return resolved

    def cache(self, base: Path, state: Path) -> Path | None:
        """`cache: false` turns the build cache off, a path moves it; default: beside the state."""
        value = self.data.get("cache", True)
        if value is False:
            return None
        if value is True or value is None:
            return default_cache_path(state)
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                f"cache: expected true, false or a directory path, got {describe(value)}", "cache"
            )
        return _join(base, value)

    def cards(self) -> tuple[str, ...]:
        if "cards" not in self.data:
            return CARD_KINDS
        value = self.data["cards"]
        expected = "/".join(CARD_KINDS)
        if not isinstance(value, list):
            raise self.error(
                f"cards: expected a list of {expected}, got {describe(value)}", "cards"
            )
        if not value:
            raise self.error(
                f"cards: expected at least one of {expected}, got an empty list", "cards"
            )
        for index, item in enumerate(value):
            if item not in CARD_KINDS:
                raise self.error(
                    f"cards: {describe(item)} is not a card kind (expected {expected})",
                    "cards",
                    index,
                )
        # Keep the canonical order so that two spellings of the same choice build the same deck.
        return tuple(kind for kind in CARD_KINDS if kind in value)

    def fields(self) -> tuple[str, ...] | None:
        if "fields" not in self.data:
            return None
        value = self.data["fields"]
        expected = ", ".join(SUMMARY_FIELD_KEYS)
        if not isinstance(value, list):
            raise self.error(
                f"fields: expected a list of summary fields ({expected}), got {describe(value)}",
                "fields",
            )
        if not value:
            raise self.error(
                f"fields: expected at least one of {expected}, got an empty list (drop summary "
                "from cards: for none)",
                "fields",
            )
        for index, item in enumerate(value):
            if item not in SUMMARY_FIELD_KEYS:
                raise self.error(
                    f"fields: {describe(item)} is not a summary field (expected {expected})",
                    "fields",
                    index,
                )
        return tuple(key for key in SUMMARY_FIELD_KEYS if key in value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"{key}: expected true or false, got {describe(value)}", key)
        return value

    def subdecks(self) -> str | None:
        value = self.data.get("subdecks")
        if value is None:
            return None
        if value not in SUBDECK_MODES:
            raise self.error(
                f"subdecks: expected month, date or null, got {describe(value)}", "subdecks"
            )
        return str(value)

    def tags(self) -> tuple[str, ...]:
        value = self.data.get("tags")
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error(f"tags: expected a list of tags, got {describe(value)}", "tags")
        tags: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.error(f"tags: expected a tag, got {describe(item)}", "tags", index)
            if _BAD_TAG_CHARS.search(item):
                raise self.error(
                    f"tags: {item!r} contains a space or a quote (Anki tags cannot; use - or ::)",
                    "tags",
                    index,
                )
            if item not in tags:
                tags.append(item)
        return tuple(tags)

    def threshold(self) -> float | None:
        value = self.data.get("unsure_threshold")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(
                f"unsure_threshold: expected a number between 0 and 1, got {describe(value)}",
                "unsure_threshold",
            )
        if math.isnan(value) or not 0 <= value <= 1:
            raise self.error(
                f"unsure_threshold: expected a number between 0 and 1, got {describe(value)}",
                "unsure_threshold",
            )
        return float(value)

    def identity(self) -> str | None:
        value = self.data.get("identity")
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(
                f"identity: expected the namespace recorded in the deck's state (text) or "
                f"legacy, got {describe(value)}",
                "identity",
            )
        try:
            return namespace_from_setting(value)
        except ValueError as exc:
            raise self.error(f"identity: {exc}", "identity") from None

    def pull(self, base: Path) -> tuple[PullTarget, ...]:
        value = self.data.get("pull")
        if value is None:
            return ()
        example = "e.g. [{source: daily-paper, into: digests/quiz}]"
        if not isinstance(value, list):
            raise self.error(
                f"pull: expected a list of {{source, into}} entries, got {describe(value)} "
                f"({example})",
                "pull",
            )
        targets = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise self.error(
                    f"pull: expected a mapping with source and into, got {describe(entry)} "
                    f"({example})",
                    "pull",
                    index,
                )
            targets.append(self._pull_entry(base, index, entry))
        return tuple(targets)

    def _pull_entry(self, base: Path, index: int, entry: dict[Any, Any]) -> PullTarget:
        self.doc.check_keys(entry, _PULL_KEYS, "pull", index, label="pull")
        for key in ("source", "into"):
            if key not in entry:
                raise self.error(f"pull: {key}: missing (required)", "pull", index)
        where = ("pull", index)
        name = entry["source"]
        if not isinstance(name, str):
            raise self.error(
                f"pull: source: expected a name, got {describe(name)}", *where, "source"
            )
        try:
            source = source_named(name)
        except ConfigError as exc:
            raise self.error(f"pull: source: {exc.message}", *where, "source") from None
        into = entry["into"]
        if not isinstance(into, str) or not into.strip():
            raise self.error(
                f"pull: into: expected a folder path, got {describe(into)}", *where, "into"
            )
        folder = _join(base, into)
        if folder.exists() and not folder.is_dir():
            raise self.error(f"pull: into: {into!r} is not a folder", *where, "into")
        since = entry.get("since")
        if isinstance(since, datetime):
            since = str(since)  # a timestamp is not a day: reported below
        if since is not None and not isinstance(since, date):
            try:
                since = date.fromisoformat(str(since))
            except ValueError:
                raise self.error(
                    f"pull: since: expected a date YYYY-MM-DD, got {describe(since)}",
                    *where,
                    "since",
                ) from None
        template = entry.get("url")
        if template is None:
            template = source.url
        elif not isinstance(template, str):
            raise self.error(
                f"pull: url: expected a URL template, got {describe(template)}", *where, "url"
            )
        else:
            try:
                check_template(template)
            except ConfigError as exc:
                raise self.error(f"pull: url: {exc.message}", *where, "url") from None
        since_at = (self.doc.path, self.doc.line(*where, "since")) if since else None
        return PullTarget(source, template, folder, since, since_at)


_PULL_KEYS = ("source", "into", "since", "url")


def _join(base: Path, value: str) -> Path:
    # normpath only tidies "decks/../dist" for messages; it never touches the disk.
    return Path(os.path.normpath(base / os.path.expanduser(value)))


def _expand_source(base: Path, pattern: str) -> list[Path]:
    """Files that `pattern` (relative to `base`, or absolute, `~` allowed) names; `**` recurses.

    pathlib's glob, not `glob.glob`: its `**` never follows a symlink to a folder, so link loops
    cannot make it walk forever (`glob.glob` took ~2^40 steps on two loops). Like `glob.glob`, a
    wildcard does not match a hidden name (`.git`, an interrupted write's `.x.tmp-…`) unless the
    pattern's part for it starts with a dot.
    """
    pattern = os.path.expanduser(pattern)
    # The root is never part of the pattern: a "[" in the directory name must not turn into a
    # glob character class.
    if os.path.isabs(pattern):
        root = Path(Path(pattern).anchor)
        relative = pattern[len(root.anchor) :]
    else:
        root, relative = base, pattern
    if not relative.strip("/"):
        return []
    dotted = [part for part in relative.split("/") if part.startswith(".")]
    files: list[Path] = []
    for match in root.glob(relative):
        parts = match.relative_to(root).parts
        if any(_hidden(part) and not _allowed(part, dotted) for part in parts):
            continue
        candidate = Path(os.path.normpath(match))
        if candidate.is_dir():
            files.extend(find_digest_files(candidate))
        elif candidate.is_file():
            files.append(candidate)
    return files


def _hidden(part: str) -> bool:
    return part.startswith(".") and part not in (".", "..")


def _allowed(part: str, dotted: list[str]) -> bool:
    """Whether the hidden name `part` is asked for by a pattern part that starts with a dot."""
    return any(fnmatch.fnmatchcase(part, pattern) for pattern in dotted)


def find_pull_targets(definitions: Sequence[str | Path] = ()) -> list[PullTarget]:
    """The `pull:` entries of `definitions`, or of every `decks/*.yaml` when none is given; a
    definition named explicitly without `pull:`, or no `pull:` at all, is a ConfigError."""
    paths = [Path(p) for p in definitions] or find_deck_definitions()
    targets: list[PullTarget] = []
    for path in paths:
        if not path.is_file():
            raise ConfigError("no such deck definition", path)
        found = load_pull_targets(path)
        if not found and definitions:
            raise ConfigError(
                "no pull: key (e.g. pull: [{source: daily-paper, into: digests/quiz}])", path
            )
        targets.extend(found)
    if not targets:
        raise ConfigError(
            "no deck definition in decks/ has a pull: key; add one, or pull ad hoc with "
            "--source NAME -d DIR"
        )
    return targets
