"""What the last build computed, kept for the next one: an optional, disposable speed-up.

A cache is a directory beside the state file (`NAME.cache/` for `NAME.state.json`) with two
files: `entries.sqlite`, a table of JSON entries (the digests parsed from each input file, keyed
by the file's path and the sha256 of its bytes; each paper's resolved answers and topics, keyed
by a hash of everything they depend on; the last build's notes per paper and its manifest, see
`flashcards.incremental`), and `build.json`, the fingerprint of the last build
(every input file's hash, the answer key, the taxonomy, the deck's settings and the code
version) with the hashes of the state and package it wrote and its report. When a build's
fingerprint, state and package are exactly those of the last build, nothing is recomputed: the
files on disk already hold the bytes a build would write. Otherwise only the files whose bytes
are new are parsed. A third file, `chunks.sqlite`, is the same table holding the package's
deflated pieces (bytes, not JSON; see `flashcards.anki.apkgzip`).

The entries live in SQLite rather than one JSON document so that a build holds none of them in
memory: each is read when it is looked up and written (in batches) soon after it is made, within
one transaction that a failed build never commits, or, when there is no valid file to add them
to, into a new file under a temporary name that only a finished build renames into place; saving
drops the entries this build did not use, unless it spliced its notes into the last build's
(whose entries then all remain valid and in use).

Plain data only (JSON text in SQLite, never pickle): a cache restored in CI may have been
written by anyone, so it is read as untrusted data (a database whose schema is not exactly ours,
with a trigger or view, say, is deleted unread). A missing, stale, corrupted or foreign cache is
ignored and rewritten; deleting it is always safe. Everything is keyed by `code_version()` as
well, so a cache written by another version of flashcards (or of the libraries, Python, SQLite or
zlib) is never used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import sqlite3
import sys
import tempfile
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flashcards.atomicfile import new_file_mode, remove_stale_temps, replace_files
from flashcards.errors import BuildError
from flashcards.inputfile import NotARegularFile, open_regular_file
from flashcards.model import Digest, Paper, Question

#: Bumped when the layout of the cache files changes.
CACHE_FORMAT = 3

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
            if limit is None:
                data = handle.read()
            else:
                # What the file claims to hold and a byte more (as `read_digest_bytes` reads):
                # asking for the limit at once costs a buffer of that size per file, which made
                # hashing an archive's files four times slower.
                size = os.fstat(handle.fileno()).st_size
                data = handle.read(min(size, limit) + 1)
                if size < len(data) <= limit:  # grown since: read on, up to the limit
                    data += handle.read(limit + 1 - len(data))
    except (OSError, NotARegularFile):
        return None
    if limit is not None and len(data) > limit:
        return None
    return hashlib.sha256(data).hexdigest()


@dataclass
class BuildCache:
    """One deck's cache, read at the start of a build and written after it."""

    path: Path
    last_build: dict[str, Any] = field(default_factory=dict)
    context: str = ""  # the hash of the taxonomy file that topics are computed with
    files_reused: int = 0  # input files whose digests came from the cache in this build
    # The sha256 of each input file when the build hashed it for its fingerprint (set by the
    # build), and whether a file parsed since held other bytes: then this build's record of its
    # inputs would describe bytes it did not read, and must not be kept.
    hashed: Mapping[str, str] = field(default_factory=dict)
    changed_while_read: bool = False
    _store: _Entries | None = field(default=None, repr=False)
    _chunks: _Chunks | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: Path) -> BuildCache:
        """The cache at `path`; empty when it is missing, unreadable or not of this version."""
        cache = cls(path)
        build = _read_json(path / "build.json")
        if isinstance(build, dict) and build.get("code") == code_version():
            cache.last_build = build
        return cache

    def load_digests(self) -> None:
        """Open the entries (parsed digests, per-paper results) only when a build needs them."""
        self._entries()

    def _entries(self) -> _Entries:
        if self._store is None:
            self._store = _Entries(self.path / "entries.sqlite")
        return self._store

    def chunks(self) -> _Chunks:
        """The store of the package's deflated pieces (`chunks.sqlite`, for
        `flashcards.anki.apkgzip`), kept like the entries: what this build used or made is saved
        with it, the rest dropped."""
        if self._chunks is None:
            self._chunks = _Chunks(self.path / "chunks.sqlite")
        return self._chunks

    def resolved_paper(
        self, paper: Paper, inputs: tuple[object, ...]
    ) -> tuple[Paper | None, Callable[[Paper], None]]:
        """`answers.Memo`: the questions resolved last time for a paper of the same content and
        the same `inputs` (key letters, threshold), and a function that keeps a resolved paper's
        (the paper is hashed once for both)."""
        entries = self._entries()
        if entries.last is None:  # nothing to find (a first build): hashed only when kept

            def keep_new(resolved: Paper) -> None:
                key = "answers\0" + _hash(paper, inputs)
                entries.put(key, [_question_to_data(q) for q in resolved.questions])

            return None, keep_new
        key = "answers\0" + _hash(paper, inputs)

        def keep(resolved: Paper) -> None:
            entries.put(key, [_question_to_data(q) for q in resolved.questions])

        entry = entries.get(key)
        if isinstance(entry, list):
            try:
                questions = tuple(_question_from_data(q) for q in entry)
                # Only the answer is taken from the cache: a forged entry must not change a
                # question's text or options (the key is a hash that anyone can recompute).
                if len(questions) == len(paper.questions) and all(
                    (q.number, q.prompt, q.options, q.line)
                    == (p.number, p.prompt, p.options, p.line)
                    and (q.answer is None or 0 <= q.answer < len(q.options))
                    for q, p in zip(questions, paper.questions, strict=True)
                ):
                    entries.use(key)
                    return dataclasses.replace(paper, questions=questions), keep
            except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
                pass  # a corrupted or forged entry: compute it again
        return None, keep

    def known_topics(self) -> dict[str, Any]:
        """Every paper's topics the last build kept, as JSON data by key (`topic_key`;
        `topics_from_entry` reads one), read at once for worker processes to look them up in
        (a database connection does not survive a fork)."""
        try:
            return {key: _json(text) for key, text in self._entries().scan(_TOPICS)}
        except ValueError:  # none, or not readable: computed again
            return {}

    def topic_entry(self, key: str) -> Any:
        """The topics the last build kept under `key`, as JSON data (or None): one of
        `known_topics`, read alone."""
        return self._entries().get(_TOPICS + key)

    def topic_key(self, parts: tuple[tuple[str, str], ...]) -> str:
        """The key of the topics of a paper whose `topics.topic_parts` are `parts`, with the
        taxonomy of this build (`context`)."""
        return _hash(parts, self.context)

    def keep_topics(self, key: str, topics: tuple[str, ...] | None) -> None:
        """Keep the topics of key `key` past this build: the last build's (None: they were
        found in `known_topics`) or these, computed in this build."""
        entries = self._entries()
        if topics is None:
            entries.use(_TOPICS + key)
        else:
            entries.put(_TOPICS + key, list(topics))

    def parsed(self, source: str, sha: str) -> list[Digest] | None:
        """The digests last parsed from the file `source` with bytes of hash `sha`, if any."""
        if self.hashed.get(source, sha) != sha:
            self.changed_while_read = True
        entries = self._entries()
        key = f"file\0{source}\0{sha}"
        entry = entries.get(key)
        if not isinstance(entry, list):
            return None
        try:
            digests = [digest_from_data(item) for item in entry]
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return None  # a corrupted or forged entry: parse the file again
        entries.use(key)
        self.files_reused += 1
        return digests

    @staticmethod
    def encode(digests: Iterable[Digest]) -> str:
        """What `remember` keeps of `digests` (`encode_digests`): `parse_paths` has it made
        where the file is parsed, in a worker."""
        return encode_digests(digests)

    def remember(self, source: str, sha: str, digests: Iterable[Digest] | str) -> None:
        """Keep the digests parsed from `source` with bytes of hash `sha` (or their
        `encode_digests` text, which a parse worker makes)."""
        if self.hashed.get(source, sha) != sha:
            self.changed_while_read = True
        text = digests if isinstance(digests, str) else encode_digests(digests)
        self._entries().put_text(f"file\0{source}\0{sha}", text)

    def notes_manifest(self) -> Any:
        """The last build's record of its input files and notes (see `flashcards.incremental`),
        as JSON data; None when there is none."""
        return self._entries().get(_NOTES_MANIFEST)

    def note_groups(self) -> Iterator[tuple[str, str]]:
        """The last build's notes, paper by paper: (paper key, text, see
        `flashcards.incremental`), one at a time; ValueError when they cannot be read."""
        return self._entries().scan(_GROUP)

    def remember_notes(self, groups: Iterable[tuple[str, str]], *, spliced: bool) -> None:
        """Keep the notes of `groups` (paper key, text) for the next build. `spliced`: this
        build reused the last one's notes, so every entry of the last build stays (they are
        all still valid, content-keyed, and the notes not given here are the last build's)."""
        entries = self._entries()
        entries.keep_all = entries.keep_all or spliced
        for paper_key, text in groups:
            entries.put_text(_GROUP + paper_key, text)

    def remember_manifest(self, manifest: Any) -> None:
        """Keep this build's manifest (JSON data), once its notes are kept."""
        self._entries().put(_NOTES_MANIFEST, manifest)

    def finish_entries(self) -> None:
        """No more entries this build: when they make a new file, it is synced to disk in the
        background while the build goes on (`save` renames it into place)."""
        if self._store is not None:
            self._store.finish()

    def discard(self) -> None:
        """Keep nothing of this build (it failed, or wrote nothing): the cache stays as it was,
        and a new file in the making is removed."""
        for store in (self._store, self._chunks):
            if store is not None:
                store.close()
        self._store = self._chunks = None

    def save(self, build: Mapping[str, Any] | None) -> None:
        """Write what this build used and made (the entries of files no longer read are dropped).
        A cache that cannot be written is no error: the next build is only slower."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for store in (self._store, self._chunks):
                if store is not None:
                    store.commit()
            self._store = self._chunks = None
            record = self.path / "build.json"
            with contextlib.suppress(OSError):
                if record.is_file() and record.stat().st_size > MAX_RECORD_BYTES:
                    # Not written by a build: `replace_files` would read it whole to compare.
                    record.unlink()
            replace_files([(record, _dump({"code": code_version(), **(build or {})}))])
        except (OSError, BuildError):  # replace_files reports what failed as a BuildError
            pass


_NOTES_MANIFEST = "notes\0manifest"
_GROUP = "group\0"
_TOPICS = "topics\0"


def topics_from_entry(entry: Any, slugs: frozenset[str]) -> tuple[str, ...] | None:
    """The topics of a `BuildCache.known_topics` entry, if it is a list of some of `slugs`;
    else (missing, damaged or forged) None."""
    if isinstance(entry, list) and entry and all(type(t) is str and t in slugs for t in entry):
        return tuple(entry)
    return None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# A rowid table, not WITHOUT ROWID: entries are large (a paper's notes, a file's digests),
# which SQLite keeps a third smaller and writes faster in a rowid table.
_SCHEMA = (
    "CREATE TABLE meta (code TEXT NOT NULL)",
    "CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

_MASTER = "SELECT type, name, tbl_name, sql FROM {}sqlite_master ORDER BY type, name"


@functools.cache
def _schema_rows() -> list[tuple[Any, ...]]:
    """What `sqlite_master` holds for our schema and nothing else, as this SQLite writes it."""
    connection = sqlite3.connect(":memory:")
    try:
        for statement in _SCHEMA:
            connection.execute(statement)
        return connection.execute(_MASTER.format("")).fetchall()
    finally:
        connection.close()


def _ours(connection: sqlite3.Connection, schema: str = "") -> bool:
    """Whether the database (`schema`: "" for main, or "name." of an attached one) is exactly
    our tables, written by this code version."""
    if connection.execute(_MASTER.format(schema)).fetchall() != _schema_rows():
        return False  # anything else (a trigger, a view, another table) is not read at all
    code = connection.execute(f"SELECT code FROM {schema}meta").fetchall()
    return code == [(code_version(),)]


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    connection = sqlite3.connect(target, uri=uri, isolation_level=None)
    connection.execute("PRAGMA trusted_schema=OFF")  # no function runs from a schema
    connection.execute("PRAGMA cell_size_check=ON")  # corrupted pages are errors
    return connection


class _Entries:
    """The cache's table of JSON entries during a build.

    The last build's entries are only read (the file opened read-only). This build's new
    entries and the keys of those it used go to a database of the cache file's own tables (the
    keys used in another one attached to it), so that a build holds none of them in memory and
    a failed build leaves the cache untouched:
    - with a valid file to apply them to, a private temporary database (on disk, deleted when
      closed), applied by `commit` in one transaction: new entries added, unused ones dropped;
    - with none (missing, damaged or foreign), the new file itself, written under a temporary
      name beside it (no journal, not synced as it goes), synced to disk by `finish` in the
      background while the build makes its package, and renamed over the old one by `commit`
      (a crash midway leaves only the temporary file, removed by the next build's commit).
    Entries are written `BATCH` at a time. An unreadable file is a store that finds nothing; a
    SQLite error on the way (a full disk) leaves the cache to the next build."""

    #: Entries written by one statement (`executemany`): one statement each cost a third more.
    BATCH = 512
    #: Whether a new file is written in place, under a temporary name (else copied at `commit`).
    IN_PLACE = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keep_all = False  # True: `commit` drops no entry of the last build
        self.last: sqlite3.Connection | None = None
        self.scratch: sqlite3.Connection | None = None
        self.fresh: Path | None = None  # the new file in the making, by its temporary name
        self._removal: weakref.finalize[Any, Any] | None = None
        self._rows: list[tuple[str, str | bytes]] = []  # entries not yet written
        self._used: list[tuple[str]] = []  # keys used, not yet written
        self._sync: _Sync | None = None  # set once the new file is complete
        try:
            if path.is_file():
                self.last = _connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
                if not _ours(self.last):
                    self.last.close()
                    self.last = None
        except sqlite3.Error:
            self.last = None  # a damaged or foreign file: replaced at `commit`
        self._keeping = True  # False once a write failed, or the entries are finished

    def _database(self) -> sqlite3.Connection | None:
        """Where this build's entries go, made when the first ones are written (a build that
        fails before leaves no file); None once keeping them failed."""
        if self.scratch is not None or not self._keeping:
            return self.scratch
        try:
            if self.last is None and self.IN_PLACE:
                self.fresh, made = _new_temp(self.path)
                # Gone unless renamed into place: a failed build, or one that never commits.
                self._removal = weakref.finalize(self, _remove_temp, self.fresh, made, os.getpid())
                self.scratch = _connect(str(self.fresh))
                self.scratch.execute("PRAGMA journal_mode=OFF")  # nobody reads it before
                self.scratch.execute("PRAGMA synchronous=OFF")  # it is synced and renamed
            else:
                self.scratch = _connect("")  # "": a private temporary database
            for statement in _SCHEMA:
                self.scratch.execute(statement)
            self.scratch.execute("ATTACH DATABASE '' AS build")  # another one, for the keys
            self.scratch.execute("CREATE TABLE build.used (key TEXT PRIMARY KEY)")
            self.scratch.execute("BEGIN")  # one transaction: nothing synced before its end
        except (OSError, sqlite3.Error):
            self._drop()
        return self.scratch

    def get(self, key: str) -> Any:
        """The last build's entry `key` (JSON data), or None."""
        if self.last is None:
            return None
        try:
            row = self.last.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
            return None if row is None else json.loads(row[0])
        except (sqlite3.Error, TypeError, ValueError, RecursionError):
            return None

    def scan(self, prefix: str) -> Iterator[tuple[str, str]]:
        """The text of every entry of the last build whose key starts with `prefix` (which
        must not end in U+10FFFF), with the rest of its key, one at a time (a build holds none
        of them for long); ValueError when they cannot be read."""
        if self.last is None:
            raise ValueError("no entries")
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        try:
            rows = self.last.execute(
                "SELECT key, value FROM entries WHERE key >= ? AND key < ?", (prefix, upper)
            )
            for key, value in rows:
                if not (isinstance(key, str) and isinstance(value, str)):
                    raise ValueError("not text")
                yield key[len(prefix) :], value
        except sqlite3.Error as exc:
            raise ValueError(f"cannot read the cache: {exc}") from None

    def use(self, key: str) -> None:
        """Keep the last build's entry `key` past this build."""
        if self._keeping:
            self._used.append((key,))
            if len(self._used) >= self.BATCH:
                self._write()

    def put(self, key: str, value: Any) -> None:
        """Store `value` (JSON data) as the entry `key`, kept past this build."""
        self.put_text(key, json.dumps(value, separators=(",", ":")))

    def put_text(self, key: str, text: str) -> None:
        """Store `text` as the entry `key` (read back by `scan`), kept past this build."""
        self._add(key, text)

    def _add(self, key: str, value: str | bytes) -> None:
        # In the order given: a key stored twice keeps its last value, as one statement each.
        if self._keeping:
            self._rows.append((key, value))
            if len(self._rows) >= self.BATCH:
                self._write()

    def _write(self) -> None:
        """Write the entries and keys used that are waiting."""
        rows, used = self._rows, self._used
        self._rows, self._used = [], []
        database = self._database()
        if database is None:
            return
        try:
            if rows:
                database.executemany("INSERT OR REPLACE INTO main.entries VALUES (?, ?)", rows)
            if used:
                database.executemany("INSERT OR IGNORE INTO build.used VALUES (?)", used)
        except sqlite3.Error:
            self._drop()  # nothing more is kept; the cache stays as it was

    def _drop(self) -> None:
        """Keep nothing of this build: the cache stays as it was."""
        self._keeping = False
        if self.scratch is not None:
            self.scratch.close()
            self.scratch = None
        self._rows, self._used = [], []
        if self._removal is not None:
            self._removal()

    def close(self) -> None:
        """Close the files; a new file not renamed into place is removed."""
        self._keeping = False
        for connection in (self.last, self.scratch):
            if connection is not None:
                connection.close()
        self.last = self.scratch = None
        if self._sync is not None:
            self._sync.join()
        if self._removal is not None:
            self._removal()  # a new file not renamed into place

    def finish(self) -> None:
        """No more entries come: a new file is completed and, in a thread, synced to disk while
        the build goes on (`commit` renames it into place)."""
        self._write()  # (makes the database if no entry came: a build always leaves one)
        if self.fresh is None or self.scratch is None:
            return
        self._keeping = False
        try:
            self.scratch.execute("INSERT INTO meta VALUES (?)", (code_version(),))
            self.scratch.execute("COMMIT")
            self.scratch.close()
        except sqlite3.Error:
            self._drop()
            return
        self.scratch = None
        self._sync = _Sync(self.fresh)
        self._sync.start()

    def commit(self) -> None:
        """Write this build's entries to the file and drop those it did not use, in one
        transaction (a crash midway leaves the file as it was: SQLite's journal); or, when
        there is no valid file, rename the new one into place once it is complete and on disk.
        """
        self.finish()
        if self.fresh is not None:
            self._publish()
            return
        scratch, valid = self.scratch, self.last is not None
        self.scratch = None
        self.close()
        if scratch is None:
            return
        try:
            remove_stale_temps(self.path)  # what a build killed in `_write_copy` left
            if not valid:  # missing, damaged or foreign: a new file
                scratch.execute("INSERT INTO meta VALUES (?)", (code_version(),))
                scratch.execute("COMMIT")
                _write_copy(scratch, self.path)
                return
            scratch.execute("COMMIT")  # ATTACH needs no open transaction
            scratch.execute("ATTACH DATABASE ? AS cache", (str(self.path),))
            if not _ours(scratch, "cache."):
                return  # replaced since this build read it: leave it to the next build
            scratch.execute("BEGIN IMMEDIATE")
            if not self.keep_all:
                scratch.execute(
                    "DELETE FROM cache.entries WHERE key NOT IN (SELECT key FROM build.used)"
                    " AND key NOT IN (SELECT key FROM main.entries)"
                )
            # In key order: the B-tree is walked once, not jumped about in.
            scratch.execute(
                "INSERT OR REPLACE INTO cache.entries SELECT key, value FROM main.entries"
                " ORDER BY key"
            )
            scratch.execute("COMMIT")
        except (OSError, sqlite3.Error):
            pass  # a cache that cannot be written is no error: the next build is only slower
        finally:
            scratch.close()

    def _publish(self) -> None:
        """Rename the new file into place, once it is complete and on disk."""
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.join()
        try:
            if sync is None or sync.error is not None or self.fresh is None:
                return  # not complete (a SQLite error on the way), or not on disk
            remove_stale_temps(self.path)  # what a build killed before its rename left
            # A journal left by the old file's interrupted transaction must not be replayed on
            # the new one.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path.with_name(f"{self.path.name}-journal"))
            os.replace(self.fresh, self.path)
            if self._removal is not None:
                self._removal.detach()
        except OSError:
            pass  # a cache that cannot be written is no error: the next build is only slower
        finally:
            self.close()  # removes the temporary file unless it was renamed


