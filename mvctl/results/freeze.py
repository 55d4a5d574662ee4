"""What `mvctl freeze` pinned (or would pin, with --check), where, and what it left alone."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.core.freeze import FreezeForm
from mvctl.core.plan import FieldChange


@dataclass(frozen=True)
class FrozenVersion:
    """One version whose block now declares its recorded recipe."""

    model: str
    label: str
    file: str
    """The config file that declares the model, as errors show it."""
    form: FreezeForm
    """params: recorded values pinned as overrides; pipeline: the version's own pipeline."""
    changes: tuple[FieldChange, ...]
    """The recipe changes it undoes for this version (recorded -> declared before freeze)."""


@dataclass(frozen=True)
class FreezeSkip:
    """A version in conflict that freeze left alone, and why."""

    target: str
    reason: str


@dataclass(frozen=True)
class FileEdit:
    file: str
    diff: str
    """The edit as a unified diff."""


@dataclass(frozen=True)
class FreezeResult:
    check: bool
    """--check: nothing was written, whatever would be."""
    versions: tuple[FrozenVersion, ...]
    skipped: tuple[FreezeSkip, ...]
    edits: tuple[FileEdit, ...]

    @property
    def written(self) -> bool:
        return bool(self.edits) and not self.check
