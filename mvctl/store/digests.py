"""Digests of the files a plan depends on, with a stat cache so untouched files are not re-read.

A file's digest is reused while its (size, mtime, inode) are unchanged; a touched file with
equal content costs one hash and yields the same digest, so nothing re-runs. Folders and globs
hash to the digest of their sorted (relative path, file digest) pairs.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable
from pathlib import Path

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.store.blobs import hash_file

CACHE_FORMAT = 1
IGNORED_PARTS = frozenset({"__pycache__", ".git", ".mvctl"})
GLOB_CHARS = frozenset("*?[")


class DepMissingError(Exception):
    """A dependency names nothing on disk; the caller knows where it was declared."""

    def __init__(self, dep: str) -> None:
        super().__init__(dep)
        self.dep = dep


class DigestCache:
    """File digests keyed by absolute path, reused while size, mtime and inode are unchanged."""

    def __init__(self, cache_file: Path | None) -> None:
        self.cache_file = cache_file
        self.hashed_files = 0
        self._entries: dict[str, list[object]] = {}
        self._dirty = False
        if cache_file is not None and cache_file.is_file():
            try:
                data = json.loads(cache_file.read_text("utf-8"))
                if data.get("format") == CACHE_FORMAT:
                    self._entries = data["entries"]
            except (OSError, ValueError, KeyError, TypeError):
                self._entries = {}

    def file_digest(self, path: Path) -> str:
        stat = path.stat()
        key = str(path.resolve())
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = self._entries.get(key)
        if entry is not None and entry[:3] == signature:
            return str(entry[3])
        digest = hash_file(path)
        self.hashed_files += 1
        self._entries[key] = [*signature, digest]
        self._dirty = True
        return digest

    def dep_digest(self, root: Path, dep: str) -> str:
        """Digest of a file, folder or glob dependency written relative to ``root``."""
        if GLOB_CHARS & set(dep):
            matches = sorted(glob.glob(dep, root_dir=root, recursive=True))
            files = [m for m in matches if (root / m).is_file() and not _ignored(m)]
            if not files:
                raise DepMissingError(dep)
            return self._tree_digest(root, files)
        path = root / dep
        if path.is_file():
            return self.file_digest(path)
        if path.is_dir():
            files = [
                str(p.relative_to(root).as_posix())
                for p in sorted(path.rglob("*"))
                if p.is_file() and not _ignored(str(p.relative_to(root)))
            ]
            return self._tree_digest(root, files)
        raise DepMissingError(dep)

    def _tree_digest(self, root: Path, files: Iterable[str]) -> str:
        pairs = {Path(f).as_posix(): self.file_digest(root / f) for f in files}
        return "tree:" + sha256_hex(canonical_json(pairs))

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


def dep_exists(root: Path, dep: str) -> bool:
    """Whether a file, folder or glob dependency names anything, without hashing it."""
    if GLOB_CHARS & set(dep):
        return any(
            (root / match).is_file() for match in glob.iglob(dep, root_dir=root, recursive=True)
        )
    return (root / dep).exists()


def _ignored(relative: str) -> bool:
    return bool(IGNORED_PARTS & set(Path(relative).parts)) or relative.endswith(".pyc")