class _Sync(threading.Thread):
    """`os.fsync` of a file, in a thread: the disk writes while the build goes on."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="flashcards-cache-sync", daemon=True)
        self.path = path
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            descriptor = os.open(self.path, os.O_RDWR)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as exc:
            self.error = exc


def _new_temp(path: Path) -> tuple[Path, list[Path]]:
    """A new empty file beside `path`, named as `flashcards.atomicfile` names its temporary
    files (so that `remove_stale_temps` finds what a killed build left), and the folders made
    for it, deepest first."""
    made = []
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        made.append(folder)
        folder = folder.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    try:
        os.fchmod(descriptor, new_file_mode(path))
    finally:
        os.close(descriptor)
    return Path(name), made


def _remove_temp(path: Path, folders: list[Path], owner: int) -> None:
    """Remove the temporary file `path` and the `folders` made for it (made by process
    `owner`, not by a forked worker): a build that failed leaves nothing."""
    if os.getpid() != owner:
        return
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
        for folder in folders:
            folder.rmdir()


def _write_copy(database: sqlite3.Connection, path: Path) -> None:
    """Replace the file `path` by a copy of `database` (its main schema): written complete to a
    temporary file beside it, synced to disk, then renamed over it, so that `path` is only ever
    the old file or the whole new one (after a crash, a kill or a power cut too)."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    temporary = Path(name)
    try:
        os.fchmod(descriptor, new_file_mode(path))
        with contextlib.closing(sqlite3.connect(temporary, isolation_level=None)) as copy:
            # A file nobody reads before the rename: no journal; synced once, below.
            copy.execute("PRAGMA journal_mode=OFF")
            copy.execute("PRAGMA synchronous=OFF")
            database.backup(copy)
        os.fsync(descriptor)
        # A journal left by the old file's interrupted transaction must not be replayed on the
        # new one.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.with_name(f"{path.name}-journal"))
        os.replace(temporary, path)
    finally:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)


