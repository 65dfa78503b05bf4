"""The package's zip file, written here rather than by `zipfile` so that the collection's deflated
bytes can be reused from the last build (`zipfile` can only compress what it is given).

**Deflate in pieces.** The collection is deflated in pieces of `CHUNK` bytes, as pigz does to
compress in parallel: each piece by a fresh compressor primed with the `WINDOW` bytes before it
(the decoder has them already, so back-references into them are valid) and ended by a sync
flush (an empty stored block, so the next piece starts on a byte boundary); one empty final
block ends the stream. A piece's bytes thus depend only on the level, zlib, its own bytes and
the bytes before it, so a `ChunkStore` keyed by those hands back, verified, the pieces of every
place of the collection that did not change since the last build. The priming keeps the
package within 0.6% of one stream's size (ending each piece with a full flush and no priming
lost 13% at 64 KiB pieces). With or without a store, the same collection gives the same bytes.
Being independent, the pieces of a large collection are compressed by a thread per core, and
still give those bytes.

**The container** is the smallest zip Anki and every unzip read: a local header and the data of
each entry, then the central directory and its end record. The header is written again once
the data is (the file is seekable), so there is no data descriptor; no zip64 either (a
collection over 4 GiB, some two million notes, is refused). Entries are dated 1980-01-01, as
`zipfile` wrote them before.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import hashlib
import io
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from flashcards import workers
from flashcards.errors import BuildError

#: Deflate level, chosen by measurement on a 37,000-note archive (benchmarks/archive.py; 78 MB
#: collection): level 6 packs it to 13.65 MB in 1.6 s of CPU, level 9 to 13.59 MB in 2.9 s.
LEVEL = 6
#: Bytes per deflated piece, chosen by measurement (README "Performance"): the pieces of a
#: collection that one new digest changes, and the work per piece, both grow with it.
CHUNK = 64 * 1024
#: Deflate's window: how far back a piece's priming reaches.
WINDOW = 32 * 1024
#: Entries at least this large are deflated by a thread per core (smaller ones, such as the
#: bundled deck's and the tests', by the calling thread alone): 16 pieces.
PARALLEL_MINIMUM = 16 * CHUNK
#: Pieces in flight per thread: enough that the threads need not wait for the calling thread
#: to hand them the next ones (on a busy machine it may not run at once), few enough (1 MiB of
#: data for two threads) to keep memory bounded.
AHEAD = 8

#: An empty final block (fixed Huffman codes): the end of a stream of sync-flushed pieces.
_FINAL_BLOCK = b"\x03\x00"
#: How a sync flush ends a piece: an empty stored block.
_SYNC_MARK = b"\x00\x00\xff\xff"

_ZIP32_LIMIT = 0xFFFFFFFF
#: Date written on every entry (the earliest a zip can hold).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_DOS_DATE = (ZIP_DATE[0] - 1980) << 9 | ZIP_DATE[1] << 5 | ZIP_DATE[2]
_DOS_TIME = ZIP_DATE[3] << 11 | ZIP_DATE[4] << 5 | ZIP_DATE[5] // 2
_VERSION = 20  # deflate needs zip 2.0
_MADE_BY = (3 << 8) | _VERSION  # Unix, so that the permissions below are read
_PERMISSIONS = 0o100644 << 16  # a regular file, rw-r--r--

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


class ChunkStore(Protocol):
    """Deflated pieces by key, kept from one build to the next (`flashcards.buildcache`).

    Its data is not trusted: every piece is checked before use."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...


def write_zip(
    target: Path, entries: Sequence[tuple[str, BinaryIO]], store: ChunkStore | None = None
) -> None:
    """Write the zip of `entries` (name and the file to read its data from, in the order given)
    to the new file `target`, each deflated in pieces; `store` gives and keeps pieces (see the
    module docstring). The data goes straight to the file: nothing is held whole in memory."""
    central: list[bytes] = []
    with target.open("wb") as out:
        for name, source in entries:
            encoded = name.encode("ascii")
            offset = out.tell()
            out.write(bytes(_LOCAL.size) + encoded)  # the header, once CRC and sizes are known
            crc, size = _deflate_into(out, source, store)
            compressed = out.tell() - offset - _LOCAL.size - len(encoded)
            if max(size, out.tell()) >= _ZIP32_LIMIT:
                raise BuildError("the deck is too large for a package (over 4 GiB)")
            # version needed, flags, method (8: deflate), time, date, CRC-32, compressed size,
            # size, name length, extra field length
            fields = (_VERSION, 0, 8, _DOS_TIME, _DOS_DATE, crc, compressed, size, len(encoded), 0)
            out.seek(offset)
            out.write(_LOCAL.pack(0x04034B50, *fields))
            out.seek(0, io.SEEK_END)
            # version made by, the local header's fields, comment length, first disk, internal
            # attributes, external attributes (Unix mode), offset of the local header
            central += [
                _CENTRAL.pack(0x02014B50, _MADE_BY, *fields, 0, 0, 0, _PERMISSIONS, offset),
                encoded,
            ]
        start = out.tell()
        out.write(b"".join(central))
        size = out.tell() - start
        if out.tell() >= _ZIP32_LIMIT:
            raise BuildError("the deck is too large for a package (over 4 GiB)")
        # this disk, the directory's first disk, entries on this disk, entries, directory size,
        # directory offset, comment length
        count = len(entries)
        out.write(_END.pack(0x06054B50, 0, 0, count, count, size, start, 0))


