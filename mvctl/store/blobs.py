"""Content-addressed blobs in a local folder: ``objects/ab/cdef...`` named by sha256.

Writes go to a temporary name in the same folder and are renamed into place only when
complete, so a killed writer never leaves a blob that a state row could name half-written.
Every read verifies the digest; a corrupt blob is an error naming it.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from mvctl import faults
from mvctl.errors import DigestMismatchError, NotFoundError, StoreError

CHUNK = 1024 * 1024
MMAP_FROM = 16 * CHUNK
"""Files this large are hashed through mmap (no copy), smaller ones read into a buffer."""
MAP_SLICE = 8 * CHUNK
DIGEST_PREFIX = "sha256:"


class BlobStore(Protocol):
    """What apply needs from a store, whatever its backend."""

    display: str

    def put_file(self, path: Path) -> str: ...
    def put_bytes(self, data: bytes) -> str: ...
    def has(self, digest: str) -> bool: ...
    def get_file(self, digest: str, dest: Path) -> None: ...
    def get_bytes(self, digest: str) -> bytes: ...
    def verify(self, digest: str) -> None: ...
    def check_writable(self) -> None:
        """Fail now, with the fix, if blobs cannot be written: before apply trains anything."""
        ...

    def location(self, digest: str) -> str:
        """Where the blob lives (a path, an s3:// URL), for a message that says what to delete."""
        ...

    def list(self) -> Iterator[str]:
        """Every digest in the store (for `mvctl store gc`), in no particular order."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob; one that is already gone is not an error."""
        ...


def hash_file(path: Path) -> str:
    """sha256 of a file: a large one hashed straight from the page cache through mmap, others
    read in large blocks into one reused buffer.

    The first hash of a big dataset should run at hashlib's own speed; reading it copies every
    byte once more, which costs about a fifth of that, so files from MMAP_FROM up are mapped
    instead. A mapped file that shrinks while it is read would kill the process (SIGBUS), so
    its size is checked before each slice, and one that shrank is read the ordinary way.
    """
    with path.open("rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size >= MMAP_FROM:
            mapped = _hash_mapped(handle.fileno(), size)
            if mapped is not None:
                return mapped
            handle.seek(0)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        digest = hashlib.sha256()
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return DIGEST_PREFIX + digest.hexdigest()


def _hash_mapped(fd: int, size: int) -> str | None:
    """The digest of the first ``size`` bytes through mmap; None if mapping fails or the file
    shrank meanwhile."""
    try:
        mapped = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    digest = hashlib.sha256()
    with mapped:
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mapped)
        try:
            for start in range(0, size, MAP_SLICE):
                if os.fstat(fd).st_size < size:
                    return None
                digest.update(view[start : start + MAP_SLICE])
        finally:
            view.release()
    return DIGEST_PREFIX + digest.hexdigest()


def hex_of(digest: str) -> str:
    if not digest.startswith(DIGEST_PREFIX) or len(digest) != len(DIGEST_PREFIX) + 64:
        raise StoreError(f"'{digest}' is not a sha256 digest")
    return digest[len(DIGEST_PREFIX) :]


class LocalStore:
    """A blob store in a local folder (the default: `.mvctl/store`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.display = str(root)

    def _path(self, digest: str) -> Path:
        hexdigest = hex_of(digest)
        return self.root / "objects" / hexdigest[:2] / hexdigest[2:]

    def _temp_file(self, folder_name: str = "tmp") -> tuple[int, str]:
        """A new file in a folder of the store (created if need be): (descriptor, path)."""
        folder = self.root / folder_name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=folder, prefix="put-")
        except OSError as error:
            raise StoreError(
                f"cannot write in the store folder {folder}: {error.strerror or error}",
                fix="Check the path, its permissions and free space, or set `store:` / "
                "MVCTL_STORE to a folder you can write.",
            ) from error

    def put_file(self, path: Path) -> str:
        """Copy a file in, hashing while copying; returns its digest."""
        digest = hashlib.sha256()
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        handle, temp_name = self._temp_file()
        try:
            with os.fdopen(handle, "wb") as out, path.open("rb", buffering=0) as source:
                while count := source.readinto(buffer):
                    digest.update(view[:count])
                    out.write(view[:count])
                out.flush()
                os.fsync(out.fileno())
            return self._commit(Path(temp_name), DIGEST_PREFIX + digest.hexdigest())
        except OSError as error:
            Path(temp_name).unlink(missing_ok=True)
            raise StoreError(f"cannot write {path} into the store {self.root}: {error}") from error

    def put_bytes(self, data: bytes) -> str:
        digest = DIGEST_PREFIX + hashlib.sha256(data).hexdigest()
        if self.has(digest):
            return digest
        handle, temp_name = self._temp_file()
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._commit(Path(temp_name), digest)
        except OSError as error:
            Path(temp_name).unlink(missing_ok=True)
            raise StoreError(f"cannot write a blob into the store {self.root}: {error}") from error

    def _commit(self, temp: Path, digest: str) -> str:
        faults.reached("blob_written")
        final = self._path(digest)
        if final.exists():
            temp.unlink()
            return digest
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        return digest

    def has(self, digest: str) -> bool:
        try:
            return self._path(digest).is_file()
        except OSError as error:  # a store path too long, a loop of links
            raise StoreError(
                f"cannot read the store folder {self.root}: {error.strerror or error}",
                fix="Set `store:` / MVCTL_STORE to a folder you can read.",
            ) from error

    def location(self, digest: str) -> str:
        return str(self._path(digest))

    def check_writable(self) -> None:
        """Create and remove a file where writes are staged and where blobs land."""
        try:
            for folder_name in ("tmp", "objects"):
                handle, name = self._temp_file(folder_name)
                os.close(handle)
                os.unlink(name)
        except (OSError, StoreError) as error:
            reason = (error.strerror or str(error)) if isinstance(error, OSError) else error.what
            raise StoreError(
                f"the store {self.root} cannot be written ({reason}), so nothing apply trains "
                "could be kept",
                fix="Make the folder writable by this user, or set `store:` / MVCTL_STORE to a "
                "writable store; nothing was run.",
            ) from error

    def verify(self, digest: str) -> None:
        path = self._path(digest)
        if not path.is_file():
            raise self._missing(digest)
        self._check_digest(digest, hash_file(path))

    def get_file(self, digest: str, dest: Path) -> None:
        """Copy a blob out to ``dest``, hashing the bytes as they are copied from one open of
        the blob: ``dest`` appears (renamed from a temporary file) only when they match the
        digest, so a blob swapped or corrupted at any moment is never delivered."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
        )
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out, self._open(digest) as source:
                hasher = hashlib.sha256()
                buffer = bytearray(CHUNK)
                view = memoryview(buffer)
                while count := source.readinto(buffer):
                    hasher.update(view[:count])
                    out.write(view[:count])
            self._check_digest(digest, DIGEST_PREFIX + hasher.hexdigest())
            os.replace(temp, dest)
        except OSError as error:
            raise StoreError(f"cannot copy blob {digest} to {dest}: {error}") from error
        finally:
            temp.unlink(missing_ok=True)

    def get_bytes(self, digest: str) -> bytes:
        """The blob's bytes, read once and checked against the digest before they are returned."""
        with self._open(digest) as source:
            data = source.read()
        self._check_digest(digest, DIGEST_PREFIX + hashlib.sha256(data).hexdigest())
        return data

    def _open(self, digest: str) -> io.FileIO:
        try:
            return self._path(digest).open("rb", buffering=0)
        except FileNotFoundError as error:
            raise self._missing(digest) from error
        except OSError as error:
            raise StoreError(
                f"cannot read blob {digest} from the store {self.root}: {error.strerror}"
            ) from error

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"blob {digest} is missing from the store {self.root}",
            fix="Restore it from a backup or re-run the apply that produced it.",
        )

    def _check_digest(self, digest: str, actual: str) -> None:
        if actual != digest:
            raise DigestMismatchError(
                f"blob {digest} in the store {self.root} is corrupt (its content hashes to {actual})",
                fix=f"Delete {self._path(digest)} and re-run `mvctl apply` to rebuild it.",
            )

    def list(self) -> Iterator[str]:
        objects = self.root / "objects"
        if not objects.is_dir():
            return
        for folder in sorted(objects.iterdir()):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for blob in sorted(folder.iterdir()):
                name = folder.name + blob.name
                if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
                    yield DIGEST_PREFIX + name

    def delete(self, digest: str) -> None:
        try:
            self._path(digest).unlink(missing_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot delete blob {digest} from the store {self.root}: {error.strerror}",
                fix="Check the store folder's permissions.",
            ) from error
