"""Step 1 of the pipeline: read digest files into the typed model (`flashcards.model`).

The format is detected from the content, never from the file name. Each format has its own
module exposing `parse(text, source) -> list[Digest]`; this module decodes bytes, detects the
format, dispatches, and walks directories.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flashcards.errors import NotADigestError, ParseError
from flashcards.inputfile import NotARegularFile, open_regular_file
from flashcards.model import Digest, Format
from flashcards.workers import fork_iter

#: Files larger than this are refused before being read whole: real digests are under 100 KB,
#: and the markdown parser needs seconds per MB of dense (hostile) markup, so 2 MiB keeps the
#: worst case bounded while leaving a 20x margin over real files. `--max-bytes` raises it.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024

#: Lines longer than this are refused before any format is parsed: real digest lines hold at most
#: a few thousand characters, and the largest real page (80 KB) would fit even on one line. A
#: single huge line is what a wrongly converted or hostile file looks like, and one line of dense
#: markdown costs the table parser about 10 µs a character.
DEFAULT_MAX_LINE = 256 * 1024

#: What a directory scan picks up (recursively); explicit file arguments may have any name.
DIGEST_SUFFIXES = (".txt", ".md", ".html", ".htm")

# Bilingual pages put a language button ("ZH") above the heading, which their text version
# keeps: allow up to three short lines before it. The blank runs are possessive (`\s*+`): the
# short lines may hold spaces too, and trying every split of a long blank run between them was
# cubic (20,000 blank lines took seconds).
_QUIZ_TEXT_HEADER = re.compile(
    r"\A\s*+(?:[^\n]{0,20}\n\s*+){0,3}\d{4}-\d{2}-\d{2}\s+Papers[ \t]*$", re.MULTILINE
)
_TABLE_HEADER = re.compile(r"^#{1,6}[ \t]+Papers for \d{4}-\d{2}-\d{2}", re.MULTILINE)
_HTML_START = re.compile(
    # Possessive: each comment ends at its first "-->", and backtracking into a run of comments
    # would try exponentially many ways to split it (30 empty comments took minutes).
    r"\A\s*+(?:<!--.*?-->\s*+)*+<(!doctype\s+html|html|head|body|div)\b",
    re.I | re.S,
)


@dataclass(frozen=True)
class ParseResult:
    digests: tuple[Digest, ...]
    warnings: tuple[str, ...] = ()
    errors: tuple[ParseError, ...] = ()  # only with `collect_errors`; else the first is raised


#: What reading one file gave: its digests, or why it gave none.
Outcome = list[Digest] | ParseError

#: Wraps the files `parse_paths` is about to read, e.g. in a progress bar.
Progress = Callable[[Sequence[tuple[str, bool]]], Iterable[tuple[str, bool]]]


def decode(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) to text with '\\n' line endings; anything else is an error."""
    if not data.strip():
        raise ParseError("empty file", source, 1)
    # Checked before NUL bytes: UTF-16 and UTF-32 text is full of them. UTF-32 first: its
    # little-endian BOM starts with UTF-16's.
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise ParseError("UTF-32 text; save the file as UTF-8", source, 1)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError("UTF-16 text; save the file as UTF-8", source, 1)
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ParseError("binary file, not a text digest", source, line)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", source, line
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def detect_format(text: str) -> Format | None:
    """Which digest format `text` is in, or None."""
    if _HTML_START.match(text):
        return "quiz-html"
    if _QUIZ_TEXT_HEADER.match(text):
        return "quiz-text"
    if _TABLE_HEADER.search(text):
        return "markdown-table"
    return None


def check_line_lengths(text: str, source: str, max_line: int = DEFAULT_MAX_LINE) -> None:
    """Refuse `text` if one of its lines is longer than `max_line` characters."""
    if len(text) <= max_line:
        return
    lines = text.split("\n")
    if max(map(len, lines)) <= max_line:
        return
    number, line = next((i, line) for i, line in enumerate(lines, 1) if len(line) > max_line)
    raise ParseError(
        f"line is longer than the {max_line} character limit ({len(line)} characters)",
        source,
        number,
    )


