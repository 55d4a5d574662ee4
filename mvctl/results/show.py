"""One version's full record."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.results.records import EvaluationRecord, VersionDetail


@dataclass(frozen=True)
class ShowResult:
    version: VersionDetail
    aliases: tuple[str, ...]
    evaluations: tuple[EvaluationRecord, ...] = ()
    """The latest result per dataset of the version as trained now."""