class _Chunks(_Entries):
    """A table of bytes rather than JSON: the deflated pieces of a package by key. Each is
    checked before use (`flashcards.anki.apkgzip`), so this store only hands them over. Its
    new file, small, is copied into place at `commit` (it is filled while the package is
    zipped, just before)."""

    IN_PLACE = False

    def get(self, key: str) -> bytes | None:
        if self.last is None:
            return None
        try:
            row = self.last.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None or not isinstance(row[0], bytes):
            return None
        self.use(key)
        return row[0]

    def put(self, key: str, value: Any) -> None:
        self._add(key, bytes(value))


#: `build.json` is a few KiB (a hash per input and the report's warnings); anything larger
#: than this was not written by a build, and is not read into memory.
MAX_RECORD_BYTES = 64 << 20


def _read_json(path: Path) -> Any:
    """The JSON data of the file `path`; None when it is missing, not a regular file (a FIFO
    would block the build), larger than `MAX_RECORD_BYTES` or not JSON."""
    try:
        with open_regular_file(path) as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            return None
        return json.loads(data)
    except (OSError, NotARegularFile, ValueError, RecursionError):
        return None


def _dump(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _hash(paper: object, inputs: object) -> str:
    # A dataclass's repr shows every field, strings quoted: a content key for this code version.
    return hashlib.sha256(repr((paper, inputs)).encode()).hexdigest()


def fingerprint(parts: Mapping[str, Any]) -> str:
    """A hash of everything, besides the state, that a build's result depends on."""
    return hashlib.sha256(_dump({"code": code_version(), **parts})).hexdigest()


# Digests as plain data: every field (to_dict leaves out lines, links and warnings, which the
# notes and messages need), and back.


def encode_digests(digests: Iterable[Digest]) -> str:
    """The text `BuildCache.remember` keeps for the digests of one file."""
    return json.dumps([digest_to_data(d) for d in digests], separators=(",", ":"))


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
        source=expect_str(data["source"]),
        format=data["format"],
        date=date.fromisoformat(data["date"]),
        papers=tuple(_paper_from_data(p) for p in data["papers"]),
        warnings=tuple(expect_str(w) for w in data["warnings"]),
    )


