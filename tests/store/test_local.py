"""The local store and the digest cache: verified reads, atomic writes, and no wasted hashing."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from mvctl.errors import DigestMismatchError, NotFoundError, StoreError
from mvctl.store.blobs import LocalStore, hash_file
from mvctl.store.digests import DepOutsideError, DigestCache


def test_round_trip_list_and_delete(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    digest = store.put_file(source)
    assert (
        digest == "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest() == hash_file(source)
    )
    log = store.put_bytes(b"log")
    out = tmp_path / "out" / "model.bin"
    store.get_file(digest, out)
    assert out.read_bytes() == source.read_bytes()
    assert sorted(store.list()) == sorted([digest, log])
    assert list((tmp_path / "store" / "tmp").iterdir()) == []  # no temporary left behind
    store.delete(log)
    store.delete(log)  # already gone: fine
    assert list(store.list()) == [digest] and not store.has(log)


def test_large_files_hash_through_mmap_to_the_same_digest(tmp_path: Path) -> None:
    from mvctl.store.blobs import MMAP_FROM

    for size in (0, 5, MMAP_FROM - 1, MMAP_FROM, MMAP_FROM + 12_345_678):
        path = tmp_path / f"f{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        assert hash_file(path) == "sha256:" + hashlib.sha256(data).hexdigest(), size


def test_a_corrupt_blob_is_named_and_never_handed_out(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    digest = store.put_bytes(b"the real model")
    blob = tmp_path / "store" / "objects" / digest[7:9] / digest[9:]
    blob.write_bytes(b"bit rot")
    dest = tmp_path / "out" / "restored.bin"
    with pytest.raises(DigestMismatchError, match=f"blob {digest} .* is corrupt") as caught:
        store.get_file(digest, dest)
    assert str(blob) in str(caught.value) and not dest.exists()
    assert list(dest.parent.iterdir()) == []  # the partial copy is gone too
    dest.write_bytes(b"the copy from before")
    with pytest.raises(DigestMismatchError):
        store.get_file(digest, dest)
    assert dest.read_bytes() == b"the copy from before"
    with pytest.raises(DigestMismatchError):
        store.get_bytes(digest)


def serve_once(fifo: Path, content: bytes) -> threading.Thread:
    """Make ``fifo`` a named pipe that hands ``content`` to its first reader, then no one: a
    second open of it waits for a writer that never comes."""
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(content)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


@pytest.mark.parametrize("read", ["get_file", "get_bytes"])
def test_delivery_reads_the_blob_through_one_open(tmp_path: Path, read: str) -> None:
    """What is delivered is what was hashed: the blob is opened once and its bytes are hashed
    as they are copied. The blob here is a pipe that can be read once, so a store that hashed
    the blob and then opened it again to copy it would wait on the second open; the test then
    feeds that open other bytes, as a swap between the check and the copy would. A real swap
    cannot be raced deterministically; this proves the single read it relies on."""
    store = LocalStore(tmp_path / "store")
    real = b"the verified model" * 10_000
    digest = store.put_bytes(real)
    blob = tmp_path / "store" / "objects" / digest[7:9] / digest[9:]
    blob.unlink()
    writer = serve_once(blob, real)
    dest = tmp_path / "out" / "model.bin"
    delivered: list[bytes] = []

    def deliver() -> None:
        if read == "get_file":
            store.get_file(digest, dest)
            delivered.append(dest.read_bytes())
        else:
            delivered.append(store.get_bytes(digest))

    reader = threading.Thread(target=deliver, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():
        with blob.open("wb") as swap:  # the second open: give it what a swap would
            swap.write(b"swapped in after the check")
        reader.join(timeout=30)
        pytest.fail(f"{read} opened the blob a second time and got {delivered!r}")
    writer.join(timeout=30)
    assert delivered == [real]


def test_a_missing_blob_is_not_found(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    absent = "sha256:" + "0" * 64
    with pytest.raises(NotFoundError, match="missing from the store"):
        store.verify(absent)
    assert list(store.list()) == []


def test_untouched_files_are_not_hashed_and_a_touched_one_once(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    cache_file = tmp_path / "cache" / "digests.json"
    first = DigestCache(cache_file)
    digest = first.dep_digest(tmp_path, "data.csv")
    first.save()
    assert first.hashed_files == 1

    again = DigestCache(cache_file)
    assert again.dep_digest(tmp_path, "data.csv") == digest and again.hashed_files == 0

    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = DigestCache(cache_file)
    assert touched.dep_digest(tmp_path, "data.csv") == digest and touched.hashed_files == 1

    data.write_text("a,b\n1,3\n")
    changed = DigestCache(cache_file)
    assert changed.dep_digest(tmp_path, "data.csv") != digest


def test_check_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.check_writable()
    assert list(store.list()) == []
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


def test_check_writable_refuses_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = LocalStore(tmp_path / "file" / "store")
    with pytest.raises(StoreError, match=r"cannot write in the store folder .*Not a directory"):
        store.check_writable()


def test_dep_digest_refuses_a_link_out_of_the_root_before_reading_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("secret")
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "in.csv").write_text("fine")
    (root / "data" / "out.csv").symlink_to(outside)
    cache = DigestCache(None)
    for dep in ("data", "data/*.csv", "data/out.csv"):
        with pytest.raises(DepOutsideError) as raised:
            cache.dep_digest(root, dep)
        assert (raised.value.found, raised.value.real) == ("data/out.csv", outside)
    assert cache.hashed_files == 0
    assert cache.dep_digest(root, "data/in.csv") == hash_file(root / "data" / "in.csv")
