"""Paths the configuration names stay inside the project, judged by their text alone.

Deps, include patterns, artifact files and evaluation data are relative to the project root;
step outputs are names inside the step's output folder. A path that is absolute or climbs out
with ``..`` would let a reviewed config read (and echo) files elsewhere on the machine, or a
cache restore write over them. These checks are pure, so the spec checks and the applier
share them; whether a path that reads well leads outside through a symlink is a question for
the disk, asked where the files are read (``mvctl.store.digests``, the loader's includes).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_path_problem(path: str) -> str | None:
    """Why a path relative to the project root leaves the project by its text, or None."""
    if not path:
        return "is empty"
    if "\0" in path:
        return "holds a NUL character"
    if path.startswith("/"):
        return "is absolute"
    if os.path.normpath(path).split("/", 1)[0] == "..":
        return "climbs out of the project with '..'"
    return None


def output_name_problem(name: str) -> str | None:
    """Why a step output name is not a plain path inside the output folder, or None.

    Sub-folders are allowed (``reports/metrics.json``); every part must be a real name, so
    two spellings of one file (``./a``, ``a//b``) cannot both be declared.
    """
    if not name:
        return "is empty"
    if "\0" in name:
        return "holds a NUL character"
    if name.startswith("/"):
        return "is absolute"
    parts = name.split("/")
    if ".." in parts:
        return "climbs out of the output folder with '..'"
    if "" in parts or "." in parts:
        return "has an empty or '.' part"
    return None


def is_inside(real: Path | str, real_root: Path | str) -> bool:
    """Whether a resolved path is the resolved root or below it."""
    path, root = str(real), str(real_root)
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)