def parse_text(
    text: str, source: str = "<string>", *, max_line: int = DEFAULT_MAX_LINE
) -> list[Digest]:
    """Parse one digest file's text; a markdown file may hold several dated digests."""
    check_line_lengths(text, source, max_line)
    fmt = detect_format(text)
    if fmt is None:
        raise NotADigestError(
            "not a digest: expected a 'YYYY-MM-DD Papers' header (quiz text), "
            "a '## Papers for YYYY-MM-DD' section (markdown table) or a quiz HTML page",
            source,
            1,
        )
    # Imported when first needed: reading quiz text need not load the HTML parser.
    parser: Callable[[str, str], list[Digest]]
    if fmt == "quiz-text":
        from flashcards.parse.quiz_text import parse as parser
    elif fmt == "quiz-html":
        from flashcards.parse.quiz_html import parse as parser
    else:
        from flashcards.parse.markdown_table import parse as parser
    return parser(text, source)


def parse_bytes(
    data: bytes,
    source: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_line: int = DEFAULT_MAX_LINE,
) -> list[Digest]:
    if len(data) > max_bytes:
        raise ParseError(
            f"file is larger than the {max_bytes} byte limit", source, _line_at(data, max_bytes)
        )
    return parse_text(decode(data, source), source, max_line=max_line)


def parse_file(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_line: int = DEFAULT_MAX_LINE
) -> list[Digest]:
    path = Path(path)
    data = read_digest_bytes(path, max_bytes=max_bytes)
    return parse_bytes(data, str(path), max_bytes=max_bytes, max_line=max_line)


