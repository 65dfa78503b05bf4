"""What the last build computed, kept for the next one: an optional, disposable speed-up.

A cache is a directory beside the state file (`NAME.cache/` for `NAME.state.json`) with two
JSON files: `digests.json`, the digests parsed from each input file keyed by the file's path and
the sha256 of its bytes, and `build.json`, the fingerprint of the last build (every input file's
hash, the answer key, the taxonomy, the deck's settings and the code version) with the hashes of
the state and package it wrote and its report. When a build's fingerprint, state and package
are exactly those of the last build, nothing is recomputed: the files on disk already hold the
bytes a build would write. Otherwise only the files whose bytes are new are parsed.

Plain JSON only (never pickle): a cache restored in CI may have been written by anyone, so it
is read as untrusted data. A missing, stale, corrupted or foreign cache is ignored and rewritten;
deleting it is always safe. Everything is keyed by `code_version()` as well, so a cache written by
another version of flashcards (or of the libraries, Python, SQLite or zlib) is never used.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import sqlite3
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flashcards.atomicfile import replace_files
from flashcards.errors import BuildError
from flashcards.inputfile import NotARegularFile, open_regular_file
from flashcards.model import Digest, Paper, Question

#: Bumped when the layout of the cache files changes.
CACHE_FORMAT = 1

_PACKAGE_DIR = Path(__file__).resolve().parent
_LIBRARIES = ("genanki", "markdown-it-py", "beautifulsoup4", "pyyaml", "google-re2")


def default_cache_path(state: Path) -> Path:
    """`NAME.cache` beside the state file `NAME.state.json` (any other name: `NAME.cache`)."""
    name = state.name
    stem = name[: -len(".state.json")] if name.endswith(".state.json") else state.stem
    return state.with_name(f"{stem}.cache")


@functools.cache
def code_version() -> str:
    """The package version and a hash of the package's own files: any change of code or bundled
    data (taxonomy, tables) makes earlier caches foreign."""
    from flashcards import __version__

    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{__version__}\0".encode())
    # What else shapes a deck's bytes: the libraries that parse and write it, SQLite's file
    # format and zlib's deflate.
    for name in _LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "none"
        digest.update(f"{name}={version}\0".encode())
    digest.update(f"{sys.version}\0{sqlite3.sqlite_version}\0{zlib.ZLIB_RUNTIME_VERSION}".encode())
    for path in sorted(_PACKAGE_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".tsv", ".json", ".html", ".css"):
            digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def sha256_file(path: Path | None, limit: int | None = None) -> str | None:
    """The sha256 of a file's bytes; None when there is no such regular file or it is larger
    than `limit` bytes (a FIFO or device is never opened: reading it might never end)."""
    if path is None:
        return None
    try:
        with open_regular_file(path) as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except (OSError, NotARegularFile):
        return None
    if limit is not None and len(data) > limit:
        return None
    return hashlib.sha256(data).hexdigest()


@dataclass
class BuildCache:
    """One deck's cache, read at the start of a build and written after it."""

    path: Path
    # Entries are kept as JSON text, decoded only when used: a cache of a large archive must not
    # hold every digest twice in memory as Python objects.
    digests: dict[str, Any] = field(default_factory=dict)  # "path\0sha256" → digests (JSON)
    last_build: dict[str, Any] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)  # the entries this build used or made
    papers: dict[str, Any] = field(default_factory=dict)  # "kind\0hash of inputs" → result
    papers_used: dict[str, Any] = field(default_factory=dict)
    context: str = ""  # the hash of the taxonomy file that topics are computed with

    @classmethod
    def load(cls, path: Path) -> BuildCache:
        """The cache at `path`; empty when it is missing, unreadable or not of this version."""
        cache = cls(path)
        build = _read_json(path / "build.json")
        if isinstance(build, dict) and build.get("code") == code_version():
            cache.last_build = build
        return cache

    def load_digests(self) -> None:
        """Read the parsed digests and per-paper results (the larger files) only when a build
        needs them."""
        data = _read_json(self.path / "digests.json")
        if (
            isinstance(data, dict)
            and data.get("code") == code_version()
            and isinstance(data.get("files"), dict)
        ):
            self.digests = data["files"]
        data = _read_json(self.path / "papers.json")
        if (
            isinstance(data, dict)
            and data.get("code") == code_version()
            and isinstance(data.get("papers"), dict)
        ):
            self.papers = data["papers"]

    def resolved_paper(
        self, paper: Paper, inputs: tuple[object, ...], compute: Callable[[], Paper]
    ) -> Paper:
        """`compute()` (a paper with its answers resolved), or the questions it gave last time
        for a paper of the same content and the same `inputs` (key letters, threshold)."""
        key = "answers\0" + _hash(paper, inputs)
        entry = self.papers.get(key)
        if isinstance(entry, str):
            try:
                questions = tuple(_question_from_data(q) for q in json.loads(entry))
                if len(questions) == len(paper.questions):
                    self.papers_used[key] = entry
                    return dataclasses.replace(paper, questions=questions)
            except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
                pass  # a corrupted or forged entry: compute it again
        resolved = compute()
        self.papers_used[key] = _text([dataclasses.asdict(q) for q in resolved.questions])
        return resolved

    def topics(
        self, paper: Paper, slugs: frozenset[str], compute: Callable[[], tuple[str, ...]]
    ) -> tuple[str, ...]:
        """`compute()` (a paper's topics), or what it gave last time for a paper of the same
        content and the same taxonomy (`context`), if those are among the taxonomy's `slugs`."""
        key = "topics\0" + _hash(paper, self.context)
        entry = self.papers.get(key)
        if isinstance(entry, list) and entry and all(t in slugs for t in entry):
            self.papers_used[key] = entry
            return tuple(entry)
        topics = compute()
        self.papers_used[key] = list(topics)
        return topics

    def parsed(self, source: str, sha: str) -> list[Digest] | None:
        """The digests last parsed from the file `source` with bytes of hash `sha`, if any."""
        key = f"{source}\0{sha}"
        entry = self.digests.get(key)
        if not isinstance(entry, str):
            return None
        try:
            digests = [digest_from_data(item) for item in json.loads(entry)]
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return None  # a corrupted or forged entry: parse the file again
        self.used[key] = entry
        return digests

    def remember(self, source: str, sha: str, digests: Iterable[Digest]) -> None:
        self.used[f"{source}\0{sha}"] = _text([digest_to_data(d) for d in digests])

    def save(self, build: Mapping[str, Any] | None) -> None:
        """Write what this build used and made (the entries of files no longer read are dropped).
        A cache that cannot be written is no error: the next build is only slower."""
        files = [
            (
                self.path / "digests.json",
                _dump({"code": code_version(), "files": self.used}),
            ),
            (
                self.path / "papers.json",
                _dump({"code": code_version(), "papers": self.papers_used}),
            ),
            (self.path / "build.json", _dump({"code": code_version(), **(build or {})})),
        ]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            replace_files(files)
        except (OSError, BuildError):  # replace_files reports what failed as a BuildError
            pass


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


