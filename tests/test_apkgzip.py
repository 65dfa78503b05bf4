"""The package's zip, written by hand: read by zipfile, unzip and Anki, the same bytes with or
without a store of deflated pieces, and a store's damaged or forged pieces never used."""

from __future__ import annotations

import gc
import io
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import pytest
from anki_helpers import fresh_collection, guids, import_package
from helpers import NOW, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from flashcards import build as builder
from flashcards.anki import apkgzip
from flashcards.anki.apkgzip import CHUNK, ZIP_DATE, write_zip
from flashcards.errors import BuildError
from flashcards.plan import plan_adhoc

sys.path.insert(0, str(ROOT / "benchmarks"))
import synthetic


class DictStore:
    """A chunk store in memory, counting what it is asked."""

    def __init__(self) -> None:
        self.pieces: dict[str, bytes] = {}
        self.found = 0
        self.put_count = 0

    def get(self, key: str) -> bytes | None:
        piece = self.pieces.get(key)
        self.found += piece is not None
        return piece

    def put(self, key: str, value: bytes) -> None:
        self.pieces[key] = value
        self.put_count += 1


def _data(size: int, seed: int = 0) -> bytes:
    """Compressible bytes that differ from place to place, like a collection's pages."""
    rng = random.Random(seed)
    words = [b"attention", b"sparse", b"\x00\x00\x01", b"decoder", b"%d" % seed, b"\x1f"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + rng.randbytes(rng.randrange(3))
    return bytes(out[:size])


def _package(tmp_path: Path, data: bytes, store: DictStore | None = None) -> bytes:
    entries = [("collection.anki2", io.BytesIO(data)), ("media", io.BytesIO(b"{}"))]
    write_zip(tmp_path / "p.apkg", entries, store)
    return (tmp_path / "p.apkg").read_bytes()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_zipfile_and_unzip_read_it(tmp_path: Path, size: int) -> None:
    data = _data(size)
    package = _package(tmp_path, data)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.testzip() is None  # every entry's CRC checked
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["collection.anki2", "media"]
        assert all(i.date_time == ZIP_DATE for i in infos)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert all(i.external_attr >> 16 == 0o100644 and i.create_system == 3 for i in infos)
        assert archive.read("collection.anki2") == data
        assert archive.read("media") == b"{}"
    if shutil.which("unzip"):
        result = subprocess.run(
            ["unzip", "-t", str(tmp_path / "p.apkg")], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No errors detected" in result.stdout


def test_the_pieces_compress_nearly_as_well_as_one_stream(tmp_path: Path) -> None:
    """Each piece is primed with the bytes before it: repeats across pieces still shrink."""
    data = _data(CHUNK) * 6
    with zipfile.ZipFile(io.BytesIO(_package(tmp_path, data))) as archive:
        compressed = archive.getinfo("collection.anki2").compress_size
        assert archive.read("collection.anki2") == data
    one_stream = zlib.compressobj(apkgzip.LEVEL, zlib.DEFLATED, -15)
    assert compressed < len(one_stream.compress(data) + one_stream.flush()) * 1.02


def test_a_store_gives_the_same_bytes_and_compresses_only_what_changed(tmp_path: Path) -> None:
    data = _data(10 * CHUNK + 123)
    cold = _package(tmp_path, data)
    store = DictStore()
    assert _package(tmp_path, data, store) == cold
    assert (store.found, store.put_count) == (0, 11 + 1)  # 11 pieces, and the media list
    assert _package(tmp_path, data, store) == cold
    assert (store.found, store.put_count) == (12, 12)

    # One piece changed in the middle and pages appended at the end: that piece, the one it
    # primes, and the new ones are compressed; everything else comes from the store.
    changed = bytearray(data)
    changed[4 * CHUNK + 10 : 4 * CHUNK + 20] = b"0123456789"
    changed += _data(2 * CHUNK, seed=1)
    store.found = store.put_count = 0
    assert _package(tmp_path, bytes(changed), store) == _package(tmp_path, bytes(changed))
    # pieces 4 and 5 (primed by 4), 10 (no longer the last, shorter piece) and 11, 12 are new
    assert (store.found, store.put_count) == (8 + 1, 5)


def _forged_stores(tmp_path: Path, data: bytes) -> list[tuple[DictStore, int]]:
    """Stores whose pieces are wrong in one way, and how many are wrong."""
    store = DictStore()
    _package(tmp_path, data, store)
    other = DictStore()
    _package(tmp_path, _data(len(data), seed=7), other)
    others = dict(zip(store.pieces.values(), other.pieces.values(), strict=True))
    finished = zlib.compressobj(apkgzip.LEVEL, zlib.DEFLATED, -15)
    ending = finished.compress(data[:CHUNK]) + finished.flush()
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bomb.compress(bytes(10**7)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    forgeries = [
        lambda piece: piece[:-1] + b"\x00",  # damaged
        lambda piece: piece[: len(piece) // 2] + apkgzip._SYNC_MARK,  # cut short
        lambda piece: b"garbage, not deflate" + apkgzip._SYNC_MARK,
        lambda piece: others[piece],  # another collection's piece
        # the right bytes but a final block: the stream would end there
        lambda piece: ending,
        lambda piece: zeros,  # ten million bytes: not decoded past the piece's length
    ]
    stores = []
    for forge in forgeries:
        forged = DictStore()
        forged.pieces = {key: forge(piece) for key, piece in store.pieces.items()}
        wrong = sum(forged.pieces[key] != piece for key, piece in store.pieces.items())
        stores.append((forged, wrong))
    return stores


def test_damaged_or_forged_pieces_are_never_used(tmp_path: Path) -> None:
    data = _data(3 * CHUNK + 77)
    cold = _package(tmp_path, data)
    for store, wrong in _forged_stores(tmp_path, data):
        assert _package(tmp_path, data, store) == cold
        assert store.put_count == wrong >= 4  # every wrong piece compressed again and replaced
        assert _package(tmp_path, data, store) == cold


def test_a_deck_too_large_for_a_plain_zip_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apkgzip, "_ZIP32_LIMIT", 300)
    noise = random.Random(0).randbytes
    assert len(_package(tmp_path, b"small")) < 300
    # too much data; a file too large (entries of 77 bytes); too large with its directory
    for data in ([b"x" * 300], [noise(40)] * 4, [noise(40)] * 3):
        entries = [(f"e{n}", io.BytesIO(e)) for n, e in enumerate(data)]
        with pytest.raises(BuildError, match="over 4 GiB"):
            write_zip(tmp_path / "p.apkg", entries)
    assert len(_package(tmp_path, noise(40))) < 300


def _build(folder: Path, inputs: list[Path], *, cache: bool) -> bytes:
    plan = plan_adhoc(inputs, folder / "deck.apkg", cache=cache)
    builder.build(plan, now=NOW)
    return (folder / "deck.apkg").read_bytes()


def _chunk_rows(folder: Path) -> list[tuple[str, bytes]]:
    connection = sqlite3.connect(folder / "deck.cache" / "chunks.sqlite")
    try:
        return connection.execute("SELECT key, value FROM entries ORDER BY key").fetchall()
    finally:
        connection.close()


@pytest.mark.slow
def test_builds_keep_the_pieces_in_the_cache_and_anki_imports_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build keeps its package's pieces beside its other cached results; the next build with
    a new digest compresses only part of its collection, and its package is a cold build's
    and imports into Anki. Damaged pieces and a damaged store are no error."""
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    archive = synthetic.write_archive(tmp_path / "archive", quiz=20, tables=10)
    later = [*archive, synthetic.write_next_digest(tmp_path / "new", quiz=20)]
    assert _build(warm, archive, cache=True) == _build(cold, archive, cache=False)
    first = _chunk_rows(warm)
    assert len(first) > 4 and not (cold / "deck.cache").exists()

    compressed: list[int] = []
    deflate = apkgzip._deflate

    def counting(data: bytes, window: bytes) -> bytes:
        compressed.append(len(data))
        return deflate(data, window)

    monkeypatch.setattr(apkgzip, "_deflate", counting)
    package = _build(warm, later, cache=True)
    monkeypatch.undo()
    assert package == _build(cold, later, cache=False)
    collection = zipfile.ZipFile(io.BytesIO(package)).read("collection.anki2")
    # (A deck this small changes in most of its pieces: its indexes' pages are spread over it.)
    assert 0 < sum(compressed) < len(collection)
    assert {key for key, _ in _chunk_rows(warm)} & {key for key, _ in first}  # kept
    database = sqlite3.connect(":memory:")
    database.deserialize(collection)
    notes = database.execute("SELECT count(*) FROM notes").fetchone()[0]
    database.close()
    with fresh_collection(tmp_path) as col:
        assert import_package(col, warm / "deck.apkg").new == len(guids(col)) == notes > 300

    # Every stored piece damaged, then the store itself: the same package each time.
    connection = sqlite3.connect(warm / "deck.cache" / "chunks.sqlite")
    connection.execute("UPDATE entries SET value = x'0000ffff'")
    connection.commit()
    connection.close()
    (warm / "deck.cache" / "build.json").unlink()  # so that the build runs again
    assert _build(warm, later, cache=True) == package
    (warm / "deck.cache" / "chunks.sqlite").write_bytes(b"not SQLite" * 100)
    (warm / "deck.cache" / "build.json").unlink()
    assert _build(warm, later, cache=True) == package
    assert len(_chunk_rows(warm)) > 1  # made anew


def test_a_build_that_fails_after_its_package_leaves_the_pieces_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pieces of a build reach chunks.sqlite only once its files are written."""
    archive = synthetic.write_archive(tmp_path / "archive", quiz=4, tables=2)
    later = [*archive, synthetic.write_next_digest(tmp_path / "new", quiz=4)]
    package = _build(tmp_path, archive, cache=True)
    before = _chunk_rows(tmp_path)

    def full_disk(files: object) -> None:
        raise BuildError("cannot write: No space left on device", tmp_path)

    monkeypatch.setattr(builder, "replace_files", full_disk)
    with pytest.raises(BuildError):
        _build(tmp_path, later, cache=True)
    monkeypatch.undo()
    gc.collect()  # the failed build's connections, held by the traceback, are closed
    assert _chunk_rows(tmp_path) == before
    assert (tmp_path / "deck.apkg").read_bytes() == package
    assert _build(tmp_path, later, cache=True) != package
    assert _chunk_rows(tmp_path) != before


def _threaded_and_not(
    data: bytes, stored: dict[str, bytes], threads: int
) -> tuple[tuple[bytes, dict[str, bytes]], tuple[bytes, dict[str, bytes]], int]:
    """The package and the store's pieces written with one thread and with `threads`, each
    from a store holding `stored`; how many thread pools the threaded write started."""
    results = []
    pools: list[int] = []
    real_pool = apkgzip.concurrent.futures.ThreadPoolExecutor

    def pool(*args: object, **kwargs: object) -> object:
        pools.append(1)
        return real_pool(*args, **kwargs)

    for count in (1, threads):
        with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as tmp:
            patch.setattr(apkgzip.workers, "cores", lambda count=count: count)
            patch.setattr(apkgzip.concurrent.futures, "ThreadPoolExecutor", pool)
            store = DictStore()
            store.pieces = dict(stored)
            results.append((_package(Path(tmp), data, store), store.pieces))
    return results[0], results[1], len(pools)


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(
        st.one_of(st.binary(max_size=700), st.tuples(st.binary(max_size=40), st.integers(1, 60))),
        max_size=30,
    ),
    change=st.integers(0, 2**16),
    threads=st.integers(2, 4),
)
def test_threads_deflate_to_the_bytes_of_one_thread(
    parts: list[bytes | tuple[bytes, int]], change: int, threads: int
) -> None:
    """Pieces compressed (or taken from the store) by several threads: the same package and
    the same pieces kept as one thread, over random data with repeats (small pieces, so that
    there are many)."""
    data = b"".join(p if isinstance(p, bytes) else p[0] * p[1] for p in parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(apkgzip, "CHUNK", 512)
        patch.setattr(apkgzip, "PARALLEL_MINIMUM", 0)
        # The store holds the pieces of other data: some valid here, some not.
        older = bytearray(data)
        if older:
            older[change % len(older)] ^= 0xFF
        (_, stored), _, _ = _threaded_and_not(bytes(older), {}, 1)
        stored[next(iter(stored))] = b"forged" + apkgzip._SYNC_MARK
        one, several, pools = _threaded_and_not(data, stored, threads)
    assert several == one
    assert pools == 2  # one per entry: the collection and the media list
    with zipfile.ZipFile(io.BytesIO(one[0])) as archive:
        assert archive.read("collection.anki2") == data


def test_a_small_collection_is_deflated_without_threads() -> None:
    """Below `PARALLEL_MINIMUM` (the bundled deck, the tests' decks) no thread is started."""
    small = _data(apkgzip.PARALLEL_MINIMUM - 1)
    one, several, pools = _threaded_and_not(small, {}, 2)
    assert several == one and pools == 0
    large = _data(apkgzip.PARALLEL_MINIMUM)
    one, several, pools = _threaded_and_not(large, {}, 2)
    assert several == one and pools == 1
