"""One version's full record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mvctl.results.records import EvaluationRecord, VersionDetail


@dataclass(frozen=True)
class InputDigest:
    """One file or environment variable a step of the version read: its digest when the
    version was trained, and now."""

    step: str
    kind: Literal["file", "env"]
    name: str
    recorded: str
    current: str | None
    """None: the file is gone (or leads outside the project)."""

    @property
    def changed(self) -> bool:
        return self.current != self.recorded


@dataclass(frozen=True)
class ShowResult:
    version: VersionDetail
    aliases: tuple[str, ...]
    evaluations: tuple[EvaluationRecord, ...] = ()
    """The latest result per dataset of the version as trained now."""
    inputs: tuple[InputDigest, ...] = ()
    """Its lineage beside the working tree: each dep's recorded digest and the current one."""