# Field by field rather than `dataclasses.asdict` (which deep-copies every value, several times
# slower): the same JSON, tuples written as arrays; a test checks that no field is left out.


def _paper_to_data(paper: Paper) -> dict[str, Any]:
    return {
        "title": paper.title,
        "arxiv_id": paper.arxiv_id,
        "url": paper.url,
        "published": paper.published.isoformat() if paper.published else None,
        "authors": paper.authors,
        "fields": paper.fields,
        "questions": [_question_to_data(q) for q in paper.questions],
        "links": paper.links,
        "line": paper.line,
        "category": paper.category,
    }


def _question_to_data(question: Question) -> dict[str, Any]:
    return {
        "number": question.number,
        "prompt": question.prompt,
        "options": question.options,
        "answer": question.answer,
        "answer_source": question.answer_source,
        "confidence": question.confidence,
        "unsure": question.unsure,
        "evidence": question.evidence,
        "line": question.line,
    }


def _paper_from_data(data: Mapping[str, Any]) -> Paper:
    published = data["published"]
    fields = data["fields"]
    if not isinstance(fields, dict):
        raise TypeError("fields")
    return Paper(
        title=expect_str(data["title"]),
        arxiv_id=_optional_str(data["arxiv_id"]),
        url=_optional_str(data["url"]),
        published=date.fromisoformat(published) if published is not None else None,
        authors=tuple(expect_str(a) for a in data["authors"]),
        fields={expect_str(k): expect_str(v) for k, v in fields.items()},
        questions=tuple(_question_from_data(q) for q in data["questions"]),
        links=tuple((expect_str(label), expect_str(url)) for label, url in data["links"]),
        line=_optional_int(data["line"]),
        category=_optional_str(data["category"]),
    )


def _question_from_data(data: Mapping[str, Any]) -> Question:
    # Parsed questions carry no answer yet except a marked one; every field is kept as written.
    return Question(
        number=expect_int(data["number"]),
        prompt=expect_str(data["prompt"]),
        options=tuple(expect_str(o) for o in data["options"]),
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


def expect_str(value: Any) -> str:
    """`value` read from a cache entry, if a string (a cache may come from anyone)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else expect_str(value)


def expect_int(value: Any) -> int:
    """`value` read from a cache entry, if an integer (not a bool)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _optional_int(value: Any) -> int | None:
    return None if value is None else expect_int(value)