def read_digest_bytes(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the digest file `path`; `ParseError` when it cannot be read or is larger
    than `max_bytes`."""
    try:
        with open_regular_file(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            # What the file claims to hold and a byte more: asking for the limit at once costs
            # a buffer of that size per file. Never more than the limit allows, whatever the
            # size claims: a file still being written may hold more than it said.
            data = handle.read(min(size, max_bytes) + 1)
            if size < len(data) <= max_bytes:
                data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}", path) from None
    except NotARegularFile as exc:  # a FIFO, device or socket: reading it may never end
        raise ParseError(str(exc), path) from None
    if len(data) > max_bytes:
        known = f" ({size} bytes)" if size > max_bytes else ""
        raise ParseError(
            f"file is larger than the {max_bytes} byte limit{known}",
            path,
            _line_at(data, max_bytes),
        )
    return data


def _line_at(data: bytes, offset: int) -> int:
    """The 1-based line holding byte `offset` of `data` (where a size limit is crossed)."""
    return data.count(b"\n", 0, offset) + 1


def find_digest_files(directory: Path) -> list[Path]:
    """Candidate digest files under `directory`, recursively, in a stable order.

    Hidden files and folders (`.git`, an interrupted write's `.x.tmp-…`) are not digests; symlinks
    to folders are not followed (pathlib's recursive glob never does), so a link loop cannot make
    the walk endless. A link to a file is read like the file.
    """
    # One scandir per folder (what `Path.rglob` does too), skipping hidden folders instead of
    # walking them, and a stat only for a link: a build lists its inputs several times.
    found: list[Path] = []
    folders = [directory]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except PermissionError:  # as rglob: an unreadable folder holds nothing
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            if _is_folder(entry):
                folders.append(path)
            elif path.suffix.lower() in DIGEST_SUFFIXES and (
                path.is_file() if entry.is_symlink() else entry.is_file(follow_symlinks=False)
            ):
                found.append(path)
    return sorted(found)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """A folder to walk into: not a link to one (as `Path.rglob`)."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


#: Fewer files than this are parsed in this process: starting workers would cost more.
PARALLEL_MIN_FILES = 64


class DigestCache(Protocol):
    """Digests parsed before, by file and the sha256 of its bytes (`buildcache.BuildCache`)."""

    def parsed(self, source: str, sha: str) -> list[Digest] | None:
        """The digests parsed from `source` when its bytes had the hash `sha`, if known."""
        ...

    def encode(self, digests: list[Digest]) -> str:
        """What `remember` keeps of `digests`: made where the file is parsed (a worker)."""
        ...

    def remember(self, source: str, sha: str, digests: str) -> None:
        """Keep `encode`'s text for `source` with bytes of hash `sha`."""
        ...


def parse_paths(
    paths: Iterable[str | Path],
    *,
    stdin: bytes | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_line: int = DEFAULT_MAX_LINE,
    collect_errors: bool = False,
    progress: Progress | None = None,
    read: Callable[[str], list[Digest]] | None = None,
    cache: DigestCache | None = None,
    hashes: Mapping[str, str] | None = None,
) -> ParseResult:
    """Parse files, directories (recursively) and '-' (the `stdin` bytes).

    A file named explicitly must be a digest; inside a directory, files that are not digests are
    skipped with a warning. A file reached twice (named twice, inside two folders given, or
    through a link) is read once. Any other problem raises `ParseError` (the first file's in
    reading order), or with `collect_errors` is kept in `ParseResult.errors` (one per file)
    while the other files are still read, so that a check can name every bad file at once.
    `progress` wraps the list of files to parse (a progress bar, for instance); it must yield
    them all, in order. Many files (`PARALLEL_MIN_FILES`) are parsed in worker processes, one
    per core, with exactly one process's results. `cache` gives the digests of files whose bytes
    it has seen, and keeps those of the others. `read`, if given, replaces parsing each file
    (in this process, without `cache`): the build's reuse of its last digests. `hashes` gives
    the sha256 of files whose bytes the caller has hashed already (the build's fingerprint):
    `cache` is asked by it, without reading such a file here before it is parsed.
    """
    jobs = digest_jobs(paths)
    outcomes: Generator[Outcome, None, None]
    if read is None:
        outcomes = _outcomes(jobs, stdin, max_bytes, max_line, progress, cache, hashes)
    else:
        shown = progress(jobs) if progress is not None else jobs
        outcomes = (_read_with(read, raw, stdin, max_bytes, max_line) for raw, _ in shown)
    digests: list[Digest] = []
    warnings: list[str] = []
    errors: list[ParseError] = []
    with contextlib.closing(outcomes):  # an error raised stops the workers at once
        for (_, in_directory), found in zip(jobs, outcomes, strict=True):
            if isinstance(found, NotADigestError):
                if not in_directory:
                    if not collect_errors:
                        raise found
                    errors.append(found)
                else:
                    warnings.append(f"{found} (skipped)")
                continue
            if isinstance(found, ParseError):
                if not collect_errors:
                    raise found
                errors.append(found)
                continue
            for digest in found:
                warnings.extend(_located(digest.source, w) for w in digest.warnings)
            digests.extend(found)
    return ParseResult(tuple(digests), tuple(warnings), tuple(errors))


def parse_files(
    paths: Sequence[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_line: int = DEFAULT_MAX_LINE,
    cache: DigestCache | None = None,
) -> list[list[Digest] | ParseError]:
    """Each file's digests or parse error, in order, as `parse_paths` reads them (from `cache`
    when it has the file's bytes, in worker processes when there are many)."""
    jobs = [(path, False) for path in paths]
    return list(_outcomes(jobs, None, max_bytes, max_line, None, cache))


def _read_with(
    read: Callable[[str], list[Digest]],
    raw: str,
    stdin: bytes | None,
    max_bytes: int,
    max_line: int,
) -> Outcome:
    try:
        if raw == "-" or not Path(raw).exists():
            data = _job_bytes(raw, stdin, max_bytes)
            return parse_bytes(data, raw, max_bytes=max_bytes, max_line=max_line)
        return read(raw)
    except ParseError as exc:
        return exc


def _job_bytes(raw: str, stdin: bytes | None, max_bytes: int) -> bytes:
    """The bytes of a file `digest_jobs` listed ('-': stdin's)."""
    if raw == "-":
        return stdin or b""
    if not Path(raw).exists():
        raise ParseError("no such file or directory", raw)
    return read_digest_bytes(Path(raw), max_bytes=max_bytes)


#: A file's sha256 (with a cache), its digests or parse error, and (with a cache) the
#: digests' cache text.
_Parsed = tuple[str | None, Outcome, str | None]


def _outcomes(
    jobs: Sequence[tuple[str, bool]],
    stdin: bytes | None,
    max_bytes: int,
    max_line: int,
    progress: Progress | None,
    cache: DigestCache | None,
    hashes: Mapping[str, str] | None = None,
) -> Generator[Outcome, None, None]:
    """Each job's digests or parse error, in order, one at a time: known ones from `cache`,
    the others parsed (in workers when there are many; then every file is parsed before the
    first error is met, which changes nothing but the time)."""
    known: dict[int, Outcome] = {}
    # The files to parse. Those the cache lacks are read again where they are parsed rather
    # than held here meanwhile: an archive's worth of bytes would stay in memory through the
    # build (a worker's copy is freed as soon as it is parsed). Each is keyed by the bytes parsed.
    todo: list[str] = []
    for number, (raw, _) in enumerate(jobs):
        if cache is not None and raw != "-":
            sha = hashes.get(raw) if hashes is not None else None
            if sha is None:
                try:
                    data = _job_bytes(raw, stdin, max_bytes)
                except ParseError as exc:
                    known[number] = exc
                    continue
                sha = hashlib.sha256(data).hexdigest()
            cached = cache.parsed(raw, sha)
            if cached is not None:
                known[number] = cached
                continue
        todo.append(raw)

    def parse_one(raw: str) -> _Parsed:
        try:
            data = _job_bytes(raw, stdin, max_bytes)
            digests = parse_bytes(data, raw, max_bytes=max_bytes, max_line=max_line)
        except ParseError as exc:
            return None, exc, None
        if cache is None or raw == "-":
            return None, digests, None
        return hashlib.sha256(data).hexdigest(), digests, cache.encode(digests)

    parsed = fork_iter(parse_one, todo, minimum=PARALLEL_MIN_FILES)
    try:
        listed = [jobs[n] for n in range(len(jobs)) if n not in known]
        shown = progress(listed) if progress is not None else listed
        results = zip(shown, parsed, strict=True)
        for number, (raw, _) in enumerate(jobs):
            if number in known:
                yield known[number]
                continue
            _, (sha, found, text) = next(results)
            if cache is not None and sha is not None and text is not None:
                cache.remember(raw, sha, text)
            yield found
    finally:
        parsed.close()


def digest_jobs(paths: Iterable[str | Path]) -> list[tuple[str, bool]]:
    """The files `parse_paths` reads, in order: (path, whether it was found in a directory)."""
    jobs: list[tuple[str, bool]] = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        if str(raw) != "-" and Path(raw).is_dir():
            jobs.extend(
                (str(path), True)
                for path in find_digest_files(Path(raw))
                if _first_visit(path, seen)
            )
        elif str(raw) == "-" or _first_visit(Path(raw), seen):
            jobs.append((str(raw), False))
    return jobs


def _first_visit(path: Path, seen: set[tuple[int, int]]) -> bool:
    """Whether the file `path` leads to (links followed) was not visited before; records it."""
    try:
        info = path.stat()
    except OSError:
        return True  # reading it will say what is wrong
    identity = (info.st_dev, info.st_ino)
    if identity in seen:
        return False
    seen.add(identity)
    return True


_LINE_PREFIX = re.compile(r"line (\d+): ")


def _located(source: str, warning: str) -> str:
    """A digest's warning ("line 3: …" or "…") as `path:3: …`, the form errors take too."""
    match = _LINE_PREFIX.match(warning)
    if match is None:
        return f"{source}: {warning}"
    return f"{source}:{match.group(1)}: {warning[match.end() :]}"


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_LINE",
    "PARALLEL_MIN_FILES",
    "DigestCache",
    "ParseResult",
    "Progress",
    "check_line_lengths",
    "decode",
    "detect_format",
    "find_digest_files",
    "parse_bytes",
    "parse_file",
    "parse_files",
    "parse_paths",
    "parse_text",
]