def _deflate_into(out: BinaryIO, source: BinaryIO, store: ChunkStore | None) -> tuple[int, int]:
    """Write `source`'s data to `out` deflated in pieces, each taken from `store` when it holds
    a valid one for the same place, else compressed (and put there); its CRC-32 and size.

    A large entry's pieces are checked and compressed by a thread per core (zlib lets go of the
    GIL while it works): each piece's bytes depend only on its own data and window, so the
    threads give the bytes one thread gives, written in order. The store is only used here, in
    the calling thread (a SQLite connection belongs to the thread that opened it)."""
    threads = workers.cores() if _remaining(source) >= PARALLEL_MINIMUM else 1
    if threads < 2:
        return _write_pieces(out, source, store, lambda *job: functools.partial(_piece, *job))
    with concurrent.futures.ThreadPoolExecutor(threads, "flashcards-deflate") as pool:
        return _write_pieces(
            out, source, store, lambda *job: pool.submit(_piece, *job).result, ahead=AHEAD * threads
        )


#: A piece's deflated bytes and whether they were compressed here (not taken from the store).
_Piece = tuple[bytes, bool]


def _write_pieces(
    out: BinaryIO,
    source: BinaryIO,
    store: ChunkStore | None,
    start: Callable[[bytes, bytes, bytes | None], Callable[[], _Piece]],
    *,
    ahead: int = 0,
) -> tuple[int, int]:
    """`_deflate_into`, with `start(data, window, stored)` starting the work on a piece and
    giving the function that waits for it: up to `ahead` pieces are started before the oldest
    is waited for and written (so memory stays bounded)."""
    crc = size = 0
    window = b""  # the last WINDOW bytes before the piece: they prime its compressor
    digest = b""  # the sha256 of the piece before (when there is a store)
    running: collections.deque[tuple[str, Callable[[], _Piece]]] = collections.deque()

    def finish() -> None:
        key, result = running.popleft()
        piece, fresh = result()
        if fresh and store is not None:
            store.put(key, piece)
        out.write(piece)

    while data := source.read(CHUNK):
        crc = zlib.crc32(data, crc)
        size += len(data)
        key, stored = "", None
        if store is not None:
            before, digest = digest, hashlib.sha256(data).digest()
            key = _key(before, digest)
            stored = store.get(key)
        running.append((key, start(data, window, stored)))
        if len(running) > ahead:
            finish()
        window = data[-WINDOW:]
    while running:
        finish()
    out.write(_FINAL_BLOCK)
    return crc, size


def _piece(data: bytes, window: bytes, stored: bytes | None) -> _Piece:
    """The piece of `data` primed with `window`: `stored` when it is valid (not damaged or
    forged), else compressed here."""
    if stored is not None and _valid(stored, window, data):
        return stored, False
    return _deflate(data, window), True


def _remaining(source: BinaryIO) -> int:
    """How many bytes `source` holds from where it is (0 when it cannot tell)."""
    try:
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
    except (OSError, ValueError):
        return 0
    return end - here


#: What, besides the bytes, decides a piece's compressed bytes.
_PARAMETERS = f"deflate {LEVEL} {CHUNK} {WINDOW} zlib {zlib.ZLIB_RUNTIME_VERSION}\0".encode()


def _key(before: bytes, digest: bytes) -> str:
    """The store's key of a piece of sha256 `digest`: everything its compressed bytes depend
    on. `before` is the sha256 of the piece before it (empty for the first piece), whose end
    primes this one."""
    return hashlib.sha256(_PARAMETERS + before + digest).hexdigest()


def _deflate(data: bytes, window: bytes) -> bytes:
    if window:
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15, zdict=window)
    else:
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _valid(piece: bytes, window: bytes, data: bytes) -> bool:
    """Whether a stored piece decodes, after `window`, to exactly `data` and ends where a piece
    must (on a block boundary, with no final block), so the stream it joins stays valid.
    Decoding costs a fraction of compressing (about a tenth)."""
    if not piece.endswith(_SYNC_MARK):
        return False
    decoder = zlib.decompressobj(-15, zdict=window) if window else zlib.decompressobj(-15)
    try:
        # At most one byte more than expected is decoded: a forged piece cannot inflate to more.
        decoded = decoder.decompress(piece + _FINAL_BLOCK, len(data) + 1)
    except zlib.error:
        return False
    return decoded == data and decoder.eof and not decoder.unused_data