def _dump(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _hash(paper: Paper, inputs: object) -> str:
    # A dataclass's repr shows every field, strings quoted: a content key for this code version.
    return hashlib.sha256(repr((paper, inputs)).encode()).hexdigest()


def _text(data: Any) -> str:
    # ASCII: Python keeps such a string in one byte per character (emoji would make it four).
    return json.dumps(data, separators=(",", ":"))


def fingerprint(parts: Mapping[str, Any]) -> str:
    """A hash of everything, besides the state, that a build's result depends on."""
    return hashlib.sha256(_dump({"code": code_version(), **parts})).hexdigest()


# Digests as plain data: every field (to_dict leaves out lines, links and warnings, which the
# notes and messages need), and back.


def digest_to_data(digest: Digest) -> dict[str, Any]:
    return {
        "source": digest.source,
        "format": digest.format,
        "date": digest.date.isoformat(),
        "papers": [_paper_to_data(p) for p in digest.papers],
        "warnings": list(digest.warnings),
    }


def digest_from_data(data: Mapping[str, Any]) -> Digest:
    if data["format"] not in ("quiz-text", "quiz-html", "markdown-table"):
        raise ValueError(f"unknown format {data['format']!r}")
    return Digest(
        source=_str(data["source"]),
        format=data["format"],
        date=date.fromisoformat(data["date"]),
        papers=tuple(_paper_from_data(p) for p in data["papers"]),
        warnings=tuple(_str(w) for w in data["warnings"]),
    )


def _paper_to_data(paper: Paper) -> dict[str, Any]:
    data = dataclasses.asdict(paper)
    data["published"] = paper.published.isoformat() if paper.published else None
    return data


def _paper_from_data(data: Mapping[str, Any]) -> Paper:
    published = data["published"]
    fields = data["fields"]
    if not isinstance(fields, dict):
        raise TypeError("fields")
    return Paper(
        title=_str(data["title"]),
        arxiv_id=_optional_str(data["arxiv_id"]),
        url=_optional_str(data["url"]),
        published=date.fromisoformat(published) if published is not None else None,
        authors=tuple(_str(a) for a in data["authors"]),
        fields={_str(k): _str(v) for k, v in fields.items()},
        questions=tuple(_question_from_data(q) for q in data["questions"]),
        links=tuple((_str(label), _str(url)) for label, url in data["links"]),
        line=_optional_int(data["line"]),
        category=_optional_str(data["category"]),
    )


def _question_from_data(data: Mapping[str, Any]) -> Question:
    # Parsed questions carry no answer yet except a marked one; every field is kept as written.
    return Question(
        number=_int(data["number"]),
        prompt=_str(data["prompt"]),
        options=tuple(_str(o) for o in data["options"]),
        answer=_optional_int(data["answer"]),
        answer_source=data["answer_source"]
        if data["answer_source"] in (None, "key", "marked", "inferred")
        else _raise(ValueError("answer_source")),
        confidence=None if data["confidence"] is None else float(data["confidence"]),
        unsure=None if data["unsure"] is None else bool(data["unsure"]),
        evidence=_optional_str(data["evidence"]),
        line=_optional_int(data["line"]),
    )


def _raise(exc: Exception) -> Any:
    raise exc


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _optional_int(value: Any) -> int | None:
    return None if value is None else _int(value)
