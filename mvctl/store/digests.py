"""Digests of the files a plan depends on, with a stat cache so untouched files are not re-read.

A file's digest is reused while its (size, mtime, inode) are unchanged; a touched file with
equal content costs one hash and yields the same digest, so nothing re-runs. Folders and globs
hash to the digest of their sorted (relative path, file digest) pairs.

Every file is resolved (symlinks followed) and must lie inside the project: a dep that leads
elsewhere is refused before a byte of it is read.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from pathlib import Path

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.spec.paths import is_inside
from mvctl.store.blobs import hash_file

CACHE_FORMAT = 1
IGNORED_PARTS = frozenset({"__pycache__", ".git", ".mvctl"})
GLOB_CHARS = frozenset("*?[")


class DepMissingError(Exception):
    """A dependency names nothing on disk; the caller knows where it was declared."""

    def __init__(self, dep: str) -> None:
        super().__init__(dep)
        self.dep = dep


class DepOutsideError(Exception):
    """A dependency leads out of the project through a symlink: ``found`` (relative to the
    root) resolves to ``real``. Nothing of it was read."""

    def __init__(self, dep: str, found: str, real: Path) -> None:
        super().__init__(dep)
        self.dep = dep
        self.found = found
        self.real = real


class DigestCache:
    """File digests keyed by absolute path, reused while size, mtime and inode are unchanged."""

    def __init__(self, cache_file: Path | None) -> None:
        self.cache_file = cache_file
        self.hashed_files = 0
        self._entries: dict[str, list[object]] = {}
        self._dirty = False
        self._real_roots: dict[Path, Path] = {}
        if cache_file is not None and cache_file.is_file():
            try:
                data = json.loads(cache_file.read_text("utf-8"))
                if data.get("format") == CACHE_FORMAT:
                    self._entries = data["entries"]
            except (OSError, ValueError, KeyError, TypeError):
                self._entries = {}

    def file_digest(self, path: Path) -> str:
        return self._digest(path.resolve())

    def _digest(self, real: Path) -> str:
        stat = real.stat()
        key = str(real)
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = self._entries.get(key)
        if entry is not None and entry[:3] == signature:
            return str(entry[3])
        digest = hash_file(real)
        self.hashed_files += 1
        self._entries[key] = [*signature, digest]
        self._dirty = True
        return digest

    def dep_digest(self, root: Path, dep: str) -> str:
        """Digest of a file, folder or glob dependency written relative to ``root``.

        Raises DepMissingError when it names nothing, DepOutsideError when it or a file it
        names resolves outside ``root``: a project's digests never read other files.
        """
        real_root = self._real_roots.get(root)
        if real_root is None:
            real_root = self._real_roots[root] = root.resolve()
        files = dep_files(root, real_root, dep)
        return combined_digest(dep, [(name, self._digest(real)) for name, real in files])

    def save(self) -> None:
        """Write the cache back if anything was hashed; failures only cost a re-hash later."""
        if not self._dirty or self.cache_file is None:
            return
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            temp = self.cache_file.with_name(self.cache_file.name + f".{os.getpid()}.tmp")
            temp.write_text(json.dumps({"format": CACHE_FORMAT, "entries": self._entries}), "utf-8")
            os.replace(temp, self.cache_file)
            self._dirty = False
        except OSError:
            return


def combined_digest(dep: str, file_digests: Sequence[tuple[str, str]]) -> str:
    """The digest of a dep from its files' (path relative to the root, digest): a file dep's is
    its file's; a folder's or a glob's, the digest of the sorted pairs."""
    if len(file_digests) == 1 and file_digests[0][0] == dep and not GLOB_CHARS & set(dep):
        return file_digests[0][1]  # a file; a folder's files are below it
    pairs = {Path(name).as_posix(): digest for name, digest in file_digests}
    return "tree:" + sha256_hex(canonical_json(pairs))


def dep_files(root: Path, real_root: Path, dep: str) -> list[tuple[str, Path]]:
    """The files a dependency names, as (path relative to ``root``, resolved path), sorted.

    A file dep is itself; a folder, the files below it; a glob, the files it matches. Raises
    DepMissingError when there are none (an empty folder is no error), DepOutsideError when
    the dep or any of its files resolves outside ``real_root``.
    """
    if GLOB_CHARS & set(dep):
        matches = sorted(glob.glob(dep, root_dir=root, recursive=True))
        names = [m for m in matches if not _ignored(m) and (root / m).is_file()]
        if not names:
            raise DepMissingError(dep)
        return [(name, _inside(root, real_root, dep, name)) for name in names]
    real = _inside(root, real_root, dep, dep)
    if real.is_file():
        return [(dep, real)]
    if not real.is_dir():
        raise DepMissingError(dep)
    folder = root / dep
    names = [
        str(path.relative_to(root).as_posix())
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not _ignored(str(path.relative_to(root)))
    ]
    return [(name, _inside(root, real_root, dep, name)) for name in names]


def _inside(root: Path, real_root: Path, dep: str, name: str) -> Path:
    real = (root / name).resolve()
    if not is_inside(real, real_root):
        raise DepOutsideError(dep, name, real)
    return real


def _ignored(relative: str) -> bool:
    return bool(IGNORED_PARTS & set(Path(relative).parts)) or relative.endswith(".pyc")
