"""Keep a step's file deps in the store when it runs, so its version can be reproduced.

Before a step runs, every file of its file deps (a folder's files, a glob's matches) is
digested (the project's stat cache spares an untouched file a re-read) and copied into the
store unless a blob with that digest is there already: one existence check, so unchanged code
and data are stored once, however many versions train on them. A dep written with
`snapshot: false` is digested but not copied. The result, the step's *dep files*, is recorded
in the version's lineage and the step's cache entry::

    {"data/": {"kept": true, "files": {"data/a.csv": "sha256:...", ...}}, ...}

The files must be what the plan digested: a dep whose files no longer combine to the digest in
the step's cache key changed since the plan was made (or while the step ran), and the step
fails rather than record files that do not match its key.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mvctl.core.resolve import ResolvedStep
from mvctl.errors import StepFailedError
from mvctl.store.blobs import BlobStore
from mvctl.store.digests import (
    DepMissingError,
    DepOutsideError,
    DigestCache,
    combined_digest,
    dep_files,
)

DepFiles = dict[str, dict[str, Any]]
"""{dep: {"kept": bool, "files": {path relative to the project root: digest}}}."""


class DepSnapshots:
    """Takes the dep files of the steps of one apply; safe to call from the step threads."""

    def __init__(self, root: Path, store: BlobStore, cache: DigestCache) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.store = store
        self.cache = cache
        self._lock = threading.Lock()

    def take(self, step: ResolvedStep) -> DepFiles:
        """Digest the step's file deps, store those it keeps, and return its dep files."""
        taken: DepFiles = {}
        planned: Mapping[str, str] = step.definition["deps"]["files"]
        for dep, digest in planned.items():
            kept = dep not in step.unkept
            files = self._files(step, dep, digest, "since the plan was made")
            for _, real, file_digest in files if kept else ():
                if not self.store.has(file_digest) and self.store.put_file(real) != file_digest:
                    raise _changed(step, dep, "since the plan was made")
            taken[dep] = {"kept": kept, "files": {name: d for name, _, d in files}}
        return taken

    def changed_while_running(self, step: ResolvedStep, taken: DepFiles) -> StepFailedError | None:
        """The failure of a step whose dep changed while it ran (its outputs may not be what
        its key says), or None. Files the stat cache finds untouched are not read again."""
        planned: Mapping[str, str] = step.definition["deps"]["files"]
        try:
            for dep in taken:
                self._files(step, dep, planned[dep], "while the step ran")
        except StepFailedError as changed:
            return changed
        return None

    def _files(
        self, step: ResolvedStep, dep: str, planned: str, when: str
    ) -> list[tuple[str, Path, str]]:
        """(path, resolved path, digest) of each file of ``dep``, which must still combine to
        the ``planned`` digest."""
        try:
            found = dep_files(self.root, self.real_root, dep)
            with self._lock:
                files = [(name, real, self.cache.file_digest(real)) for name, real in found]
        except (DepMissingError, DepOutsideError, OSError) as error:
            raise _changed(step, dep, when) from error
        if combined_digest(dep, [(name, digest) for name, _, digest in files]) != planned:
            raise _changed(step, dep, when)
        return files


def _changed(step: ResolvedStep, dep: str, when: str) -> StepFailedError:
    return StepFailedError(
        f"step {step.name}: dep {dep} changed {when}",
        {"step": step.name, "reason": "dep changed", "dep": dep},
        fix="Run `mvctl plan` again and review it.",
    )
