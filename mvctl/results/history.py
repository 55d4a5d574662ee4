"""Applies and reverts, each with the changes it logged."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.core.recorded import LoggedChange
from mvctl.results.records import ApplyRecord


@dataclass(frozen=True)
class HistoryEntry:
    apply: ApplyRecord
    changes: tuple[LoggedChange, ...]
